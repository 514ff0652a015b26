package mysql

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestFilterSQL: a filter becomes SQL over the table's columns with every
// literal a parameter of its column's type; what the grammar does not
// allow, and literals that are no value of their column, are refused.
func TestFilterSQL(t *testing.T) {
	rel := &relation{
		table: &sluice.Table{DB: "shop", Name: "orders", Columns: []sluice.Column{{Name: "id"}, {Name: "Name"}, {Name: "price", Length: 8, Scale: 2}, {Name: "w"}}},
		cols:  []colInfo{{kind: kInt}, {kind: kText}, {kind: kDecimal}, {kind: kDouble}},
	}
	for _, c := range []struct {
		filter, sql, args, err string
	}{
		{"", "", "[]", ""},
		{"id > 10", "(`id` > ?)", "[10]", ""},
		{"10 < id", "(`id` > ?)", "[10]", ""},
		{"NAME = 'a''b' AND NOT price <= 9.5", "((`Name` = ?) AND (NOT (`price` <= CAST(? AS DECIMAL(8,2)))))", "[a'b 9.5]", ""},
		{"name ILIKE 'x%' OR id IN (1, 2) OR w BETWEEN 1 AND 2.5", "((LOWER(`Name`) LIKE LOWER(?)) OR (`id` IN (?, ?)) OR (`w` BETWEEN ? AND ?))", "[x% 1 2 1 2.5]", ""},
		{"id IS NOT NULL AND name NOT LIKE '%z'", "((`id` IS NOT NULL) AND (`Name` NOT LIKE ?))", "[%z]", ""},
		{"id = TRUE", "(`id` = ?)", "[1]", ""},
		{"id = 'abc'", "", "", "not an integer"},
		{"nope = 1", "", "", "no column"},
		{"id = 1; DROP TABLE x", "", "", "';' is not allowed"},
		{"sleep(1) = 0", "", "", "function calls"},
		{"id = (SELECT 1)", "", "", "sub-selects"},
		{"id = 1 -- x", "", "", "comments"},
		{"id = `x`", "", "", "unexpected"},
	} {
		f, err := compileFilter(c.filter, rel)
		if c.err != "" {
			if err == nil || !errors.Is(err, errFilter) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want a refusal naming %q", c.filter, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.filter, err)
			continue
		}
		sql, args := f.sql()
		if sql != c.sql || fmt.Sprint(args) != c.args && !(len(args) == 0 && c.args == "[]") {
			t.Errorf("%q: %s %v, want %s %s", c.filter, sql, args, c.sql, c.args)
		}
	}
}
