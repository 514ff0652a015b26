package mysql

import (
	"fmt"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestMySQLNewTables: a table added to `tables` between two starts has its
// rows read by an incremental snapshot at the second start, while the
// other table streams on from the stored position with no new snapshot
// and no gap; removed again, its changes stop. snapshot.new_tables none
// streams the joined table without reading it.
func TestMySQLNewTables(t *testing.T) {
	for _, c := range []struct {
		newTables string
		wantReads int
	}{{"incremental", 30}, {"none", 0}} {
		t.Run(c.newTables, func(t *testing.T) {
			it := newIncTest(t, 20)
			b := it.table + "_b"
			it.exec("CREATE TABLE "+b+" (id INT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(20))",
				"INSERT INTO "+b+" SELECT seq, 0, 'b' FROM seq_1_to_30")
			it.dropAfter(b)
			opts := func(tables ...any) map[string]any {
				return map[string]any{"tables": tables, "schema_changes": false,
					"snapshot": map[string]any{"mode": "initial", "chunk_size": 7, "new_tables": c.newTables}}
			}
			count := func(events []*sluice.Event, table string, op sluice.Op) (n int) {
				for _, ev := range events {
					if ev.Table != nil && ev.Table.Name == table && ev.Op == op {
						n++
					}
				}
				return n
			}

			// First start: the initial snapshot of a only.
			it.startWith(opts(it.table), nil)
			it.streaming()
			first := it.wait(20)
			if n := count(first, it.table, sluice.OpRead); n != 20 {
				t.Fatalf("first start: %d reads of %s, want 20", n, it.table)
			}
			it.exec("UPDATE " + it.table + " SET v = 1 WHERE id = 1")
			it.wait(21)
			if err := it.stop(); err != nil {
				t.Fatal(err)
			}

			// While stopped: a changes (the stream must carry it), b too
			// (only the snapshot can: the stream starts after it).
			it.exec("UPDATE "+it.table+" SET v = 2 WHERE id = 2", "UPDATE "+b+" SET v = 9 WHERE id = 3")
			it.startWith(opts(it.table, b), nil)
			it.streaming()
			if c.wantReads > 0 {
				it.jobs("the new table's snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
			}
			it.exec("INSERT INTO " + b + " VALUES (31, 0, 'new')")
			second := it.wait(c.wantReads + 2)
			if n := count(second, it.table, sluice.OpRead); n != 0 {
				t.Errorf("second start re-read %d rows of %s, want none", n, it.table)
			}
			if n := count(second, it.table, sluice.OpUpdate); n != 1 {
				t.Errorf("second start: %d updates of %s, want the 1 made while stopped", n, it.table)
			}
			if n := count(second, b, sluice.OpRead); n != c.wantReads {
				t.Errorf("second start: %d reads of the joined table, want %d", n, c.wantReads)
			}
			for _, ev := range second {
				if ev.Table != nil && ev.Table.Name == b && ev.Op == sluice.OpRead && ev.After[0].Int == 3 && ev.After[1].Int != 9 {
					t.Errorf("the snapshot read row 3 of the joined table as v=%d, want its state after the restart (9)", ev.After[1].Int)
				}
			}
			if n := count(second, b, sluice.OpCreate); n != 1 {
				t.Errorf("second start: %d inserts into the joined table streamed, want 1", n)
			}
			if err := it.stop(); err != nil {
				t.Fatal(err)
			}

			// Third start without a: its changes no longer arrive.
			it.exec("UPDATE " + it.table + " SET v = 3 WHERE id = 3")
			it.startWith(opts(b), nil)
			it.streaming()
			it.exec(fmt.Sprintf("UPDATE %s SET v = 4 WHERE id = 4", b))
			third := it.wait(1)
			if n := count(third, it.table, sluice.OpUpdate) + count(third, it.table, sluice.OpRead); n != 0 {
				t.Errorf("third start: %d events of the removed table, want none", n)
			}
			if n := count(third, b, sluice.OpRead); n != 0 {
				t.Errorf("third start re-read %d rows of the joined table, want none", n)
			}
			if err := it.stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
