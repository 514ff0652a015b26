package transform

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// TestColumns: each operation on an insert of Sales.Customers, as the
// codec then writes key and after.
func TestColumns(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"none", map[string]any{"rename": map[string]any{"nope": "x"}},
			`{"Id":7} {"Id":7,"Email":"ann@example.com","Notes":"héllo wörld","Age":41,"Tags":["a","b"]}`},
		{"exclude", map[string]any{"exclude": []any{"Notes", "Tags"}},
			`{"Id":7} {"Id":7,"Email":"ann@example.com","Age":41}`},
		{"include", map[string]any{"include": []any{"Age", "Id"}},
			`{"Id":7} {"Id":7,"Age":41}`},
		{"include_key keeps the unlisted key", map[string]any{"include": []any{"Age"}, "include_key": true},
			`{"Id":7} {"Id":7,"Age":41}`},
		{"mask", map[string]any{"mask": map[string]any{"Email": "***", "Age": "n/a"}},
			`{"Id":7} {"Id":7,"Email":"***","Notes":"héllo wörld","Age":"n/a","Tags":["a","b"]}`},
		{"truncate counts characters", map[string]any{"truncate": map[string]any{"Notes": 2}},
			`{"Id":7} {"Id":7,"Email":"ann@example.com","Notes":"hé","Age":41,"Tags":["a","b"]}`},
		{"truncate longer than the value", map[string]any{"truncate": map[string]any{"Notes": 50}},
			`{"Id":7} {"Id":7,"Email":"ann@example.com","Notes":"héllo wörld","Age":41,"Tags":["a","b"]}`},
		{"rename, the key too", map[string]any{"rename": map[string]any{"Id": "customer_id", "Email": "mail"}},
			`{"customer_id":7} {"customer_id":7,"mail":"ann@example.com","Notes":"héllo wörld","Age":41,"Tags":["a","b"]}`},
		// printf 'pepper%s' 7 | sha256sum; printf 'pepper%s' 41 | sha256sum; printf 'pepper[a,b]' | sha256sum
		{"hash, the key too", map[string]any{"hash": []any{"Id", "Age", "Tags"}, "salt": "pepper", "exclude": []any{"Email", "Notes"}},
			`{"Id":"` + hashOf7 + `"} {"Id":"` + hashOf7 + `","Age":"` + hashOf41 + `","Tags":"` + hashOfTags + `"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.raw["type"] = "columns"
			tr := build(t, c.raw)
			ev := customer()
			orig := render(t, ev)
			keep, err := tr.Apply(ev)
			if err != nil || !keep {
				t.Fatalf("Apply = %v, %v", keep, err)
			}
			if got := render(t, ev); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
			// The source's values and table are left as they were.
			if got := render(t, &sluice.Event{Table: customers, After: customer().After}); got != orig {
				t.Fatalf("the input changed: %s", got)
			}
		})
	}
}

const (
	hashOf7    = "1b44481921a511e3b17e3200b40be11bd079c687d6209960a30c19e45b192723"
	hashOf41   = "ecc8f6f1dd59b3fbf7571bbeb7531732623d430f12bfc1ed2a82a858daee09bd"
	hashOfTags = "55b4481c003e1c8d03749d7a5c8047137710c0b434bfca2d1e367c0a3a2eb3c2"
)

// TestColumnsImages: before, after and the other key of a key change are
// projected alike; values the source did not send stay unsent, NULL
// stays NULL.
func TestColumnsImages(t *testing.T) {
	tr := build(t, map[string]any{"type": "columns", "exclude": []any{"Notes"}, "mask": map[string]any{"Email": "***"}})
	ev := &sluice.Event{Op: sluice.OpUpdate, Table: customers,
		Before:   sluice.Row{eventtest.Int(7), eventtest.Missing, eventtest.Missing, eventtest.Missing, eventtest.Missing},
		After:    sluice.Row{eventtest.Int(8), eventtest.Null, eventtest.Text("n"), eventtest.Unchanged, tags()},
		OtherKey: eventtest.KeyRow(customers, eventtest.Int(7))}
	if _, err := tr.Apply(ev); err != nil {
		t.Fatal(err)
	}
	want := []sluice.Row{
		{eventtest.Int(7), eventtest.Missing, eventtest.Missing, eventtest.Missing},
		{eventtest.Int(8), eventtest.Null, eventtest.Unchanged, tags()},
		{eventtest.Int(7), eventtest.Missing, eventtest.Missing, eventtest.Missing},
	}
	for i, got := range []sluice.Row{ev.Before, ev.After, ev.OtherKey} {
		if len(got) != len(want[i]) {
			t.Fatalf("image %d: %d values, want %d", i, len(got), len(want[i]))
		}
		for j := range got {
			if !got[j].Equal(want[i][j]) {
				t.Errorf("image %d value %d: %+v, want %+v", i, j, got[j], want[i][j])
			}
		}
	}
	if ev.Table.Columns[1].Type != sluice.TypeText || ev.Table.Index("Notes") >= 0 || len(ev.Table.Key) != 1 || ev.Table.Key[0] != 0 {
		t.Fatalf("derived table %+v", ev.Table)
	}
}

// TestColumnsIncludeKeyNeedsInclude: include_key widens an include list,
// so alone it would silently change nothing.
func TestColumnsIncludeKeyNeedsInclude(t *testing.T) {
	_, err := New(map[string]any{"type": "columns", "include_key": true, "exclude": []any{"Notes"}}, Env{Path: "p.transforms[0]"})
	if err == nil || !strings.Contains(err.Error(), "p.transforms[0].include_key: only with include") {
		t.Fatalf("error %v, want include_key: only with include", err)
	}
}

// TestColumnsRefusals: what would merge rows or cannot apply is a
// permanent error of the event's table, naming the operation.
func TestColumnsRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"drop the key", map[string]any{"exclude": []any{"Id"}}, `drops the key column "Id" of Sales.Customers`},
		{"include without the key", map[string]any{"include": []any{"Email"}}, `drops the key column "Id"`},
		{"mask the key", map[string]any{"mask": map[string]any{"Id": "x"}}, `masks or truncates the key column "Id"`},
		{"truncate a number", map[string]any{"truncate": map[string]any{"Age": 1}}, `truncate.Age: column "Age" of Sales.Customers is int4, not text`},
		{"rename onto another column", map[string]any{"rename": map[string]any{"Email": "Notes"}}, `rename: Sales.Customers would have two columns named "Notes"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.raw["type"] = "columns"
			_, err := build(t, c.raw).Apply(customer())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// TestColumnsStruct: a struct column (a joined row) is dropped, masked
// and renamed as any column; hashed whole, as its fields' texts in order;
// NULL (no match) stays NULL; truncating it is refused, as for any
// column that is not text.
func TestColumnsStruct(t *testing.T) {
	ann := structOf(eventtest.Int(7), eventtest.Text("Ann"), eventtest.Text("Oslo"), eventtest.Text("12.50"),
		eventtest.Int(1704164645123456), structOf(eventtest.Text("0150")))
	bergen := structOf(eventtest.Int(8), eventtest.Null, eventtest.Text("Bergen"), eventtest.Null, eventtest.Null, eventtest.Null)
	const annJSON = `{"id":7,"first_name":"Ann","city":"Oslo","balance":"BOI=","since":"2024-01-02T03:04:05.123456Z","address":{"zip":"0150"}}`
	for _, c := range []struct {
		name string
		raw  map[string]any
		cust sluice.Value
		want string
	}{
		{"keep", map[string]any{"rename": map[string]any{"nope": "x"}}, ann, `{"id":1} {"id":1,"customer":` + annJSON + `}`},
		{"rename", map[string]any{"rename": map[string]any{"customer": "buyer"}}, ann, `{"id":1} {"id":1,"buyer":` + annJSON + `}`},
		{"exclude", map[string]any{"exclude": []any{"customer"}}, ann, `{"id":1} {"id":1}`},
		{"mask", map[string]any{"mask": map[string]any{"customer": "***"}}, ann, `{"id":1} {"id":1,"customer":"***"}`},
		{"mask no match", map[string]any{"mask": map[string]any{"customer": "***"}}, eventtest.Null, `{"id":1} {"id":1,"customer":null}`},
		// printf 'pepper{id:7,first_name:Ann,city:Oslo,balance:12.50,since:1704164645123456,address:{zip:0150}}' | sha256sum
		{"hash", map[string]any{"hash": []any{"customer"}, "salt": "pepper"}, ann,
			`{"id":1} {"id":1,"customer":"53c60d9916a44cd329d2db4659347bf60d0343b4df31cccbacce9912a51507c6"}`},
		// printf 'pepper{id:8,first_name:null,city:Bergen,balance:null,since:null,address:null}' | sha256sum
		{"hash null fields", map[string]any{"hash": []any{"customer"}, "salt": "pepper"}, bergen,
			`{"id":1} {"id":1,"customer":"1b6147f2fcb48486cf75ac5a1d7b6e86a8a5cdebb97d4b906d2993fd016f698c"}`},
		{"hash no match", map[string]any{"hash": []any{"customer"}, "salt": "pepper"}, eventtest.Null, `{"id":1} {"id":1,"customer":null}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.raw["type"] = "columns"
			ev := joinedOrder(c.cust)
			ev.Op, ev.Before = sluice.OpCreate, nil
			if keep, err := build(t, c.raw).Apply(ev); err != nil || !keep {
				t.Fatalf("Apply = %v, %v", keep, err)
			}
			if got := render(t, ev); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
		})
	}
	_, err := build(t, map[string]any{"type": "columns", "truncate": map[string]any{"customer": 3}}).Apply(joinedOrder(ann))
	if want := `truncate.customer: column "customer" of public.orders is struct, not text`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("truncate a struct: %v, want %q", err, want)
	}
}
