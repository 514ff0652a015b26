package postgres

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// ddlRows and ddlChunk size TestSnapshotColumnsChangeMidSnapshot's table
// and chunks.
const ddlRows, ddlChunk = 50, 10

// ddlCase is a change of snap_ddl's columns or key between two chunks.
type ddlCase struct {
	name  string
	alter string
	cols  []string // the table's columns after the ALTER
	check func(t *testing.T, ev *sluice.Event)
	// after lists the ids read after the first chunk, in order; nil: the
	// rest of the table in id order.
	after []int64
}

// TestSnapshotColumnsChangeMidSnapshot: a column is dropped or added, or
// the key changed, between two chunks of a snapshot (from the hook before
// the second chunk's low watermark, while the first may still wait for
// the stream). The snapshot must go on with the table as it now is: it
// completes (the job does not fail on a column that no longer exists),
// reads every row once, and the chunks read after the ALTER carry the
// table's new columns, so the replayed state equals the table. When the
// key changes, the table is read again from the start in the new key's
// order. Incremental snapshots (a worker, with watermarks) and blocking
// ones (the stream goroutine) read chunks alike.
func TestSnapshotColumnsChangeMidSnapshot(t *testing.T) {
	cases := []ddlCase{
		{name: "drop", alter: `ALTER TABLE snap_ddl DROP COLUMN note`, cols: []string{"id", "v"}},
		{name: "add", alter: `ALTER TABLE snap_ddl ADD COLUMN w int NOT NULL DEFAULT 7`, cols: []string{"id", "note", "v", "w"},
			check: func(t *testing.T, ev *sluice.Event) {
				if w := ev.After[3]; w.Kind != sluice.KindPresent || w.Int != 7 {
					t.Errorf("read of id %d after ADD COLUMN: w = %+v, want the default 7", ev.After[0].Int, w)
				}
			}},
		{name: "key", alter: `ALTER TABLE snap_ddl DROP CONSTRAINT snap_ddl_pkey, ADD PRIMARY KEY (v, id)`, cols: []string{"id", "note", "v"},
			after: func() []int64 { // every row again, in v order: the updated one last
				var ids []int64
				for id := int64(1); id <= ddlRows; id++ {
					if id != ddlRows-5 {
						ids = append(ids, id)
					}
				}
				return append(ids, ddlRows-5)
			}()},
	}
	for _, c := range cases {
		for _, kind := range []string{sluice.SnapshotKindIncremental, sluice.SnapshotKindBlocking} {
			t.Run(c.name+"/"+kind, func(t *testing.T) { testColumnsChange(t, c, kind) })
		}
	}
}

func testColumnsChange(t *testing.T, c ddlCase, kind string) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_ddl; CREATE TABLE snap_ddl (id int PRIMARY KEY, note text, v int NOT NULL)`)
	h.exec(`INSERT INTO snap_ddl SELECT g, 'n' || g, g FROM generate_series(1, $1) g`, ddlRows)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_ddl`)
	h.dropAtEnd("snap_ddl", "sluice_signal_ddl")
	var lows atomic.Int64
	h.startHooked(map[string]any{"tables": []any{"public.snap_ddl"}, "signal_table": "public.sluice_signal_ddl",
		"snapshot": map[string]any{"mode": "never", "chunk_size": ddlChunk}},
		&chunkHooks{beforeLow: func(ctx context.Context, table string) error {
			if lows.Add(1) == 2 { // the first chunk is read, the second not yet
				h.exec(c.alter)
				// A change of a later chunk, streamed with the new columns.
				h.exec(`UPDATE snap_ddl SET v = v + 1000 WHERE id = $1`, ddlRows-5)
			}
			return nil
		}})
	err := h.src.WriteSignal(context.Background(), sluice.Signal{Type: sluice.SignalExecuteSnapshot,
		Data: sluice.SnapshotSignalData(kind, []string{"public.snap_ddl"}, "")})
	if err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the snapshot", func([]*sluice.Event) bool { return lows.Load() > 1 && h.snapshotIdle() })
	evs := h.wait(0)
	for _, j := range h.src.SnapshotProgress() {
		if j.Failed {
			t.Errorf("snapshot of %s failed: %s", j.Table, j.Error)
		}
	}
	var ids []int64
	badCols := false
	for _, ev := range evs {
		if ev.Op != sluice.OpRead {
			continue
		}
		ids = append(ids, ev.After[0].Int)
		if len(ids) <= ddlChunk {
			continue // the first chunk, read before the ALTER
		}
		switch got := columnNames(ev.Table); {
		case !slices.Equal(got, c.cols):
			if !badCols { // once: every later read has them too
				badCols = true
				t.Errorf("read of id %d after the ALTER has columns %v, want %v", ev.After[0].Int, got, c.cols)
			}
		case c.check != nil:
			c.check(t, ev)
		}
	}
	want := make([]int64, ddlChunk, ddlRows)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if c.after != nil {
		want = append(want, c.after...)
	} else {
		for id := int64(ddlChunk + 1); id <= ddlRows; id++ {
			want = append(want, id)
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("read ids %v, want %v", ids, want)
	}
	testenv.SameState(t, replay(t, idAndV(evs), 1), testenv.TableState(t, h.db, "snap_ddl"))
}

func columnNames(t *sluice.Table) []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// idAndV projects the events of a table whose columns change onto its
// columns id and v (by name), the rows replay reads.
func idAndV(evs []*sluice.Event) []*sluice.Event {
	project := func(t *sluice.Table, row sluice.Row) sluice.Row {
		if row == nil {
			return nil
		}
		out := make(sluice.Row, 2)
		for i, c := range t.Columns {
			switch c.Name {
			case "id":
				out[0] = row[i]
			case "v":
				out[1] = row[i]
			}
		}
		return out
	}
	out := make([]*sluice.Event, 0, len(evs))
	for _, ev := range evs {
		if ev.Table == nil {
			out = append(out, ev)
			continue
		}
		p := *ev
		p.Before, p.After = project(ev.Table, ev.Before), project(ev.Table, ev.After)
		out = append(out, &p)
	}
	return out
}
