package elasticsearch

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// The columns option names tables as the database spells them: a MySQL
// table by db.table (it has no schema) and a mixed-case PostgreSQL table
// with its capitals; only the listed columns are indexed.
func TestColumnsMatchMySQLAndMixedCaseTables(t *testing.T) {
	cols := []sluice.Column{
		{Name: "ID", Type: sluice.TypeInt32, Key: true},
		{Name: "Note", Type: sluice.TypeText, Optional: true},
		{Name: "Secret", Type: sluice.TypeText, Optional: true},
	}
	mysqlTable := &sluice.Table{DB: "Shop", Name: "OrderLines", Columns: cols, Key: []int{0}}
	pgTable := &sluice.Table{DB: "shop", Schema: "Sales", Name: "Order Lines", Columns: cols, Key: []int{0}}
	f := newFakeES(t)
	s := f.sink(map[string]any{"index": "lines", "columns": map[string]any{
		"Shop.OrderLines":   []any{"ID", "Note"},
		"Sales.Order Lines": []any{"Note"},
	}})
	clk := &eventtest.TxClock{}
	row := func(id int64) sluice.Row {
		return sluice.Row{eventtest.Int(id), eventtest.Text("n"), eventtest.Text("hidden")}
	}
	events := clk.Tx(
		&sluice.Event{Op: sluice.OpCreate, Table: mysqlTable, After: row(1)},
		&sluice.Event{Op: sluice.OpCreate, Table: pgTable, After: row(2)},
	)
	acks := write(t, s, events)
	closeSink(t, s)
	acks.check(t)
	for _, c := range []struct {
		id, want string
		not      []string
	}{
		{"1", `"Note":"n"`, []string{"Secret", "hidden"}},
		{"2", `"Note":"n"`, []string{"Secret", "hidden", `"ID"`}},
	} {
		d, ok := f.doc("lines", c.id)
		if !ok {
			t.Fatalf("document %s missing", c.id)
		}
		src := string(d.source)
		if !strings.Contains(src, c.want) {
			t.Errorf("document %s = %s, want %s", c.id, src, c.want)
		}
		for _, n := range c.not {
			if strings.Contains(src, n) {
				t.Errorf("document %s = %s: column %s is not listed", c.id, src, n)
			}
		}
	}
}
