package postgres

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/filter"
)

var filterTable = &sluice.Table{Schema: "public", Name: "orders", Columns: []sluice.Column{
	{Name: "id"}, {Name: "status"}, {Name: "total"}, {Name: "Mixed Case"}, {Name: "note"}}}

// TestFilterGrammar: filters of the grammar become SQL over the table's
// own columns with every literal a parameter; the rest is refused with a
// reason.
func TestFilterGrammar(t *testing.T) {
	for _, c := range []struct{ in, sql string }{
		{"id > 1000", `(s."id" > $1)`},
		{"1000 < id", `(s."id" > $1)`},
		{"ID>=-5.5e3", `(s."id" >= $1)`},
		{"status = 'it''s' AND total != 0", `((s."status" = $1) AND (s."total" <> $2))`},
		{"(id < 10 OR id > 20) AND NOT status IN ('a', 'b')", `(((s."id" < $1) OR (s."id" > $2)) AND (NOT (s."status" IN ($3, $4))))`},
		{"status NOT IN ('x') OR note IS NULL OR note IS NOT NULL", `((s."status" NOT IN ($1)) OR (s."note" IS NULL) OR (s."note" IS NOT NULL))`},
		{"total BETWEEN 1 AND 2 AND total NOT BETWEEN .5 AND +3", `((s."total" BETWEEN $1 AND $2) AND (s."total" NOT BETWEEN $3 AND $4))`},
		{`"Mixed Case" LIKE 'a%' AND note NOT ILIKE '%b'`, `((s."Mixed Case" LIKE $1) AND (s."note" NOT ILIKE $2))`},
		{"status = TRUE", `(s."status" = $1)`},
		{"  ", ""},
	} {
		f, err := compileFilter(c.in, filterTable)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		var b strings.Builder
		if !f.empty() {
			f.appendSQL(&b, nil)
		}
		if b.String() != c.sql {
			t.Errorf("%q: SQL %s, want %s", c.in, b.String(), c.sql)
		}
	}
	f, _ := compileFilter("status = 'it''s' AND id IN (1, 2)", filterTable)
	var b strings.Builder
	args := f.appendSQL(&b, []any{"k"})
	if got := b.String(); got != `((s."status" = $2) AND (s."id" IN ($3, $4)))` || len(args) != 4 || args[1] != "it's" || args[3] != "2" {
		t.Errorf("parameters after the keyset's: %s %q", got, args)
	}

	for _, c := range []struct{ in, want string }{
		{"1=1; DROP TABLE x", "';'"},
		{"id = 1;", "';'"},
		{"id IN (SELECT id FROM pg_authid)", "sub-select"},
		{"(SELECT true)", "sub-select"},
		{"id = (SELECT 1)", "sub-select"},
		{"EXISTS (SELECT 1)", "sub-select"},
		{"pg_sleep(10) IS NULL", "function"},
		{"id > 0 OR pg_sleep(1) IS NOT NULL", "function"},
		{"id = now()", "function"},
		{"id = length('x')", "function"},
		{"id::text = '1'", "cast"},
		{"id = 1 -- x", "comment"},
		{"id = 1 /* x */", "comment"},
		{"id = $1", "'$'"},
		{"id = $$x$$", "'$'"},
		{"status = E'\\x41'", "prefixed"},
		{"id = id", "not a column"},
		{"1 = 1", "column on one side"},
		{"id = NULL", "IS [NOT] NULL"},
		{"nosuch = 1", `no column "nosuch"`},
		{"Mixed Case = 1", "unexpected"},
		{"\"mixed case\" = 1", `no column "mixed case"`},
		{"public.orders.id = 1", "qualified"},
		{"id > 1 AND", "end of the filter"},
		{"id >", "end of the filter"},
		{"(id > 1", "end of the filter"},
		{"id > 1)", "unexpected )"},
		{"id + 1 > 2", "unexpected"},
		{"id || 'x' = 'y'", "unexpected"},
		{"status LIKE status", "pattern"},
		{"id BETWEEN 1 OR 2", "AND in BETWEEN"},
		{"id", "end of the filter"},
		{"'unterminated", "unterminated"},
		{strings.Repeat("(", 40) + "id = 1" + strings.Repeat(")", 40), "nested"},
		{strings.Repeat("x", filter.MaxLen+1), "longer"},
	} {
		_, err := compileFilter(c.in, filterTable)
		if err == nil || !errors.Is(err, errFilter) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want a refusal saying %s", c.in, err, c.want)
		}
	}
}

// FuzzFilter: whatever the text, parsing neither panics nor lets through
// SQL of its own: the SQL built from an accepted filter holds only the
// table's quoted columns, parameters, and sluice's own keywords.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{"id > 1", "status IN ('a','b') AND NOT (total BETWEEN 1 AND 2)", `"Mixed Case" LIKE 'x%'`,
		"1=1; DROP TABLE x", "pg_sleep(1) IS NULL", "id = (SELECT 1)", "id = 'a''b'", "id IS NOT NULL OR note ILIKE '%'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := compileFilter(s, filterTable)
		if err != nil || flt.empty() {
			return
		}
		var b strings.Builder
		args := flt.appendSQL(&b, nil)
		sql := b.String()
		for _, a := range args {
			if _, ok := a.(string); !ok {
				t.Fatalf("argument %v is not a string", a)
			}
		}
		rest := sql
		for _, c := range filterTable.Columns {
			rest = strings.ReplaceAll(rest, `s."`+c.Name+`"`, "")
		}
		for _, kw := range []string{"NOT BETWEEN", "BETWEEN", "NOT ILIKE", "ILIKE", "NOT LIKE", "LIKE", "NOT IN", "IS NOT NULL", "IS NULL", "AND", "OR", "NOT", "IN",
			"<>", "<=", ">=", "=", "<", ">"} {
			rest = strings.ReplaceAll(rest, kw, "")
		}
		for i := len(args); i >= 1; i-- {
			rest = strings.ReplaceAll(rest, "$"+strconv.Itoa(i), "")
		}
		if strings.Trim(rest, "() ,") != "" {
			t.Fatalf("filter %q built SQL %s with unexpected parts %q", s, sql, rest)
		}
	})
}
