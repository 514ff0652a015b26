package codec

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// structTable has struct columns as the join transform adds them: an
// optional named struct of a looked-up row (with a nested unnamed
// struct), and a NOT NULL unnamed struct whose key-only fallback is an
// object of its fields' zeros.
var structTable = &sluice.Table{
	ID: 9, DB: "shop", Schema: "public", Name: "orders",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "customer", DBType: "shop.public.customers.Value", Type: sluice.TypeStruct, Optional: true, Fields: []sluice.Column{
			{Name: "id", DBType: "int4", Type: sluice.TypeInt32},
			{Name: "first_name", DBType: "text", Type: sluice.TypeText, Optional: true},
			{Name: "balance", DBType: "numeric", Type: sluice.TypeDecimal, Scale: 2, Length: 10, Optional: true},
			{Name: "since", DBType: "timestamptz", Type: sluice.TypeTimestampTZ, Scale: -1, Optional: true},
			{Name: "address", Type: sluice.TypeStruct, Optional: true, Fields: []sluice.Column{
				{Name: "city", DBType: "text", Type: sluice.TypeText, Optional: true},
			}},
		}},
		{Name: "origin", Type: sluice.TypeStruct, Fields: []sluice.Column{
			{Name: "code", DBType: "int4", Type: sluice.TypeInt32},
			{Name: "label", DBType: "text", Type: sluice.TypeText, Optional: true},
		}},
	},
	Key: []int{0},
}

func structVal(fields ...sluice.Value) sluice.Value {
	return sluice.Value{Kind: sluice.KindPresent, Elems: fields}
}

func structRow() sluice.Row {
	return sluice.Row{num(1),
		structVal(num(7), txt("Ann"), txt("12.50"), num(1704164645123456), structVal(txt("Oslo"))),
		structVal(num(3), txt("web"))}
}

// The Connect schemas of structTable's columns, as JsonConverter writes a
// nested struct: the fields' own schemas, then optional and the name.
const (
	structCustomerSchema = `{"type":"struct","fields":[` +
		`{"type":"int32","optional":false,"field":"id"},` +
		`{"type":"string","optional":true,"field":"first_name"},` +
		`{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"balance"},` +
		`{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"since"},` +
		`{"type":"struct","fields":[{"type":"string","optional":true,"field":"city"}],"optional":true,"field":"address"}` +
		`],"optional":true,"name":"shop.public.customers.Value","field":"customer"}`
	structOriginSchema = `{"type":"struct","fields":[{"type":"int32","optional":false,"field":"code"},{"type":"string","optional":true,"field":"label"}],"optional":false,"field":"origin"}`
	structRowFields    = `{"type":"int32","optional":false,"field":"id"},` + structCustomerSchema + `,` + structOriginSchema
)

// TestStructColumn: a struct column's value is a JSON object of its
// fields, each encoded as a top-level column of its type (decimals by
// the decimal mode, instants as ZonedTimestamp); a NULL field is null, a
// NULL struct is null, and a struct a key-only old row lacks is null, or
// its fields' zeros when NOT NULL. With schemas the row schema nests the
// struct's schema.
func TestStructColumn(t *testing.T) {
	const (
		full     = `{"id":1,"customer":{"id":7,"first_name":"Ann","balance":"BOI=","since":"2024-01-02T03:04:05.123456Z","address":{"city":"Oslo"}},"origin":{"code":3,"label":"web"}}`
		keyOnlyB = `{"id":1,"customer":null,"origin":{"code":0,"label":null}}`
	)
	nullField := structRow()
	nullField[1] = structVal(num(8), null, null, null, null)
	nullStruct := structRow()
	nullStruct[1] = null
	ins := func(after sluice.Row) *sluice.Event {
		ev := baseEvent(sluice.OpCreate)
		ev.Table, ev.After = structTable, after
		return ev
	}
	upd := baseEvent(sluice.OpUpdate)
	upd.Table, upd.Before, upd.After = structTable, keyOnly(structRow(), structTable), structRow()
	snap := baseEvent(sluice.OpRead)
	snap.Table, snap.After, snap.Snapshot = structTable, structRow(), sluice.SnapshotTrue

	for _, c := range []struct {
		name   string
		opt    Options
		ev     *sluice.Event
		before string // the payload's before and after
		after  string
	}{
		{"present", Options{}, ins(structRow()), `null`, full},
		{"null field", Options{}, ins(nullField), `null`,
			`{"id":1,"customer":{"id":8,"first_name":null,"balance":null,"since":null,"address":null},"origin":{"code":3,"label":"web"}}`},
		{"null struct", Options{}, ins(nullStruct), `null`, `{"id":1,"customer":null,"origin":{"code":3,"label":"web"}}`},
		{"key-only before", Options{}, upd, keyOnlyB, full},
		{"snapshot", Options{}, snap, `null`, full},
		{"decimal string", Options{Decimal: DecimalString}, ins(structRow()), `null`,
			`{"id":1,"customer":{"id":7,"first_name":"Ann","balance":"12.50","since":"2024-01-02T03:04:05.123456Z","address":{"city":"Oslo"}},"origin":{"code":3,"label":"web"}}`},
		{"decimal double", Options{Decimal: DecimalDouble}, ins(structRow()), `null`,
			`{"id":1,"customer":{"id":7,"first_name":"Ann","balance":12.5,"since":"2024-01-02T03:04:05.123456Z","address":{"city":"Oslo"}},"origin":{"code":3,"label":"web"}}`},
	} {
		for _, schemas := range []bool{false, true} {
			name := c.name
			if schemas {
				name += " with schemas"
			}
			t.Run(name, func(t *testing.T) {
				opt := c.opt
				opt.Name, opt.Connector, opt.Schemas = "srv", ConnectorPostgres, schemas
				opt.Clock = func() time.Time { return time.UnixMilli(1) }
				enc, err := New(opt)
				if err != nil {
					t.Fatal(err)
				}
				got := string(enc.AppendValue(nil, c.ev))
				payload := `{"before":` + c.before + `,"after":` + c.after + `,"source":`
				if !schemas {
					if !strings.HasPrefix(got, payload) {
						t.Fatalf("\n got %s\nwant %s…", got, payload)
					}
					return
				}
				if err := testenv.ValidateConnect([]byte(got)); err != nil {
					t.Errorf("does not match its schema: %v", err)
				}
				rowSchema := `{"type":"struct","fields":[` + structRowFields + `],"optional":true,"name":"srv.public.orders.Value","field":"before"},`
				if c.opt.Decimal == DecimalString {
					rowSchema = strings.Replace(rowSchema, `{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"balance"}`,
						`{"type":"string","optional":true,"field":"balance"}`, 1)
				}
				if c.opt.Decimal == DecimalDouble {
					rowSchema = strings.Replace(rowSchema, `{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"balance"}`,
						`{"type":"double","optional":true,"field":"balance"}`, 1)
				}
				if want := `{"schema":{"type":"struct","fields":[` + rowSchema; !strings.HasPrefix(got, want) {
					t.Errorf("schema\n got %s\nwant %s…", got, want)
				}
				if !strings.Contains(got, `,"payload":`+payload) {
					t.Errorf("payload\n got %s\nwant …%s…", got, payload)
				}
			})
		}
	}
}

// TestStructColumnUnwrapped: the unwrapped row carries the struct as the
// envelope's after does, and its schema nests the struct's.
func TestStructColumnUnwrapped(t *testing.T) {
	ev := baseEvent(sluice.OpCreate)
	ev.Table, ev.After, ev.Unwrap = structTable, structRow(), &sluice.Unwrap{}
	del := baseEvent(sluice.OpDelete)
	del.Table, del.Before = structTable, keyOnly(structRow(), structTable)
	del.Unwrap = &sluice.Unwrap{Deletes: sluice.DeleteRewrite}
	const full = `{"id":1,"customer":{"id":7,"first_name":"Ann","balance":"BOI=","since":"2024-01-02T03:04:05.123456Z","address":{"city":"Oslo"}},"origin":{"code":3,"label":"web"}}`
	for _, c := range []struct {
		name    string
		ev      *sluice.Event
		schemas bool
		want    string
	}{
		{"insert", ev, false, full},
		{"insert with schemas", ev, true,
			`{"schema":{"type":"struct","fields":[` + structRowFields + `],"optional":false,"name":"srv.public.orders.Value"},"payload":` + full + `}`},
		{"rewritten delete", del, false, `{"id":1,"customer":null,"origin":{"code":0,"label":null},"__deleted":"true"}`},
		{"rewritten delete with schemas", del, true,
			`{"schema":{"type":"struct","fields":[` + structRowFields + `,{"type":"string","optional":true,"field":"__deleted"}],"optional":false,"name":"srv.public.orders.Value"},` +
				`"payload":{"id":1,"customer":null,"origin":{"code":0,"label":null},"__deleted":"true"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc, err := New(Options{Name: "srv", Connector: ConnectorPostgres, Schemas: c.schemas})
			if err != nil {
				t.Fatal(err)
			}
			got := enc.AppendValue(nil, c.ev)
			if string(got) != c.want {
				t.Fatalf("\n got %s\nwant %s", got, c.want)
			}
			if c.schemas {
				if err := testenv.ValidateConnect(got); err != nil {
					t.Errorf("does not match its schema: %v", err)
				}
			}
		})
	}
}

// TestStructColumnToast: an unchanged struct is the object of its fields'
// placeholders (the struct's shape), or left out in ToastOmit mode, as an
// unchanged field is.
func TestStructColumnToast(t *testing.T) {
	unchanged := sluice.Value{Kind: sluice.KindUnchanged}
	for _, c := range []struct {
		name string
		opt  Options
		row  sluice.Row
		want string
	}{
		{"struct placeholder", Options{}, sluice.Row{num(1), unchanged, structVal(num(3), unchanged)},
			`{"id":1,"customer":{"id":"__debezium_unavailable_value","first_name":"__debezium_unavailable_value","balance":"__debezium_unavailable_value","since":"__debezium_unavailable_value","address":{"city":"__debezium_unavailable_value"}},"origin":{"code":3,"label":"__debezium_unavailable_value"}}`},
		{"omit", Options{Toast: ToastOmit}, sluice.Row{num(1), unchanged, structVal(num(3), unchanged)},
			`{"id":1,"origin":{"code":3}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opt.Name, c.opt.Connector = "srv", ConnectorPostgres
			enc, err := New(c.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(enc.AppendRow(nil, structTable, c.row)); got != c.want {
				t.Fatalf("\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestStructColumnAllocs: the fields' plans are made with the table's, so
// encoding an event with struct columns allocates nothing either.
func TestStructColumnAllocs(t *testing.T) {
	for _, schemas := range []bool{false, true} {
		enc, err := New(Options{Name: "srv", Connector: ConnectorPostgres, Schemas: schemas})
		if err != nil {
			t.Fatal(err)
		}
		ev := baseEvent(sluice.OpUpdate)
		ev.Table, ev.Before, ev.After = structTable, keyOnly(structRow(), structTable), structRow()
		buf := enc.AppendValue(nil, ev)
		if n := testing.AllocsPerRun(100, func() { buf = enc.AppendValue(buf[:0], ev) }); n != 0 {
			t.Errorf("schemas %v: %v allocations per event", schemas, n)
		}
	}
}
