package join

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/transform"
)

var (
	customers = &sluice.Table{Schema: "public", Name: "customers", Key: []int{0}, Columns: []sluice.Column{
		{Name: "id", Type: sluice.TypeInt64, Key: true}, {Name: "name", Type: sluice.TypeText, Optional: true}, {Name: "city", Type: sluice.TypeText, Optional: true}}}
	orders = &sluice.Table{Schema: "public", Name: "orders", Key: []int{0}, Columns: []sluice.Column{
		{Name: "id", Type: sluice.TypeInt32, Key: true}, {Name: "customer_id", Type: sluice.TypeInt32, Optional: true}}}
)

// fakeSource reads tables from memory.
type fakeSource struct {
	sluice.Source
	rows    map[*sluice.Table][]sluice.Row
	durable uint64 // what Durable reports
}

func (f *fakeSource) Durable() uint64 { return f.durable }

func (f *fakeSource) ReadTable(_ context.Context, name string, fn func(*sluice.Table, sluice.Row) error) error {
	for t, rows := range f.rows {
		if t.QualifiedName() != name {
			continue
		}
		if err := fn(t, nil); err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(t, r); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("no table %s", name)
}

func text(s string) sluice.Value { return sluice.Value{Kind: sluice.KindPresent, Bytes: []byte(s)} }
func num(i int64) sluice.Value   { return sluice.Value{Kind: sluice.KindPresent, Int: i} }

var null = sluice.Value{Kind: sluice.KindNull}

func customer(id int64, name string) sluice.Row { return sluice.Row{num(id), text(name), text("Oslo")} }
func order(id, cust int64) sluice.Row           { return sluice.Row{num(id), num(cust)} }

func ev(op sluice.Op, t *sluice.Table, tx, lsn uint64, before, after sluice.Row) *sluice.Event {
	return &sluice.Event{Op: op, Table: t, Before: before, After: after, Pos: sluice.Position{TxLSN: tx, LSN: lsn, Epoch: "e1"}}
}

func newTestJoin(t *testing.T, entry map[string]any, src *fakeSource) *Join {
	t.Helper()
	raw := map[string]any{"type": "join", "tables": []any{"public.orders"}, "lookup": "public.customers",
		"on": map[string]any{"customer_id": "id"}, "as": "customer", "columns": []any{"name"}}
	for k, v := range entry {
		raw[k] = v
	}
	tr, err := transform.New(raw, transform.Env{Pipeline: "p", Path: "pipelines.p.transforms[0]", TopicPrefix: "shop", StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	j := tr.(*Join)
	if src == nil {
		src = &fakeSource{rows: map[*sluice.Table][]sluice.Row{customers: nil, orders: nil}}
	}
	if err := j.Open(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// name is the struct's name field in row's last column, "<null>" when
// the struct is null, "<missing>" when unknown.
func name(row sluice.Row) string {
	v := row[len(row)-1]
	switch v.Kind {
	case sluice.KindNull:
		return "<null>"
	case sluice.KindMissing:
		return "<missing>"
	}
	return string(v.Elems[0].Bytes)
}

func apply(t *testing.T, j *Join, e *sluice.Event) (bool, []*sluice.Event) {
	t.Helper()
	keep, err := j.Apply(e)
	if err != nil {
		t.Fatal(err)
	}
	var out []*sluice.Event
	if err := j.Expand(e, func(x *sluice.Event) error { out = append(out, x); return nil }); err != nil {
		t.Fatal(err)
	}
	return keep, out
}

// TestAsOfTheEventsPosition: an event sees the lookup changes before it
// in the log, not those after, also inside one transaction, and a replay
// of an earlier event sees what it saw the first time.
func TestAsOfTheEventsPosition(t *testing.T) {
	j := newTestJoin(t, nil, nil)
	steps := []struct {
		e    *sluice.Event
		want string // the enriched after's name; "" for lookup events
	}{
		{ev(sluice.OpCreate, customers, 10, 1, nil, customer(1, "Ann")), ""},
		{ev(sluice.OpCreate, orders, 20, 1, nil, order(100, 1)), "Ann"},
		{ev(sluice.OpCreate, orders, 20, 2, nil, order(101, 2)), "<null>"},
		{ev(sluice.OpUpdate, customers, 30, 1, customer(1, "Ann"), customer(1, "Anna")), ""},
		{ev(sluice.OpCreate, orders, 40, 1, nil, order(102, 1)), "Anna"},
		// one transaction: the order before the change, then after it
		{ev(sluice.OpCreate, orders, 50, 1, nil, order(103, 1)), "Anna"},
		{ev(sluice.OpUpdate, customers, 50, 2, customer(1, "Anna"), customer(1, "Hanna")), ""},
		{ev(sluice.OpCreate, orders, 50, 3, nil, order(104, 1)), "Hanna"},
		{ev(sluice.OpDelete, customers, 60, 1, customer(1, "Hanna"), nil), ""},
		{ev(sluice.OpCreate, orders, 70, 1, nil, order(105, 1)), "<null>"},
		// a replay after a crash: the store is ahead of these events
		{ev(sluice.OpCreate, orders, 20, 1, nil, order(100, 1)), "Ann"},
		{ev(sluice.OpCreate, orders, 50, 1, nil, order(103, 1)), "Anna"},
		{ev(sluice.OpCreate, orders, 50, 3, nil, order(104, 1)), "Hanna"},
	}
	for i, s := range steps {
		keep, _ := apply(t, j, s.e)
		if !keep {
			t.Fatalf("step %d dropped", i)
		}
		if s.want == "" {
			if s.e.Table != customers {
				t.Fatalf("step %d: the lookup event's table changed", i)
			}
			continue
		}
		if got := name(s.e.After); got != s.want {
			t.Errorf("step %d: customer %q, want %q", i, got, s.want)
		}
		last := s.e.Table.Columns[len(s.e.Table.Columns)-1]
		if last.Name != "customer" || last.Type != sluice.TypeStruct || len(last.Fields) != 1 || last.Fields[0].Name != "name" ||
			last.DBType != "shop.public.customers.Value" {
			t.Errorf("step %d: struct column %+v", i, last)
		}
	}
}

func TestMissingModes(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		keep    bool
		wantErr bool
	}{{"null", true, false}, {"drop", false, false}, {"error", false, true}} {
		t.Run(tc.mode, func(t *testing.T) {
			j := newTestJoin(t, map[string]any{"missing": tc.mode}, nil)
			e := ev(sluice.OpCreate, orders, 20, 1, nil, order(100, 9))
			keep, err := j.Apply(e)
			if (err != nil) != tc.wantErr || keep != tc.keep {
				t.Fatalf("keep %v err %v, want keep %v error %v", keep, err, tc.keep, tc.wantErr)
			}
			if s := j.JoinStats(); s.Missing != 1 {
				t.Errorf("missing counted %d, want 1", s.Missing)
			}
		})
	}
}

// TestBootstrapAndReemit: the state is filled from the source's tables;
// a rename re-emits every order of the customer and nothing else; an
// order that moves to another customer leaves the first one's list.
func TestBootstrapAndReemit(t *testing.T) {
	src := &fakeSource{rows: map[*sluice.Table][]sluice.Row{
		customers: {customer(1, "Ann"), customer(2, "Bob")},
		orders:    {order(100, 1), order(101, 1), order(102, 2)},
	}}
	j := newTestJoin(t, map[string]any{"on_lookup_change": "reemit"}, src)
	if s := j.JoinStats(); s.BootstrapRows != 5 {
		t.Fatalf("bootstrap rows %d, want 5", s.BootstrapRows)
	}
	o := ev(sluice.OpCreate, orders, 10, 1, nil, order(103, 1))
	apply(t, j, o)
	if name(o.After) != "Ann" {
		t.Fatalf("bootstrapped customer not seen: %q", name(o.After))
	}
	apply(t, j, ev(sluice.OpUpdate, orders, 11, 1, order(101, 1), order(101, 2))) // 101 moves to Bob
	_, out := apply(t, j, ev(sluice.OpUpdate, customers, 20, 1, customer(1, "Ann"), customer(1, "Annie")))
	got := map[int64]string{}
	for _, e := range out {
		if e.Op != sluice.OpUpdate || len(e.Headers) != 1 || e.Headers[0].Name != CauseHeader || name(e.Before) != "Ann" {
			t.Errorf("re-emitted %+v", e)
		}
		got[e.After[0].Int] = name(e.After)
	}
	if want := map[int64]string{100: "Annie", 103: "Annie"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("re-emitted %v, want %v", got, want)
	}
	// a change outside the projection re-emits nothing
	c := customer(1, "Annie")
	c[2] = text("Bergen")
	if _, out := apply(t, j, ev(sluice.OpUpdate, customers, 21, 1, customer(1, "Annie"), c)); len(out) != 0 {
		t.Fatalf("a change of a column not joined re-emitted %d rows", len(out))
	}
	// a deleted order is not re-emitted
	apply(t, j, ev(sluice.OpDelete, orders, 22, 1, order(100, 1), nil))
	if _, out := apply(t, j, ev(sluice.OpUpdate, customers, 23, 1, c, customer(1, "Ana"))); len(out) != 1 || out[0].After[0].Int != 103 {
		t.Fatalf("after the delete: re-emitted %d rows, want order 103 only", len(out))
	}
	if s := j.JoinStats(); s.Reemitted != 3 || s.ReemitMax != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestMaxReemit(t *testing.T) {
	j := newTestJoin(t, map[string]any{"on_lookup_change": "reemit", "max_reemit": 3}, nil)
	apply(t, j, ev(sluice.OpCreate, customers, 1, 1, nil, customer(1, "Ann")))
	for i := range 10 {
		apply(t, j, ev(sluice.OpCreate, orders, 2, uint64(i+1), nil, order(int64(i), 1)))
	}
	_, out := apply(t, j, ev(sluice.OpUpdate, customers, 3, 1, customer(1, "Ann"), customer(1, "Bo")))
	if s := j.JoinStats(); len(out) != 3 || s.ReemitSkipped != 7 {
		t.Fatalf("re-emitted %d, skipped %d; want 3 and 7", len(out), s.ReemitSkipped)
	}
}

// TestStatePersists: a reopened store keeps its rows and does not fill
// again; another configuration fills it again.
func TestStatePersists(t *testing.T) {
	dir := t.TempDir()
	src := &fakeSource{rows: map[*sluice.Table][]sluice.Row{customers: {customer(1, "Ann")}, orders: nil}}
	j := newTestJoin(t, map[string]any{"dir": dir}, src)
	apply(t, j, ev(sluice.OpUpdate, customers, 5, 1, customer(1, "Ann"), customer(1, "Anna")))
	if err := j.Checkpoint(sluice.Position{TxLSN: 5}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	src.rows[customers] = nil // a second fill would lose Anna
	j2 := newTestJoin(t, map[string]any{"dir": dir}, src)
	e := ev(sluice.OpCreate, orders, 6, 1, nil, order(1, 1))
	apply(t, j2, e)
	if name(e.After) != "Anna" || j2.JoinStats().BootstrapRows != 0 {
		t.Fatalf("reopened: %q, bootstrap rows %d", name(e.After), j2.JoinStats().BootstrapRows)
	}
	j2.Close()
	j3 := newTestJoin(t, map[string]any{"dir": dir, "columns": []any{"name", "city"}}, src)
	e = ev(sluice.OpCreate, orders, 7, 1, nil, order(1, 1))
	apply(t, j3, e)
	if name(e.After) != "<null>" {
		t.Fatalf("another configuration kept the old state: %q", name(e.After))
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		entry map[string]any
		want  string
	}{
		{map[string]any{"lookup": "customers"}, "lookup"},
		{map[string]any{"on": map[string]any{}}, ".on: required"},
		{map[string]any{"as": "a b"}, ".as"},
		{map[string]any{"missing": "skip"}, ".missing"},
		{map[string]any{"on_lookup_change": "always"}, ".on_lookup_change"},
		{map[string]any{"on_lookup_change": "reemit", "tables": []any{"public.order*"}}, "not globs"},
		{map[string]any{"tables": nil}, ".tables: required"},
	} {
		raw := map[string]any{"type": "join", "tables": []any{"public.orders"}, "lookup": "public.customers",
			"on": map[string]any{"customer_id": "id"}, "as": "customer"}
		for k, v := range tc.entry {
			if v == nil {
				delete(raw, k)
				continue
			}
			raw[k] = v
		}
		_, err := transform.New(raw, transform.Env{Pipeline: "p", Path: "t[0]", StateDir: t.TempDir()})
		if err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.entry, err, tc.want)
		}
	}
	_, err := transform.New(map[string]any{"type": "join", "tables": []any{"public.orders"}, "lookup": "public.customers",
		"on": map[string]any{"customer_id": "id"}, "as": "customer"}, transform.Env{Pipeline: "p", Path: "t[0]", Sink: "kafka"})
	if err == nil {
		t.Error("a join among a sink's transforms was accepted")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestVersionsKeptForAReplay: versions are collected only up to where
// the source would resume, not up to the position just confirmed, which
// the source records later: a crash in between replays events that need
// the older versions.
func TestVersionsKeptForAReplay(t *testing.T) {
	src := &fakeSource{rows: map[*sluice.Table][]sluice.Row{customers: {customer(1, "v0")}, orders: nil}}
	j := newTestJoin(t, nil, src)
	for i, name := range []string{"v1", "v2", "v3"} {
		tx := uint64(10 * (i + 1))
		apply(t, j, ev(sluice.OpUpdate, customers, tx, 1, nil, customer(1, name)))
		if i == 1 {
			src.durable = 15 // the source recorded 15; 30 is confirmed but not recorded yet
			if err := j.Checkpoint(sluice.Position{TxLSN: 30}); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply(t, j, ev(sluice.OpUpdate, customers, 40, 1, nil, customer(1, "v4"))) // collects
	for _, tc := range []struct {
		tx   uint64
		want string
	}{{12, "v1"}, {25, "v2"}, {35, "v3"}, {45, "v4"}} {
		e := ev(sluice.OpCreate, orders, tc.tx, 2, nil, order(1, 1))
		apply(t, j, e)
		if got := name(e.After); got != tc.want {
			t.Errorf("an order at %d after the collection: %q, want %q", tc.tx, got, tc.want)
		}
	}
	src.durable = 40
	if err := j.Checkpoint(sluice.Position{TxLSN: 40}); err != nil {
		t.Fatal(err)
	}
	apply(t, j, ev(sluice.OpUpdate, customers, 50, 1, nil, customer(1, "v5")))
	e := ev(sluice.OpCreate, orders, 12, 2, nil, order(1, 1))
	apply(t, j, e)
	if got := name(e.After); got != "<null>" {
		t.Errorf("versions before the recorded position were kept: %q", got)
	}
}
