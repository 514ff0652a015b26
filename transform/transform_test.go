package transform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// Customers is a table with mixed-case names: "Id" (the key), "Email",
// "Notes", "Age" (int4) and "Tags" (text[]).
var customers = &sluice.Table{
	ID: 16500, DB: "shop", Schema: "Sales", Name: "Customers",
	Columns: []sluice.Column{
		{Name: "Id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "Email", DBType: "text", Type: sluice.TypeText, Optional: true},
		{Name: "Notes", DBType: "text", Type: sluice.TypeText, Optional: true},
		{Name: "Age", DBType: "int4", Type: sluice.TypeInt32, Optional: true},
		{Name: "Tags", DBType: "_text", Type: sluice.TypeArray, Elem: sluice.TypeText, Optional: true},
	},
	Key: []int{0},
}

func tags(s ...string) sluice.Value {
	v := sluice.Value{Kind: sluice.KindPresent}
	for _, e := range s {
		v.Elems = append(v.Elems, eventtest.Text(e))
	}
	return v
}

func customer() *sluice.Event {
	return eventtest.Insert(customers, eventtest.Int(7), eventtest.Text("ann@example.com"), eventtest.Text("héllo wörld"),
		eventtest.Int(41), tags("a", "b"))
}

// build builds one entry the way pipeline.Build does.
func build(t *testing.T, raw map[string]any) sluice.Transform {
	t.Helper()
	tr, err := New(raw, Env{Pipeline: "shop", Path: "pipelines.shop.transforms[0]"})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// render is the event's key and after image as the codec writes them.
func render(t *testing.T, ev *sluice.Event) string {
	t.Helper()
	enc, err := codec.New(codec.Options{Name: "shop", Connector: "postgresql", DB: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	key, ok := enc.AppendKey(nil, ev)
	if !ok {
		key = []byte("null")
	}
	return string(key) + " " + string(enc.AppendRow(nil, ev.Table, ev.After))
}

// TestConfigErrors: every bad entry is refused when the pipeline is
// built (sluice validate), naming the key.
func TestConfigErrors(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "salt")
	for _, c := range []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"no type", map[string]any{"tables": []any{"a.b"}}, "pipelines.shop.transforms[0].type: required"},
		{"unknown type", map[string]any{"type": "nope"}, `type: unknown transform type "nope"`},
		{"unknown key", map[string]any{"type": "key", "columns": []any{"a"}, "colums": 1}, "transforms[0].colums: unknown key"},
		{"bad op", map[string]any{"type": "key", "columns": []any{"a"}, "ops": []any{"c", "x"}}, `transforms[0].ops[1]: "x" is not an operation`},
		{"bad glob", map[string]any{"type": "key", "columns": []any{"a"}, "tables": []any{"a.[b"}}, `transforms[0].tables[0]: "a.[b" is not`},
		{"key without columns", map[string]any{"type": "key"}, "transforms[0].columns: required"},
		{"key column twice", map[string]any{"type": "key", "columns": []any{"a", "a"}}, `transforms[0].columns[1]: "a" is empty or listed twice`},
		{"columns changes nothing", map[string]any{"type": "columns"}, "changes nothing"},
		{"include and exclude", map[string]any{"type": "columns", "include": []any{"a"}, "exclude": []any{"b"}}, "transforms[0].exclude: set include or exclude, not both"},
		{"mask of an excluded column", map[string]any{"type": "columns", "exclude": []any{"a"}, "mask": map[string]any{"a": "x"}}, `transforms[0].mask.a: column "a" is not kept`},
		{"mask and hash", map[string]any{"type": "columns", "mask": map[string]any{"a": "x"}, "hash": []any{"a"}, "salt": "s"}, `transforms[0].hash[0]: column "a" already has mask.a`},
		{"truncate to nothing", map[string]any{"type": "columns", "truncate": map[string]any{"a": 0}}, "transforms[0].truncate.a: 0: must be at least 1"},
		{"hash without salt", map[string]any{"type": "columns", "hash": []any{"a"}}, "transforms[0].salt: required with hash"},
		{"salt file missing", map[string]any{"type": "columns", "hash": []any{"a"}, "salt_file": secret}, "transforms[0].salt_file: open"},
		{"rename onto one name", map[string]any{"type": "columns", "rename": map[string]any{"a": "x", "b": "x"}}, `transforms[0].rename.b: "x" is already the new name of "a"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.raw, Env{Pipeline: "shop", Path: "pipelines.shop.transforms[0]"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestTablesAndOps: an entry applies only to the events its tables and
// ops select; the others pass unchanged, messages only match an entry
// without tables.
func TestTablesAndOps(t *testing.T) {
	mask := func(extra map[string]any) sluice.Transform {
		raw := map[string]any{"type": "columns", "mask": map[string]any{"note": "***"}}
		for k, v := range extra {
			raw[k] = v
		}
		return build(t, raw)
	}
	masked := func(tr sluice.Transform, ev *sluice.Event) bool {
		keep, err := tr.Apply(ev)
		if err != nil || !keep {
			t.Fatalf("Apply = %v, %v", keep, err)
		}
		return ev.After != nil && string(ev.After[1].Bytes) == "***"
	}
	ins := func() *sluice.Event { return eventtest.Insert(eventtest.Orders, eventtest.Int(1), eventtest.Text("x")) }
	for _, c := range []struct {
		name  string
		extra map[string]any
		want  bool
	}{
		{"every event", nil, true},
		{"by name", map[string]any{"tables": []any{"public.orders"}}, true},
		{"by glob", map[string]any{"tables": []any{"other.*", "pub*.ord?rs"}}, true},
		{"another table", map[string]any{"tables": []any{"public.order"}}, false},
		{"case counts", map[string]any{"tables": []any{"Public.Orders"}}, false},
		{"by op", map[string]any{"ops": []any{"c"}}, true},
		{"another op", map[string]any{"ops": []any{"u", "d"}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := mask(c.extra)
			for range 2 { // the second time from the table cache
				if got := masked(tr, ins()); got != c.want {
					t.Fatalf("masked %v, want %v", got, c.want)
				}
			}
		})
	}
	msg := eventtest.Message("p", "c")
	if keep, err := mask(map[string]any{"tables": []any{"*"}}).Apply(msg); !keep || err != nil {
		t.Fatalf("message: %v, %v", keep, err)
	}
}

// TestSaltFile: salt_file is read when the pipeline is
// built, its trailing newline dropped.
func TestSaltFile(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "salt")
	if err := os.WriteFile(secret, []byte("pepper\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ev := customer()
	tr := build(t, map[string]any{"type": "columns", "hash": []any{"Email"}, "salt_file": secret})
	if _, err := tr.Apply(ev); err != nil {
		t.Fatal(err)
	}
	// printf 'pepper%s' ann@example.com | sha256sum
	if got := string(ev.After[1].Bytes); got != "831740710d6a8225c6ad8e71610353afdfcf9f6a3caa448dc11ab17a513081c2" {
		t.Fatalf("hash %s", got)
	}
}
