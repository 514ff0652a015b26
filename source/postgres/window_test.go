package postgres

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestTruncateInsideSnapshotWindow: a TRUNCATE that commits between a
// chunk's watermarks deleted every row the chunk read; none of them may
// come after the truncate event, and a row inserted after the truncate
// keeps its streamed value.
func TestTruncateInsideSnapshotWindow(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_trunc; CREATE TABLE snap_trunc (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO snap_trunc SELECT g, 0 FROM generate_series(1, 30) g`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_trunc`)
	h.dropAtEnd("snap_trunc", "sluice_signal_trunc")
	var once atomic.Bool
	h.startHooked(map[string]any{"tables": []any{"public.snap_trunc"}, "signal_table": "public.sluice_signal_trunc",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 10}},
		&chunkHooks{afterRead: func(ctx context.Context, table string) error {
			if once.CompareAndSwap(false, true) {
				h.exec(`TRUNCATE snap_trunc; INSERT INTO snap_trunc VALUES (1, 100)`)
			}
			return nil
		}})
	if err := signalSnapshot(context.Background(), h.src, []string{"public.snap_trunc"}, ""); err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the snapshot", func(evs []*sluice.Event) bool { return once.Load() && h.snapshotIdle() })
	evs := h.wait(0)
	truncated := false
	for _, ev := range evs {
		switch {
		case ev.Op == sluice.OpTruncate:
			truncated = true
		case ev.Op == sluice.OpRead && truncated:
			t.Errorf("row %d read before the truncate emitted after it (v %d)", ev.After[0].Int, ev.After[1].Int)
		}
	}
	if !truncated {
		t.Fatal("no truncate event")
	}
	testenv.SameState(t, replay(t, evs, 1), testenv.TableState(t, h.db, "snap_trunc"))
}

// arrayKey is the text form PostgreSQL gives an int[] without NULLs.
func arrayKey(v sluice.Value) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range v.Elems {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(e.Int, 10))
	}
	b.WriteByte('}')
	return b.String()
}

// TestSnapshotArrayKey: a table keyed by an int[] is snapshotted while
// its rows are updated. Every chunk window sees changes; only the changed
// keys may be dropped from a chunk (before the fix every array key
// compared equal, so one change dropped the whole chunk).
func TestSnapshotArrayKey(t *testing.T) {
	const n = 1500
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_arr; CREATE TABLE snap_arr (k int[] PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO snap_arr SELECT ARRAY[g, g % 7], 0 FROM generate_series(1, $1) g`, n)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_arr`)
	h.dropAtEnd("snap_arr", "sluice_signal_arr")
	var chunks atomic.Int64
	h.startHooked(map[string]any{"tables": []any{"public.snap_arr"}, "signal_table": "public.sluice_signal_arr",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 100}},
		&chunkHooks{afterRead: func(ctx context.Context, table string) error {
			// At least one change inside every window, of a key outside
			// the chunk as often as inside.
			g := chunks.Add(1)*37%n + 1
			h.exec(`UPDATE snap_arr SET v = v + 1 WHERE k = ARRAY[$1::int, $1::int % 7]`, g)
			return nil
		}})

	var stop atomic.Bool
	done := make(chan int, 1)
	go func() { // a writer on random keys meanwhile
		db, err := pgx.Connect(context.Background(), h.dsn)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		defer db.Close(context.Background())
		i := 0
		for ; !stop.Load(); i++ {
			g := (i*7919)%n + 1
			db.Exec(context.Background(), `UPDATE snap_arr SET v = v + 1 WHERE k = ARRAY[$1::int, $1::int % 7]`, g)
			time.Sleep(200 * time.Microsecond)
		}
		done <- i
	}()
	if err := signalSnapshot(context.Background(), h.src, []string{"public.snap_arr"}, ""); err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the snapshot", func([]*sluice.Event) bool { return chunks.Load() > 0 && h.snapshotIdle() })
	stop.Store(true)
	writes := <-done
	evs := h.wait(0)

	got := map[string]int64{}
	newest := map[string]int64{}
	reads := 0
	for _, ev := range evs {
		if ev.Op != sluice.OpRead && ev.Op != sluice.OpUpdate && ev.Op != sluice.OpCreate {
			continue
		}
		k, v := arrayKey(ev.After[0]), ev.After[1].Int
		if ev.Op == sluice.OpRead {
			reads++
			if v < newest[k] {
				t.Errorf("stale read of key %s: version %d after %d", k, v, newest[k])
			}
		} else {
			newest[k] = max(newest[k], v)
		}
		got[k] = v
	}
	t.Logf("%d writes, %d snapshot reads of %d rows in %d chunks", writes, reads, n, chunks.Load())
	rows, err := h.db.Query(context.Background(), `SELECT k::text, v FROM snap_arr`)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
		k string
		v int64
	}, error) {
		var x struct {
			k string
			v int64
		}
		return x, r.Scan(&x.k, &x.v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("replayed %d keys, the table has %d rows (whole chunks dropped?)", len(got), len(want))
	}
	for _, w := range want {
		if g, ok := got[w.k]; !ok || g != w.v {
			t.Errorf("key %s: replayed %d (present %v), the table has %d", w.k, g, ok, w.v)
			break
		}
	}
}
