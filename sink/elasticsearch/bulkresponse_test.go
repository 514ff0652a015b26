package elasticsearch

import (
	"strings"
	"testing"
)

// bulkResponse is a filtered bulk response of n accepted index actions,
// as Elasticsearch sends it.
func bulkResponse(n int) []byte {
	return []byte(`{"items":[` + strings.Repeat(`{"index":{"status":201}},`, n-1) + `{"index":{"status":201}}]}`)
}

// BenchmarkBulkResponse reads the response of a full bulk request
// (1,000 actions, the default max_actions), all accepted.
func BenchmarkBulkResponse(b *testing.B) {
	body := bulkResponse(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseBulkItems(body, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAcceptedItems checks that the canonical reading gives what
// encoding/json gives, and that it declines every other body.
func TestAcceptedItems(t *testing.T) {
	for _, c := range []struct {
		name, body string
		n          int
		fast       bool // read without encoding/json
	}{
		{"one", `{"items":[{"index":{"status":201}}]}`, 1, true},
		{"mixed actions and statuses", `{"items":[{"index":{"status":200}},{"delete":{"status":404}},{"create":{"status":429}},{"update":{"status":503}}]}`, 4, true},
		{"a thousand", string(bulkResponse(1000)), 1000, true},
		{"an item error", `{"items":[{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"x"}}}]}`, 1, false},
		{"fewer items", `{"items":[{"index":{"status":201}}]}`, 2, false},
		{"more items", `{"items":[{"index":{"status":201}},{"index":{"status":201}}]}`, 1, false},
		{"no items", `{"items":[]}`, 0, false},
		{"whitespace", `{"items":[{"index":{"status":201}}]} `, 1, false},
		{"leading zero", `{"items":[{"index":{"status":0201}}]}`, 1, false},
		{"four digits", `{"items":[{"index":{"status":2010}}]}`, 1, false},
		{"zero", `{"items":[{"index":{"status":0}}]}`, 1, false},
		{"a string status", `{"items":[{"index":{"status":"201"}}]}`, 1, false},
		{"a float status", `{"items":[{"index":{"status":2.01e2}}]}`, 1, false},
		{"upper case", `{"ITEMS":[{"Index":{"STATUS":201}}]}`, 1, false},
		{"two actions in an item", `{"items":[{"index":{"status":201},"delete":{"status":500}}]}`, 1, false},
		{"an escaped action", `{"items":[{"ind\u0065x":{"status":201}}]}`, 1, false},
		{"cut short", `{"items":[{"index":{"status":201}}`, 1, false},
		{"trailing bytes", `{"items":[{"index":{"status":201}}]}x`, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fast, ok := acceptedItems([]byte(c.body), c.n)
			if ok != c.fast {
				t.Fatalf("read canonically %v, want %v", ok, c.fast)
			}
			got, err := parseBulkItems([]byte(c.body), c.n)
			if !ok {
				return // encoding/json's reading, as before
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := decodeBulkItems([]byte(c.body), c.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || len(fast) != len(want) {
				t.Fatalf("%d items, encoding/json reads %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("item %d: %+v, encoding/json reads %+v", i, got[i], want[i])
				}
			}
		})
	}
}
