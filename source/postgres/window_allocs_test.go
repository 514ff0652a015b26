package postgres

import (
	"testing"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// TestChunkEmitAllocs holds the emission of a chunk at its high
// watermark to one allocation per row (its event) when nothing changed
// inside the window, and checks that a key changed inside it is still
// dropped: the key comparison that finds it is skipped only when the
// window saw no change.
func TestChunkEmitAllocs(t *testing.T) {
	rel := benchRelation(t, benchRows[0])
	rows := make([]sluice.Row, 64)
	for i := range rows {
		rows[i] = make(sluice.Row, len(rel.table.Columns))
		setInt(&rows[i][0], int64(i))
	}
	var got []int64
	st := &stream{log: zap.NewNop(), emit: func(ev *sluice.Event) error {
		got = append(got, ev.After[0].Int)
		return nil
	}}
	st.snap = &snapshotter{log: st.log, windows: map[string]*window{}}
	// emitChunk opens a window of rows with dirty keys, emits it, and
	// returns the ids emitted.
	emitChunk := func(dirty ...int64) []int64 {
		got = got[:0]
		w := &window{id: "w", job: &snapshotJob{Table: "public.small"}, rel: rel, open: true,
			dirty: map[string]struct{}{}, rows: rows, done: make(chan struct{})}
		for _, id := range dirty {
			w.dirty[sluice.KeyString(rel.table, rows[id])] = struct{}{}
		}
		st.snap.windows[w.id] = w
		st.snap.pending = st.snap.pending[:0]
		if err := st.watermark("H:w", 1); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if ids := emitChunk(3, 40); len(ids) != len(rows)-2 || ids[3] != 4 || ids[39] != 41 {
		t.Errorf("chunk with keys 3 and 40 changed in its window emitted %v", ids)
	}
	if ids := emitChunk(); len(ids) != len(rows) {
		t.Errorf("chunk without changes emitted %d rows, want %d", len(ids), len(rows))
	}
	got = make([]int64, 0, len(rows))
	// Per run: the window and its map and channel (3), the progress
	// record (1), the key column names (2), and one event per row.
	want := float64(len(rows) + 6)
	if n := testing.AllocsPerRun(20, func() { emitChunk() }); n > want {
		t.Errorf("emitting a chunk of %d rows: %v allocations, want at most %v", len(rows), n, want)
	}
}
