package codec

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

func outboxRow(op sluice.Op, m *sluice.Outbox, id, typ, key string, payload, tenant *string) *sluice.Event {
	v := func(s *string) sluice.Value {
		if s == nil {
			return sluice.Value{Kind: sluice.KindNull}
		}
		return txt(*s)
	}
	return &sluice.Event{Op: op, Table: eventtest.Outbox, Outbox: m,
		After: sluice.Row{txt(id), txt(typ), txt(key), txt("Event"), v(payload), v(tenant)}}
}

func ptr(s string) *string { return &s }

// TestOutbox: keys, values and headers equal the records Debezium Server
// 3.6.1 wrote through the outbox EventRouter
// (testdata/golden/debezium-smt/postgres/outbox*/outbox.event.*.jsonl).
func TestOutbox(t *testing.T) {
	plain := &sluice.Outbox{ID: 0, Key: 2, Payload: 4, Headers: []sluice.OutboxHeader{{Column: 5, Name: "tenantId"}}}
	expand := &sluice.Outbox{ID: 0, Key: 2, Payload: 4, Headers: plain.Headers, ExpandJSON: true}
	const (
		uuidSchema = `{"schema":{"type":"string","optional":false,"name":"io.debezium.data.Uuid","version":1},"payload":`
		jsonSchema = `{"schema":{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1},"payload":`
		keySchema  = `{"schema":{"type":"string","optional":false},"payload":`
		tenant     = `{"schema":{"type":"string","optional":true},"payload":`
		order1     = `{"id": 1, "total": 12.5, "customer": "alice"}`
		bob        = `{"vip": true, "name": "bob", "email": null, "address": {"zip": "8001", "city": "Zürich"}}`
		order3     = `{"id": 3, "lines": [], "total": 0, "customer": "carol"}`
		order2     = `{"id": 2, "lines": [{"qty": 2, "sku": "A-1"}, {"qty": 1, "sku": "B-7"}], "total": 99.99, "customer": "bob"}`
	)
	for _, c := range []struct {
		name       string
		schemas    bool
		ev         *sluice.Event
		key, value string
		headers    []string // id, tenantId
	}{
		{"snapshot row", false, outboxRow(sluice.OpRead, plain, "00000000-0000-4000-8000-000000000001", "order", "1", ptr(order1), ptr("acme")),
			`"1"`, `"{\"id\": 1, \"total\": 12.5, \"customer\": \"alice\"}"`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-000000000001"}`, tenant + `"acme"}`}},
		{"non-ASCII, null member", false, outboxRow(sluice.OpCreate, plain, "00000000-0000-4000-8000-000000000012", "customer", "bob", ptr(bob), ptr("globex")),
			`"bob"`, `"{\"vip\": true, \"name\": \"bob\", \"email\": null, \"address\": {\"zip\": \"8001\", \"city\": \"Zürich\"}}"`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-000000000012"}`, tenant + `"globex"}`}},
		{"NULL tenant", false, outboxRow(sluice.OpCreate, plain, "00000000-0000-4000-8000-000000000014", "order", "3", ptr(order3), nil),
			`"3"`, `"{\"id\": 3, \"lines\": [], \"total\": 0, \"customer\": \"carol\"}"`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-000000000014"}`, tenant + `null}`}},
		{"NULL payload", false, outboxRow(sluice.OpCreate, plain, "00000000-0000-4000-8000-000000000015", "customer", "carol", nil, ptr("acme")),
			`"carol"`, `null`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-000000000015"}`, tenant + `"acme"}`}},
		{"schemas", true, outboxRow(sluice.OpRead, plain, "00000000-0000-4000-8000-000000000001", "order", "1", ptr(order1), ptr("acme")),
			keySchema + `"1"}`, jsonSchema + `"{\"id\": 1, \"total\": 12.5, \"customer\": \"alice\"}"}`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-000000000001"}`, tenant + `"acme"}`}},
		{"schemas, NULL payload", true, outboxRow(sluice.OpCreate, plain, "00000000-0000-4000-8000-000000000015", "customer", "carol", nil, ptr("acme")),
			keySchema + `"carol"}`, jsonSchema + `null}`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-000000000015"}`, tenant + `"acme"}`}},
		{"expand", false, outboxRow(sluice.OpCreate, expand, "00000000-0000-4000-8000-000000000012", "customer", "bob", ptr(bob), ptr("globex")),
			`"bob"`, `{"vip":true,"name":"bob","address":{"zip":"8001","city":"Zürich"}}`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-000000000012"}`, tenant + `"globex"}`}},
		{"expand, empty array", false, outboxRow(sluice.OpCreate, expand, "00000000-0000-4000-8000-000000000014", "order", "3", ptr(order3), nil),
			`"3"`, `{"id":3,"total":0,"customer":"carol"}`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-000000000014"}`, tenant + `null}`}},
		{"expand, nested", false, outboxRow(sluice.OpCreate, expand, "00000000-0000-4000-8000-000000000011", "order", "2", ptr(order2), ptr("acme")),
			`"2"`, `{"id":2,"lines":[{"qty":2,"sku":"A-1"},{"qty":1,"sku":"B-7"}],"total":99.99,"customer":"bob"}`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-000000000011"}`, tenant + `"acme"}`}},
		{"expand, {}", false, outboxRow(sluice.OpCreate, expand, "00000000-0000-4000-8000-0000000000ff", "end_marker", "end", ptr("{}"), nil),
			`"end"`, `{}`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-0000000000ff"}`, tenant + `null}`}},
		{"expand, NULL payload", false, outboxRow(sluice.OpCreate, expand, "00000000-0000-4000-8000-000000000015", "customer", "carol", nil, ptr("acme")),
			`"carol"`, `null`,
			[]string{uuidSchema + `"00000000-0000-4000-8000-000000000015"}`, tenant + `"acme"}`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := New(Options{Name: "dbzsmt", Connector: ConnectorPostgres, DB: "dbzsmt", Schemas: c.schemas})
			if err != nil {
				t.Fatal(err)
			}
			if !Outboxed(c.ev) {
				t.Fatal("not Outboxed")
			}
			key, ok := e.AppendKey(nil, c.ev)
			if !ok || string(key) != c.key {
				t.Errorf("key %s (%v)\nwant %s", key, ok, c.key)
			}
			if v := e.AppendValue(nil, c.ev); string(v) != c.value {
				t.Errorf("value %s\nwant  %s", v, c.value)
			}
			if n := OutboxHeaders(c.ev); n != len(c.headers) {
				t.Fatalf("%d headers, want %d", n, len(c.headers))
			}
			for i, want := range c.headers {
				name := OutboxHeaderName(c.ev, i)
				if h := e.AppendOutboxHeader(nil, c.ev, i); string(h) != want {
					t.Errorf("header %s %s\nwant %s", name, h, want)
				}
			}
			if err := e.OutboxUnsupported(c.ev); err != nil {
				t.Errorf("OutboxUnsupported: %v", err)
			}
		})
	}
}

// TestOutboxNotMarked: deletes, updates and unmarked rows keep the
// envelope; an expanded payload with schemas is refused.
func TestOutboxNotMarked(t *testing.T) {
	m := &sluice.Outbox{ID: 0, Key: 2, Payload: 4, ExpandJSON: true}
	e, err := New(Options{Name: "dbzsmt", Connector: ConnectorPostgres, DB: "dbzsmt", Schemas: true})
	if err != nil {
		t.Fatal(err)
	}
	upd := outboxRow(sluice.OpUpdate, m, "00000000-0000-4000-8000-000000000011", "order", "2", ptr("{}"), nil)
	if Outboxed(upd) || !strings.Contains(string(e.AppendValue(nil, upd)), `"op":"u"`) {
		t.Error("an update is written as an outbox event")
	}
	ins := outboxRow(sluice.OpCreate, m, "00000000-0000-4000-8000-000000000011", "order", "2", ptr("{}"), nil)
	if err := e.OutboxUnsupported(ins); err == nil || !strings.Contains(err.Error(), "expand_json_payload") {
		t.Errorf("OutboxUnsupported = %v, want the expand_json_payload error", err)
	}
}

// TestExpandedJSON: the compaction on its own, including what the
// recordings do not show (written as the text has it).
func TestExpandedJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"a": 1, "b": null, "c": [], "d": {"e": null, "f": []}}`, `{"a":1,"d":{}}`},
		{`{"a": [1, null, "x"], "s": "q\"u,o}te"}`, `{"a":[1,null,"x"],"s":"q\"u,o}te"}`},
		{` [ {"x": null} , 2 ] `, `[{},2]`},
		{`"text"`, `"text"`},
		{`{"a": 1`, `"{\"a\": 1"`}, // not JSON: the unexpanded string
		{`{"a": 1} x`, `"{\"a\": 1} x"`},
	} {
		if got := string(appendExpandedJSON(nil, []byte(c.in))); got != c.want {
			t.Errorf("%s: %s, want %s", c.in, got, c.want)
		}
	}
}
