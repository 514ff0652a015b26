package elasticsearch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestAppendStateDoc holds the hand-written state documents to what
// encoding/json writes for stateDoc: both decode to the same value, for
// every field set or left empty and for strings that need escaping.
func TestAppendStateDoc(t *testing.T) {
	docs := []stateDoc{
		{Kind: "tombstone", Index: "orders", ID: "5", LSN: 123456789, Order: 3},
		{Kind: "tombstone", Index: "orders", ID: `{"id":5,"k":"a\"b"}`, LSN: 1<<64 - 1, Order: 1<<63 - 1},
		{Kind: "tombstone", Index: "ord<e>rs&", ID: "line\nbreak\ttab\x00nul\u2028sep", LSN: 0, Order: -1},
		{Kind: "tombstone", Index: "bad\xffutf8", ID: "é漢字🙂", LSN: 7},
		{Kind: "truncate", Index: "orders", LSN: 42, Order: 9},
		{Kind: "hwm", Index: "orders", LSN: 1 << 40},
		{Kind: "epoch", Index: "orders", Epoch: "7350140293411122290/1"},
		{},
	}
	for _, d := range docs {
		got := appendStateDoc([]byte("prefix"), d)
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("%+v: prefix overwritten: %q", d, got)
		}
		got = got[len("prefix"):]
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var g, w stateDoc
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%+v: %q does not decode: %v", d, got, err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if g != w {
			t.Errorf("%+v:\n got %q → %+v\nwant %q → %+v", d, got, g, want, w)
		}
		// The same fields are present, so an absent one reads as absent.
		var gm, wm map[string]any
		_ = json.Unmarshal(got, &gm)
		_ = json.Unmarshal(want, &wm)
		if !reflect.DeepEqual(gm, wm) {
			t.Errorf("%+v: fields %v, encoding/json writes %v", d, gm, wm)
		}
	}
}

// TestTombstoneID checks the tombstone id against the SHA-256 of index
// NUL id computed here, and that appending it keeps what dst held.
func TestTombstoneID(t *testing.T) {
	cases := []struct{ index, id string }{
		{"orders", "5"},
		{"orders", ""},
		{"", "5"},
		{"a-long-index-name-" + strings.Repeat("x", 100), `{"id":5,"k":"` + strings.Repeat("y", 300) + `"}`},
	}
	for _, tc := range cases {
		sum := sha256.Sum256([]byte(tc.index + "\x00" + tc.id))
		want := "t:" + hex.EncodeToString(sum[:])
		if got := tombstoneID(tc.index, tc.id); got != want {
			t.Errorf("tombstoneID(%q, %q) = %q, want %q", tc.index, tc.id, got, want)
		}
		for _, room := range []int{0, 8, 1024} { // hashing in dst's spare room, or growing it
			dst := append(make([]byte, 0, 5+room), "head:"...)
			if got := string(appendTombstoneID(dst, tc.index, tc.id)); got != "head:"+want {
				t.Errorf("appendTombstoneID(%q, %q) with %d spare = %q, want %q", tc.index, tc.id, room, got, "head:"+want)
			}
		}
	}
}

// TestTombstoneAction checks a delete's tombstone action and document
// as Elasticsearch reads them.
func TestTombstoneAction(t *testing.T) {
	o := &op{del: true, index: "orders", id: `{"id":"a\"b"}`, pos: pos{lsn: 99, order: 4}}
	got := appendTombstoneAction(nil, ".sluice-state", o)
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%q: want an action and a document", got)
	}
	var action struct {
		Index struct {
			Index       string `json:"_index"`
			ID          string `json:"_id"`
			Version     uint64 `json:"version"`
			VersionType string `json:"version_type"`
		} `json:"index"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &action); err != nil {
		t.Fatalf("action %q: %v", lines[0], err)
	}
	a := action.Index
	if a.Index != ".sluice-state" || a.ID != tombstoneID(o.index, o.id) || a.Version != 99 || a.VersionType != "external_gte" {
		t.Errorf("action %+v", a)
	}
	var d stateDoc
	if err := json.Unmarshal([]byte(lines[1]), &d); err != nil {
		t.Fatalf("document %q: %v", lines[1], err)
	}
	if want := (stateDoc{Kind: "tombstone", Index: "orders", ID: o.id, LSN: 99, Order: 4}); d != want {
		t.Errorf("document %+v, want %+v", d, want)
	}
}
