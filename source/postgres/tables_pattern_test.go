package postgres

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/source"
)

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "orders", true},
		{"order_?", "order_1", true},
		{"order_?", "order_", false},
		{"order_?", "order_12", false},
		{"order_*", "order_", true},
		{"order_*", "orders", false},
		{"*_log", "audit_log", true},
		{"*_log", "audit_log_old", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYc_", false},
		{"[a-c]*", "b2", true},
		{"[a-c]*", "d2", false},
		{"[!a-c]*", "d2", true},
		{"[!a-c]*", "a2", false},
		{"[^a-c]*", "d2", true},
		{"[^a-c]*", "c2", false},
		{"t[]]", "t]", true},
		{"t[a-]", "t-", true},
		{"?", "é", true}, // a character, not a byte
		{"Orders", "orders", false},
		{"*", "a.b", true}, // a quoted name may hold a dot
	} {
		if got := globMatch(c.pattern, c.s); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestParseEntry(t *testing.T) {
	for _, c := range []struct {
		in                   string
		schema, name         string
		schemaGlob, nameGlob bool
		err                  string
	}{
		{in: "public.orders", schema: "public", name: "orders"},
		{in: "orders", schema: "public", name: "orders"},
		{in: "public.*", schema: "public", name: "*", nameGlob: true},
		{in: "*", schema: "public", name: "*", nameGlob: true},
		{in: "sales.order_?", schema: "sales", name: "order_?", nameGlob: true},
		{in: "*.audit", schema: "*", name: "audit", schemaGlob: true},
		{in: `public."odd*name"`, schema: "public", name: "odd*name"},
		{in: `"s*"."t?"`, schema: "s*", name: "t?"},
		{in: `"*"`, schema: "public", name: "*"},
		{in: "public.[a-c]*", schema: "public", name: "[a-c]*", nameGlob: true},
		{in: "public.[a", err: "is not a valid pattern: [ without closing ]"},
		{in: "public.[]", err: "is not a valid pattern: [ without closing ]"},
		{in: "[c-a].t", err: "is not a valid pattern: range c-a is descending"},
		{in: "a.b.c", err: "is not schema.table"},
		{in: "", err: "is not schema.table"},
	} {
		e, err := parseEntry(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("parseEntry(%q) = %+v, %v; want error %q", c.in, e, err, c.err)
			}
			continue
		}
		want := tableEntry{c.schema, c.name, c.schemaGlob, c.nameGlob}
		if err != nil || e != want {
			t.Errorf("parseEntry(%q) = %+v, %v; want %+v", c.in, e, err, want)
		}
	}
}

func TestEntryMatches(t *testing.T) {
	for _, c := range []struct {
		entry, schema, name string
		want                bool
	}{
		{"public.orders", "public", "orders", true},
		{"public.orders", "public", "orders2", false},
		{"public.*", "public", "anything", true},
		{"public.*", "sales", "anything", false},
		{"*.*", "sales", "x", true},
		{"*.*", "pg_catalog", "pg_class", false}, // never a system schema
		{"*.*", "information_schema", "tables", false},
		{"pg_*.*", "pg_catalog", "pg_class", false},
		{"pg_catalog.pg_class", "pg_catalog", "pg_class", true}, // an exact name is what it says
		{`"Sales".*`, "Sales", "x", true},
		{`"Sales".*`, "sales", "x", false},
		{`public."a*"`, "public", "a*", true},
		{`public."a*"`, "public", "ab", false},
	} {
		e, err := parseEntry(c.entry)
		if err != nil {
			t.Fatalf("%q: %v", c.entry, err)
		}
		if got := e.matches(c.schema, c.name); got != c.want {
			t.Errorf("%q matches %s.%s = %v, want %v", c.entry, c.schema, c.name, got, c.want)
		}
	}
}

func TestCaptures(t *testing.T) {
	for _, c := range []struct {
		tables []string
		table  string
		want   bool
	}{
		{[]string{"public.orders"}, "public.orders", true},
		{[]string{"public.orders"}, "orders", true},
		{[]string{"public.orders"}, "public.items", false},
		{[]string{"public.*"}, "public.items", true},
		{[]string{"public.*"}, "sales.items", false},
		{[]string{"public.*"}, "public.sluice_signal", false}, // the signal table
		{[]string{"public.*"}, "public.sluice_state", false},  // the state table
		{[]string{"sales.order_?", "public.x"}, "sales.order_9", true},
		{nil, "public.anything", true}, // tables: all; the publication decides
		{nil, "public.sluice_signal", false},
		{[]string{"public.*"}, "not a.table.name", false},
	} {
		s := &Source{cfg: Config{Tables: c.tables, SignalTable: "public.sluice_signal", State: StateConfig{Table: "public.sluice_state"}}}
		if got := s.captures(c.table); got != c.want {
			t.Errorf("tables %v: captures(%q) = %v, want %v", c.tables, c.table, got, c.want)
		}
	}
}

func TestTablesPatternConfig(t *testing.T) {
	for _, c := range []struct {
		tables    []any
		newTables string
		err       string
	}{
		{tables: []any{"public.*", "sales.order_?"}},
		{tables: []any{"public.[a"}, err: `src.tables[0]: "public.[a" is not a valid pattern: [ without closing ]`},
		{tables: []any{"public.x", "a.b.c"}, err: `src.tables[1]: "a.b.c" is not schema.table`},
		{tables: []any{"public.x"}, newTables: "none"},
		{tables: []any{"public.x"}, newTables: "blocking", err: `src.snapshot.new_tables: "blocking" is not incremental or none`},
	} {
		raw := map[string]any{"type": "postgres", "dsn": "postgres://u@127.0.0.1/db", "tables": c.tables}
		if c.newTables != "" {
			raw["snapshot"] = map[string]any{"new_tables": c.newTables}
		}
		s, err := source.Build(New, raw, testEnv())
		if c.err == "" {
			if err != nil {
				t.Errorf("%v: %v", c.tables, err)
			} else if want := map[bool]string{true: "none", false: "incremental"}[c.newTables == "none"]; s.cfg.Snapshot.NewTables != want {
				t.Errorf("%v: new_tables %q, want %q", c.tables, s.cfg.Snapshot.NewTables, want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%v: error %v, want %q", c.tables, err, c.err)
		}
	}
}
