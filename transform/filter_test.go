package transform

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// TestFilter: which events an expression keeps.
func TestFilter(t *testing.T) {
	upd := func() *sluice.Event {
		return &sluice.Event{Op: sluice.OpUpdate, Table: customers, CommitTime: time.UnixMilli(1700000000123),
			Before: eventtest.KeyRow(customers, eventtest.Int(7)),
			After:  sluice.Row{eventtest.Int(7), eventtest.Text("ann@example.org"), eventtest.Null, eventtest.Int(42), tags("vip")}}
	}
	runFilters(t, []filterCase{
		{`op == "c"`, customer, true},
		{`op == "c"`, upd, false},
		{`op in ["c", "u"] && after.Age > 40`, upd, true},
		{`after.Age >= 42 and after.Email endsWith ".org"`, upd, true},
		{`after.Email matches "^ann@"`, customer, true},
		{`after.Notes == nil`, upd, true},
		{`after.Notes == nil`, customer, false},
		{`before.Email == nil`, upd, true}, // not in a key-only old row
		{`"vip" in after.Tags`, upd, true},
		{`"vip" in after.Tags`, customer, false},
		{`table == "Sales.Customers" && schema == "Sales" && name == "Customers" && db == "shop"`, customer, true},
		{`ts_ms == 1700000000123`, upd, true},
		{`!snapshot`, customer, true},
		{`after["Email"] contains "example"`, customer, true},
		{`message.prefix == "audit" && message.content == "hello"`, func() *sluice.Event { return eventtest.Message("audit", "hello") }, true},
		{`op == "m"`, func() *sluice.Event { return eventtest.Message("audit", "hello") }, true},
	})
}

// TestFilterErrors: a wrong expression is refused when the pipeline is
// built where it can be (syntax, unknown names, a non-boolean result), at
// the table's first event where it needs the table (a column it lacks),
// and an evaluation error does what on_error says.
func TestFilterErrors(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{`op ==`, "transforms[0].expression: unexpected token"},
		{`opp == "c"`, "transforms[0].expression: unknown name opp"},
		{`after == nil`, "transforms[0].expression: unknown name after"},
		{`1 + 2`, "transforms[0].expression: expected bool"},
		{``, "transforms[0].expression: required"},
	} {
		_, err := New(map[string]any{"type": "filter", "expression": c.expr}, Env{Path: "pipelines.shop.transforms[0]"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.expr, err, c.want)
		}
	}
	_, err := New(map[string]any{"type": "filter", "expression": "true", "on_error": "ignore"}, Env{Path: "p"})
	if err == nil || !strings.Contains(err.Error(), `p.on_error: "ignore" is not fail, drop or keep`) {
		t.Errorf("on_error: %v", err)
	}

	_, err = build(t, map[string]any{"type": "filter", "expression": `after.email == "x"`}).Apply(customer())
	if err == nil || !strings.Contains(err.Error(), `expression on Sales.Customers: after.email: the table has no column "email"`) {
		t.Errorf("unknown column: %v", err)
	}

	// Notes is NULL: nil > 3 fails when evaluated.
	nullNotes := func() *sluice.Event {
		ev := customer()
		ev.After[2] = eventtest.Null
		return ev
	}
	for _, c := range []struct {
		onError string
		keep    bool
		err     bool
	}{{"fail", false, true}, {"drop", false, false}, {"keep", true, false}} {
		tr := build(t, map[string]any{"type": "filter", "expression": `after.Notes > 3`, "on_error": c.onError})
		keep, err := tr.Apply(nullNotes())
		if keep != c.keep || (err != nil) != c.err {
			t.Errorf("on_error %s: %v, %v", c.onError, keep, err)
		}
	}
}

// TestFilterReadsEachEvent: one compiled program sees each event's own
// values (nothing is folded into constants at compile time).
func TestFilterReadsEachEvent(t *testing.T) {
	tr := build(t, map[string]any{"type": "filter", "expression": `op == "c" && after.Age > 40`})
	for i, c := range []struct {
		op   sluice.Op
		age  int64
		keep bool
	}{{sluice.OpCreate, 41, true}, {sluice.OpCreate, 40, false}, {sluice.OpUpdate, 50, false}, {sluice.OpCreate, 1000, true}} {
		ev := customer()
		ev.Op = c.op
		ev.After[3] = eventtest.Int(c.age)
		if keep, err := tr.Apply(ev); err != nil || keep != c.keep {
			t.Errorf("event %d: %v, %v; want %v", i, keep, err, c.keep)
		}
	}
}

// joinedOrders has a struct column as the join transform adds it: the
// looked-up customer, with a nested address.
var joinedOrders = &sluice.Table{
	DB: "shop", Schema: "public", Name: "orders",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "customer", DBType: "shop.public.customers.Value", Type: sluice.TypeStruct, Optional: true, Fields: []sluice.Column{
			{Name: "id", DBType: "int4", Type: sluice.TypeInt32},
			{Name: "first_name", DBType: "text", Type: sluice.TypeText, Optional: true},
			{Name: "city", DBType: "text", Type: sluice.TypeText, Optional: true},
			{Name: "balance", DBType: "numeric", Type: sluice.TypeDecimal, Scale: 2, Optional: true},
			{Name: "since", DBType: "timestamptz", Type: sluice.TypeTimestampTZ, Scale: -1, Optional: true},
			{Name: "address", Type: sluice.TypeStruct, Optional: true, Fields: []sluice.Column{
				{Name: "zip", DBType: "text", Type: sluice.TypeText, Optional: true},
			}},
		}},
	},
	Key: []int{0},
}

func structOf(fields ...sluice.Value) sluice.Value {
	return sluice.Value{Kind: sluice.KindPresent, Elems: fields}
}

// joinedOrder is an update of an order whose customer is cust; the old
// row is key-only.
func joinedOrder(cust sluice.Value) *sluice.Event {
	return &sluice.Event{Op: sluice.OpUpdate, Table: joinedOrders,
		Before: eventtest.KeyRow(joinedOrders, eventtest.Int(1)),
		After:  sluice.Row{eventtest.Int(1), cust}}
}

// TestFilterStruct: a struct column's fields are read as after.col.field
// (nested structs as after.col.field.field, or col["field"]); a NULL
// struct, a NULL field and a struct a key-only old row lacks are nil; the
// whole struct is a map of its fields.
func TestFilterStruct(t *testing.T) {
	ann := func() *sluice.Event {
		return joinedOrder(structOf(eventtest.Int(7), eventtest.Text("Ann"), eventtest.Text("Oslo"), eventtest.Text("12.50"),
			eventtest.Int(1704164645123456), structOf(eventtest.Text("0150"))))
	}
	nameless := func() *sluice.Event {
		return joinedOrder(structOf(eventtest.Int(8), eventtest.Null, eventtest.Text("Bergen"), eventtest.Null, eventtest.Null, eventtest.Null))
	}
	noMatch := func() *sluice.Event { return joinedOrder(eventtest.Null) }
	runFilters(t, []filterCase{
		{`after.customer.city == "Oslo"`, ann, true},
		{`after.customer.city == "Oslo"`, nameless, false},
		{`after.customer.id > 5 && after.customer.first_name == "Ann"`, ann, true},
		{`after.customer.balance == "12.50"`, ann, true},
		{`after.customer.since == 1704164645123456`, ann, true},
		{`after.customer.address.zip == "0150"`, ann, true},
		{`after.customer["city"] startsWith "Os"`, ann, true},
		{`after.customer.first_name == nil`, nameless, true},
		{`after.customer.address.zip == nil`, nameless, true},
		{`after.customer == nil`, noMatch, true},
		{`after.customer == nil`, ann, false},
		{`after.customer.city == nil`, noMatch, true},
		{`after.customer?.city == nil`, noMatch, true},
		{`before.customer.city == nil`, ann, true}, // not in a key-only old row
		{`after.customer.city == after.customer.city`, ann, true},
		{`let c = after.customer; c.city == "Oslo" && c.address.zip == "0150" && "since" in c`, ann, true},
	})
}

// TestFilterStructErrors: a field the struct lacks, or a field access on
// a column that is no struct, is refused at the table's first event, as
// an unknown column is.
func TestFilterStructErrors(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		{`after.customer.cty == "x"`, `expression on public.orders: after.customer.cty: the struct after.customer has no field "cty"`},
		{`after.customer.address.street == "x"`, `after.customer.address.street: the struct after.customer.address has no field "street"`},
		{`after.id.x == 1`, `after.id.x: after.id is int32, not a struct`},
		{`after.customer.city.x == 1`, `after.customer.city.x: after.customer.city is text, not a struct`},
	} {
		_, err := build(t, map[string]any{"type": "filter", "expression": c.expr}).Apply(joinedOrder(eventtest.Null))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.expr, err, c.want)
		}
	}
}

// filterCase is an expression, the event it runs on and whether the
// event must be kept.
type filterCase struct {
	expr string
	ev   func() *sluice.Event
	keep bool
}

// runFilters runs each case twice: compiled, then from the cache.
func runFilters(t *testing.T, cases []filterCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.expr, func(t *testing.T) {
			tr := build(t, map[string]any{"type": "filter", "expression": c.expr})
			for range 2 {
				keep, err := tr.Apply(c.ev())
				if err != nil || keep != c.keep {
					t.Fatalf("Apply = %v, %v; want %v", keep, err, c.keep)
				}
			}
		})
	}
}
