package postgres

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// replay applies events in order to a key → value map, the way a consumer
// keeping the latest row per key would. It checks that no snapshot read
// carries an older version than a change already seen for its key.
func replay(t *testing.T, events []*sluice.Event, vcol int) map[int64]int64 {
	t.Helper()
	state := map[int64]int64{}
	newest := map[int64]int64{} // highest version streamed so far per key
	for _, ev := range events {
		switch ev.Op {
		case sluice.OpCreate, sluice.OpUpdate, sluice.OpRead:
			id, v := ev.After[0].Int, ev.After[vcol].Int
			if ev.Op == sluice.OpRead && v < newest[id] {
				t.Errorf("stale snapshot read of key %d: version %d after the stream already had %d", id, v, newest[id])
			}
			if ev.Op != sluice.OpRead && v > newest[id] {
				newest[id] = v
			}
			state[id] = v
		case sluice.OpDelete:
			delete(state, ev.Before[0].Int)
		case sluice.OpTruncate:
			clear(state)
		}
	}
	return state
}

func countReads(evs []*sluice.Event, mark sluice.Snapshot) (n int, sawLast bool) {
	for _, ev := range evs {
		if ev.Op == sluice.OpRead {
			n++
			if ev.Snapshot == mark {
				sawLast = true
			}
		}
	}
	return n, sawLast
}

// TestIncrementalSnapshotWhileWriting: a signal re-reads a table while a
// writer keeps updating the same rows; the replayed state equals the
// table and no snapshot read is older than a change before it.
func TestIncrementalSnapshotWhileWriting(t *testing.T) {
	const n = 20000
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_inc; CREATE TABLE snap_inc (id int PRIMARY KEY, v bigint NOT NULL, pad text)`)
	h.exec(`INSERT INTO snap_inc SELECT g, 0, repeat('x', 50) FROM generate_series(1, $1) g`, n)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_inc`)
	h.dropAtEnd("snap_inc", "sluice_signal_inc")
	h.startStreaming(map[string]any{"tables": []any{"public.snap_inc"}, "signal_table": "public.sluice_signal_inc",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 1000}})

	var stop atomic.Bool
	done := testenv.Churn(t, h.dsn, "snap_inc", n, &stop)
	time.Sleep(300 * time.Millisecond)
	if err := signalSnapshot(context.Background(), h.src, []string{"public.snap_inc"}, ""); err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the incremental snapshot", func(evs []*sluice.Event) bool {
		r, _ := countReads(evs, sluice.SnapshotIncremental)
		return r > 0 && h.snapshotIdle()
	})
	stop.Store(true)
	writes := <-done
	// Let the stream catch up with the last writes.
	lsn, err := testenv.WALFlushed(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the stream to catch up", func([]*sluice.Event) bool { return h.confirmedAtLeast(lsn) })
	evs := h.wait(0)
	reads, _ := countReads(evs, sluice.SnapshotIncremental)
	t.Logf("%d writes during the snapshot, %d incremental reads", writes, reads)
	for _, ev := range evs {
		if ev.Op == sluice.OpRead && ev.Snapshot != sluice.SnapshotIncremental {
			t.Fatalf("incremental read marked %q", ev.Snapshot)
		}
		if ev.Table != nil && ev.Table.Name == "sluice_signal_inc" {
			t.Fatal("signal table rows must not be emitted")
		}
	}
	testenv.SameState(t, replay(t, evs, 1), testenv.TableState(t, h.db, "snap_inc"))
}

// TestInitialSnapshotModes: initial reads existing rows once with
// Debezium's first/last markers, then streams; a restart does not read
// again; always reads again.
func TestInitialSnapshotModes(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_modes; CREATE TABLE snap_modes (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO snap_modes SELECT g, g FROM generate_series(1, 25) g`)
	h.dropAtEnd("snap_modes")
	opts := func(mode string) map[string]any {
		return map[string]any{"tables": []any{"public.snap_modes"}, "snapshot": map[string]any{"mode": mode, "chunk_size": 10}}
	}
	h.startWith(opts("initial"))
	evs := h.c.WaitFor("25 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r == 25 && h.snapshotIdle() })
	if evs[0].Snapshot != sluice.SnapshotFirst || evs[24].Snapshot != sluice.SnapshotLast {
		t.Errorf("markers: first %q, last %q", evs[0].Snapshot, evs[24].Snapshot)
	}
	for i, ev := range evs[:25] {
		if ev.Op != sluice.OpRead || ev.After[0].Int != int64(i+1) {
			t.Fatalf("read %d: op %s id %d, want rows in key order", i, ev.Op, ev.After[0].Int)
		}
	}
	h.exec(`INSERT INTO snap_modes VALUES (26, 26)`)
	h.wait(26)
	h.stop()

	h.startWith(opts("initial"))
	h.exec(`INSERT INTO snap_modes VALUES (27, 27)`)
	evs = h.wait(1)
	if r, _ := countReads(evs, 0); r != 0 || evs[0].After[0].Int != 27 {
		t.Fatalf("restart in mode initial read %d rows again (first event id %d)", r, evs[0].After[0].Int)
	}
	h.stop()

	h.startWith(opts("always"))
	h.c.WaitFor("27 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r == 27 && h.snapshotIdle() })
	h.stop()

	// initial_only after a finished initial snapshot has nothing to do.
	only := h.newSource(opts("initial_only"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := only.Run(ctx, func(*sluice.Event) error { return nil }); err != sluice.ErrDone {
		t.Fatalf("initial_only after a finished snapshot returned %v, want ErrDone", err)
	}
}

// snapshotIdle reports whether the running source has no snapshot work
// left unsaved: its stored state keeps only failed jobs.
func (h *harness) snapshotIdle() bool {
	st, err := h.stored()
	if err != nil {
		return false
	}
	for _, j := range st.Jobs {
		if !j.Failed {
			return false
		}
	}
	return true
}

func (h *harness) confirmedAtLeast(lsn string) bool {
	var ok bool
	err := h.db.QueryRow(context.Background(), "SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1",
		"sluice_"+h.name, lsn).Scan(&ok)
	return err == nil && ok
}

// startStreaming starts a source like startWith and waits until it
// streams from a consistent point: a slot being created shows active
// already, while changes committed then may precede its start.
func (h *harness) startStreaming(extra map[string]any) {
	h.t.Helper()
	h.startWith(extra)
	h.c.WaitFor("the stream", func([]*sluice.Event) bool {
		ok, err := testenv.SlotStreaming(context.Background(), h.db, "sluice_"+h.name)
		return err == nil && ok
	})
}

// startHooked starts a source like startStreaming and, once it streams, lets
// hooks step into its snapshot workers' chunk cycle. The tests that use
// it request incremental snapshots, so no worker runs before the hooks
// are in place.
func (h *harness) startHooked(extra map[string]any, hooks *chunkHooks) {
	h.t.Helper()
	h.startStreaming(extra)
	var sn *snapshotter
	h.c.WaitFor("the snapshotter", func([]*sluice.Event) bool { sn = h.src.snap.Load(); return sn != nil })
	sn.setHooks(hooks)
}

// dropAtEnd drops the tables when the test ends.
func (h *harness) dropAtEnd(tables ...string) {
	h.t.Cleanup(func() {
		for _, t := range tables {
			h.exec("DROP TABLE IF EXISTS " + t)
		}
	})
}

// TestIncrementalSnapshotHotKeys: writers on several connections keep
// updating a few hot keys (versions only grow) while small chunks are
// read, so commits race every watermark and every chunk read. No read may
// carry an older version than a change streamed before it, and the
// replayed state equals the table.
func TestIncrementalSnapshotHotKeys(t *testing.T) {
	const n, hot, writers = 2000, 40, 4
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_hot; CREATE TABLE snap_hot (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO snap_hot SELECT g, 0 FROM generate_series(1, $1) g`, n)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_hot`)
	h.dropAtEnd("snap_hot", "sluice_signal_hot")
	h.startStreaming(map[string]any{"tables": []any{"public.snap_hot"}, "signal_table": "public.sluice_signal_hot",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 25}})

	var stop atomic.Bool
	done := make(chan int, writers)
	for w := 0; w < writers; w++ {
		go func() {
			ctx := context.Background()
			db, err := pgx.Connect(ctx, h.dsn)
			if err != nil {
				t.Error(err)
				done <- 0
				return
			}
			defer db.Close(ctx)
			i := 0
			for ; !stop.Load(); i++ {
				// Hot keys spread over the chunks: every 50th row.
				id := (i*writers+w)%hot*(n/hot) + 1
				db.Exec(ctx, "UPDATE snap_hot SET v = v + 1 WHERE id = $1", id)
			}
			done <- i
		}()
	}
	if err := signalSnapshot(context.Background(), h.src, []string{"public.snap_hot"}, ""); err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the snapshot", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r > 0 && h.snapshotIdle() })
	stop.Store(true)
	writes := 0
	for w := 0; w < writers; w++ {
		writes += <-done
	}
	lsn, err := testenv.WALFlushed(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the stream to catch up", func([]*sluice.Event) bool { return h.confirmedAtLeast(lsn) })
	evs := h.wait(0)
	reads, _ := countReads(evs, 0)
	t.Logf("%d writes on %d hot keys during the snapshot, %d reads of %d rows", writes, hot, reads, n)
	testenv.SameState(t, replay(t, evs, 1), testenv.TableState(t, h.db, "snap_hot"))
}

// TestSnapshotProgressAfterTheEnd: once the whole snapshot is done (and
// its jobs are dropped from the stored state), SnapshotProgress still
// reports every table done with its rows, so sluice_snapshot_done reaches
// 1 for the last tables too instead of their series vanishing at 0.
func TestSnapshotProgressAfterTheEnd(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_end_a, snap_end_b; CREATE TABLE snap_end_a (id int PRIMARY KEY); CREATE TABLE snap_end_b (id int PRIMARY KEY)`)
	h.exec(`INSERT INTO snap_end_a SELECT generate_series(1, 30); INSERT INTO snap_end_b SELECT generate_series(1, 7)`)
	h.dropAtEnd("snap_end_a", "snap_end_b")
	h.startWith(map[string]any{"tables": []any{"public.snap_end_a", "public.snap_end_b"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 10}})
	h.c.WaitFor("37 reads and the snapshot state cleared", func(evs []*sluice.Event) bool {
		r, _ := countReads(evs, 0)
		return r == 37 && h.snapshotIdle()
	})
	want := map[string]int64{"public.snap_end_a": 30, "public.snap_end_b": 7}
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[string]int64{}
		for _, j := range h.src.SnapshotProgress() {
			if j.Done && !j.Incremental {
				got[j.Table] = j.Rows
			}
		}
		if len(got) == len(want) && got["public.snap_end_a"] == 30 && got["public.snap_end_b"] == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the snapshot: done tables %v, want %v (progress %+v)", got, want, h.src.SnapshotProgress())
		}
		time.Sleep(50 * time.Millisecond) // the stored state is cleared just before the progress is
	}
}

// TestSnapshotWithMessagesOff: with messages: false the watermarks, which
// are logical messages, must still reach the stream, or no chunk is ever
// emitted; the user's own logical messages are still not delivered.
func TestSnapshotWithMessagesOff(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_nomsg; CREATE TABLE snap_nomsg (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO snap_nomsg SELECT g, g FROM generate_series(1, 25) g`)
	h.dropAtEnd("snap_nomsg")
	h.startWith(map[string]any{"tables": []any{"public.snap_nomsg"}, "messages": false,
		"snapshot": map[string]any{"mode": "initial", "chunk_size": 10}})
	h.c.WaitFor("25 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r == 25 && h.snapshotIdle() })
	h.exec(`SELECT pg_logical_emit_message(true, 'audit', 'not captured')`)
	h.exec(`INSERT INTO snap_nomsg VALUES (26, 26)`)
	evs := h.c.WaitFor("the insert", func(evs []*sluice.Event) bool { return len(evs) > 0 && evs[len(evs)-1].Op == sluice.OpCreate })
	for _, ev := range evs {
		if ev.Op == sluice.OpMessage {
			t.Fatalf("a logical message was delivered with messages: false: %+v", ev)
		}
	}
	if len(evs) != 26 {
		t.Fatalf("%d events, want 25 reads and 1 insert", len(evs))
	}
}
