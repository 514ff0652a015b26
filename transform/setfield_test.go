package transform

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// TestSetField: fixed and computed fields, added after the columns or
// replacing one, in before and after alike.
func TestSetField(t *testing.T) {
	for _, c := range []struct {
		name   string
		fields []any
		want   string
	}{
		{"fixed", []any{map[string]any{"name": "tenant", "value": "acme"}, map[string]any{"name": "v", "value": 2},
			map[string]any{"name": "f", "value": 1.5}, map[string]any{"name": "b", "value": true}},
			`{"Id":7,"Email":"ann@example.com","Notes":"héllo wörld","Age":41,"Tags":["a","b"],"tenant":"acme","v":2,"f":1.5,"b":true}`},
		{"computed", []any{
			map[string]any{"name": "adult", "expression": `after.Age >= 18`, "type": "bool"},
			map[string]any{"name": "domain", "expression": `split(after.Email, "@")[1]`},
			map[string]any{"name": "age2", "expression": `after.Age * 2`, "type": "int"},
			map[string]any{"name": "none", "expression": `after.Notes == "x" ? "y" : nil`}},
			`{"Id":7,"Email":"ann@example.com","Notes":"héllo wörld","Age":41,"Tags":["a","b"],"adult":true,"domain":"example.com","age2":82,"none":null}`},
		{"replace a column", []any{map[string]any{"name": "Email", "value": "hidden"}},
			`{"Id":7,"Email":"hidden","Notes":"héllo wörld","Age":41,"Tags":["a","b"]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := build(t, map[string]any{"type": "set_field", "fields": c.fields})
			for range 2 {
				ev := customer()
				ev.Before = eventtest.KeyRow(customers, eventtest.Int(7))
				if keep, err := tr.Apply(ev); err != nil || !keep {
					t.Fatalf("Apply = %v, %v", keep, err)
				}
				if _, got, _ := strings.Cut(render(t, ev), " "); got != c.want {
					t.Fatalf("got  %s\nwant %s", got, c.want)
				}
				if len(ev.Before) != len(ev.Table.Columns) {
					t.Fatalf("before has %d values for %d columns", len(ev.Before), len(ev.Table.Columns))
				}
			}
		})
	}
}

// TestSetFieldErrors: bad fields are refused when the pipeline is built;
// a key column cannot be set.
func TestSetFieldErrors(t *testing.T) {
	for _, c := range []struct {
		fields any
		want   string
	}{
		{nil, "transforms[0].fields: required"},
		{[]any{map[string]any{"value": "x"}}, `fields[0].name: "" is empty`},
		{[]any{map[string]any{"name": "a"}}, "fields[0]: set value or expression"},
		{[]any{map[string]any{"name": "a", "value": "x", "expression": "1"}}, "fields[0]: set value or expression"},
		{[]any{map[string]any{"name": "a", "value": []any{1}}}, "fields[0].value: [1] is not a string, number or boolean"},
		{[]any{map[string]any{"name": "a", "expression": "1", "type": "date"}}, `fields[0].type: "date" is not string, int, float or bool`},
		{[]any{map[string]any{"name": "a", "expression": "1 + 1"}}, "fields[0].expression: expected string"},
		{[]any{map[string]any{"name": "a", "value": 1}, map[string]any{"name": "a", "value": 2}}, `fields[1].name: "a" is empty or set twice`},
	} {
		raw := map[string]any{"type": "set_field"}
		if c.fields != nil {
			raw["fields"] = c.fields
		}
		_, err := New(raw, Env{Path: "pipelines.shop.transforms[0]"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.fields, err, c.want)
		}
	}
	tr := build(t, map[string]any{"type": "set_field", "fields": []any{map[string]any{"name": "Id", "value": 1}}})
	if _, err := tr.Apply(customer()); err == nil || !strings.Contains(err.Error(), `"Id" is a key column of Sales.Customers`) {
		t.Errorf("key column: %v", err)
	}
	msg := eventtest.Message("p", "c")
	if keep, err := tr.Apply(msg); !keep || err != nil || msg.Table != nil {
		t.Errorf("message: %v, %v", keep, err)
	}
}
