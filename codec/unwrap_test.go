package codec

import (
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// ridDefault is the fixtures' rid_default table as the recording's
// connector (topic prefix and database dbzsmt) saw it.
var ridDefault = &sluice.Table{
	DB: "dbzsmt", Schema: "public", Name: "rid_default",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "name", DBType: "text", Type: sluice.TypeText, Optional: true},
		{Name: "n", DBType: "int4", Type: sluice.TypeInt32, Optional: true},
	},
	Key: []int{0},
}

// TestUnwrap: unwrapped values and headers equal the records Debezium
// Server 3.6.1 wrote through ExtractNewRecordState
// (testdata/golden/debezium-smt/postgres/unwrap*/dbzsmt.public.rid_default.jsonl).
func TestUnwrap(t *testing.T) {
	tombstone := &sluice.Unwrap{}
	rewrite := &sluice.Unwrap{Deletes: sluice.DeleteRewrite,
		Fields: []sluice.UnwrapField{{Field: "op", Name: "__op"}, {Struct: "source", Field: "table", Name: "__table"},
			{Struct: "source", Field: "lsn", Name: "__lsn"}, {Struct: "source", Field: "ts_ms", Name: "__source_ts_ms"}},
		Headers: []sluice.UnwrapField{{Struct: "source", Field: "db", Name: "__db"}, {Field: "op", Name: "__op"}}}
	at := time.UnixMilli(1796027113551)
	read := &sluice.Event{Op: sluice.OpRead, Table: ridDefault, After: sluice.Row{num(1), txt("one"), num(1)},
		Pos: sluice.Position{LSN: 1576895744}, CommitTime: at, Snapshot: sluice.SnapshotTrue}
	del := &sluice.Event{Op: sluice.OpDelete, Table: ridDefault, Before: sluice.Row{num(2), {Kind: sluice.KindMissing}, {Kind: sluice.KindMissing}},
		Pos: sluice.Position{LSN: 1577091160}, CommitTime: time.UnixMilli(1796027114512)}
	const schema = `{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"},{"type":"int32","optional":true,"field":"n"}`
	for _, c := range []struct {
		name    string
		u       *sluice.Unwrap
		ev      *sluice.Event
		schemas bool
		want    string
		headers []string
	}{
		{"read", tombstone, read, false, `{"id":1,"name":"one","n":1}`, nil},
		{"read with schemas", tombstone, read, true,
			`{"schema":` + schema + `],"optional":false,"name":"dbzsmt.public.rid_default.Value"},"payload":{"id":1,"name":"one","n":1}}`, nil},
		{"delete", tombstone, del, false, `null`, nil},
		{"delete with schemas", tombstone, del, true,
			`{"schema":` + schema + `],"optional":true,"name":"dbzsmt.public.rid_default.Value"},"payload":null}`, nil},
		{"rewrite read", rewrite, read, false,
			`{"id":1,"name":"one","n":1,"__deleted":"false","__op":"r","__table":"rid_default","__lsn":1576895744,"__source_ts_ms":1796027113551}`,
			[]string{`{"schema":{"type":"string","optional":true},"payload":"dbzsmt"}`, `{"schema":{"type":"string","optional":true},"payload":"r"}`}},
		{"rewrite delete", rewrite, del, false,
			`{"id":2,"name":null,"n":null,"__deleted":"true","__op":"d","__table":"rid_default","__lsn":1577091160,"__source_ts_ms":1796027114512}`,
			[]string{`{"schema":{"type":"string","optional":true},"payload":"dbzsmt"}`, `{"schema":{"type":"string","optional":true},"payload":"d"}`}},
		{"rewrite with schemas", rewrite, read, true,
			`{"schema":` + schema + `,{"type":"string","optional":true,"field":"__deleted"},{"type":"string","optional":true,"field":"__op"},{"type":"string","optional":true,"field":"__table"},{"type":"int64","optional":true,"field":"__lsn"},{"type":"int64","optional":true,"field":"__source_ts_ms"}],"optional":false,"name":"dbzsmt.public.rid_default.Value"},` +
				`"payload":{"id":1,"name":"one","n":1,"__deleted":"false","__op":"r","__table":"rid_default","__lsn":1576895744,"__source_ts_ms":1796027113551}}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc, err := New(Options{Name: "dbzsmt", Connector: ConnectorPostgres, DB: "dbzsmt", Schemas: c.schemas})
			if err != nil {
				t.Fatal(err)
			}
			ev := *c.ev
			ev.Unwrap = c.u
			if got := string(enc.AppendValue(nil, &ev)); got != c.want {
				t.Fatalf("value\n got %s\nwant %s", got, c.want)
			}
			for i, want := range c.headers {
				if got := string(enc.AppendUnwrapHeader(nil, &ev, &c.u.Headers[i], time.Now())); got != want {
					t.Errorf("header %s\n got %s\nwant %s", c.u.Headers[i].Name, got, want)
				}
			}
		})
	}
}

// TestUnwrapLeavesOthers: messages, truncates and unmarked events keep
// the envelope.
func TestUnwrapLeavesOthers(t *testing.T) {
	enc, err := New(Options{Name: "dbzsmt", Connector: ConnectorPostgres, DB: "dbzsmt", Clock: func() time.Time { return time.UnixMilli(1) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []*sluice.Event{
		{Op: sluice.OpMessage, Message: &sluice.Message{Prefix: "p", Content: []byte("x")}},
		{Op: sluice.OpTruncate, Table: ridDefault},
	} {
		plain := string(enc.AppendValue(nil, ev))
		marked := *ev
		marked.Unwrap = &sluice.Unwrap{}
		if got := string(enc.AppendValue(nil, &marked)); got != plain {
			t.Errorf("%c: %s, want the envelope %s", ev.Op, got, plain)
		}
	}
}
