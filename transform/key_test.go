package transform

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// TestKey: the chosen columns form the key, in the order given; the
// table the source made is left as it was.
func TestKey(t *testing.T) {
	for _, c := range []struct {
		name string
		cols []any
		want string
	}{
		{"one column", []any{"Email"}, `{"Email":"ann@example.com"}`},
		{"in the order given", []any{"Age", "Id"}, `{"Age":41,"Id":7}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := build(t, map[string]any{"type": "key", "columns": c.cols})
			ev := customer()
			if _, err := tr.Apply(ev); err != nil {
				t.Fatal(err)
			}
			got, _, _ := strings.Cut(render(t, ev), " ")
			if got != c.want {
				t.Fatalf("key %s, want %s", got, c.want)
			}
			if len(customers.Key) != 1 || !customers.Columns[0].Key || customers.Columns[1].Key {
				t.Fatalf("the source's table changed: %+v", customers)
			}
		})
	}
}

// TestKeyForKeylessTable: a table without a key gets one, so its events
// have keys (compacted topics, document ids).
func TestKeyForKeylessTable(t *testing.T) {
	keyless := &sluice.Table{Schema: "public", Name: "log", Columns: []sluice.Column{
		{Name: "at", DBType: "int8", Type: sluice.TypeInt64}, {Name: "msg", DBType: "text", Type: sluice.TypeText}}}
	ev := eventtest.Insert(keyless, eventtest.Int(5), eventtest.Text("x"))
	if got, _, _ := strings.Cut(render(t, ev), " "); got != "null" {
		t.Fatalf("key before %s", got)
	}
	if _, err := build(t, map[string]any{"type": "key", "columns": []any{"at"}}).Apply(ev); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := strings.Cut(render(t, ev), " "); got != `{"at":5}` {
		t.Fatalf("key %s", got)
	}
}

// TestKeyChangeHalves: the other key of a key change's halves holds the
// source's key columns; with another key it would be wrong, so it goes.
func TestKeyChangeHalves(t *testing.T) {
	ev := customer()
	ev.OtherKey = eventtest.KeyRow(customers, eventtest.Int(6))
	if _, err := build(t, map[string]any{"type": "key", "columns": []any{"Email"}}).Apply(ev); err != nil {
		t.Fatal(err)
	}
	if ev.OtherKey != nil {
		t.Fatal("other key kept")
	}
	ev = customer()
	ev.OtherKey = eventtest.KeyRow(customers, eventtest.Int(6))
	if _, err := build(t, map[string]any{"type": "key", "columns": []any{"Id"}}).Apply(ev); err != nil {
		t.Fatal(err)
	}
	if ev.OtherKey == nil {
		t.Fatal("other key of the same key dropped")
	}
}

// TestKeyMissingColumn: a table without a chosen column is a permanent
// error naming the column and the table.
func TestKeyMissingColumn(t *testing.T) {
	_, err := build(t, map[string]any{"type": "key", "columns": []any{"Id", "email"}}).Apply(customer())
	if err == nil || !strings.Contains(err.Error(), `columns[1]: table Sales.Customers has no column "email"`) {
		t.Fatalf("error %v", err)
	}
}
