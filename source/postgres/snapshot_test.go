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
	if err := h.src.SignalSnapshot(context.Background(), []string{"public.snap_inc"}, ""); err != nil {
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

// TestSnapshotFilter: an incremental snapshot with a WHERE filter reads
// only the matching rows.
func TestSnapshotFilter(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_filter; CREATE TABLE snap_filter (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO snap_filter SELECT g, g FROM generate_series(1, 100) g`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_f`)
	h.dropAtEnd("snap_filter", "sluice_signal_f")
	h.startStreaming(map[string]any{"tables": []any{"public.snap_filter"}, "signal_table": "public.sluice_signal_f",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 7}})
	if err := h.src.SignalSnapshot(context.Background(), []string{"public.snap_filter"}, "id > 90"); err != nil {
		t.Fatal(err)
	}
	evs := h.c.WaitFor("10 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r >= 10 && h.snapshotIdle() })
	r, _ := countReads(evs, 0)
	if r != 10 {
		t.Fatalf("read %d rows, want the 10 with id > 90", r)
	}
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

// TestSnapshotTableWithoutKey: a table without a primary key is read in
// ctid order, chunk by chunk, every row once.
func TestSnapshotTableWithoutKey(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_nokey; CREATE TABLE snap_nokey (a int, b text)`)
	h.exec(`INSERT INTO snap_nokey SELECT g, 'row ' || g FROM generate_series(1, 95) g`)
	h.dropAtEnd("snap_nokey")
	h.startWith(map[string]any{"tables": []any{"public.snap_nokey"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 10}})
	evs := h.c.WaitFor("95 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r >= 95 && h.snapshotIdle() })
	seen := map[int64]bool{}
	for _, ev := range evs {
		if ev.Op == sluice.OpRead {
			if seen[ev.After[0].Int] {
				t.Fatalf("row %d read twice", ev.After[0].Int)
			}
			seen[ev.After[0].Int] = true
		}
	}
	if len(seen) != 95 {
		t.Fatalf("read %d distinct rows, want 95", len(seen))
	}
	if evs[len(evs)-1].Snapshot != sluice.SnapshotLast {
		t.Errorf("last read marked %q", evs[len(evs)-1].Snapshot)
	}
}

// startStreaming starts a source like startWith and waits until it
// streams from a consistent point: a slot being created shows active
// already, while changes committed then may precede its start.
func (h *harness) startStreaming(extra map[string]any) {
	h.t.Helper()
	h.startWith(extra)
	h.c.WaitFor("the stream", func([]*sluice.Event) bool {
		var ok bool
		err := h.db.QueryRow(context.Background(), "SELECT active AND confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = $1",
			"sluice_"+h.name).Scan(&ok)
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
	if err := h.src.SignalSnapshot(context.Background(), []string{"public.snap_trunc"}, ""); err != nil {
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
	if err := h.src.SignalSnapshot(context.Background(), []string{"public.snap_arr"}, ""); err != nil {
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

// TestSnapshotEnumKeyOutsideSearchPath: the key is an enum of a schema
// that is not on the search_path. Resuming after a chunk compares the
// key with the last one read; that must not depend on the type's name
// resolving (it failed with "type does not exist" on every restart).
func TestSnapshotEnumKeyOutsideSearchPath(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP SCHEMA IF EXISTS snap_enum_s CASCADE; CREATE SCHEMA snap_enum_s;
		CREATE TYPE snap_enum_s.colour AS ENUM ('red', 'green', 'blue', 'black', 'white');
		CREATE TABLE snap_enum_s.paint (c snap_enum_s.colour PRIMARY KEY, v bigint NOT NULL);
		INSERT INTO snap_enum_s.paint VALUES ('white', 5), ('blue', 3), ('red', 1), ('black', 4), ('green', 2)`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_enum`)
	t.Cleanup(func() { h.exec(`DROP SCHEMA IF EXISTS snap_enum_s CASCADE; DROP TABLE IF EXISTS sluice_signal_enum`) })
	h.startStreaming(map[string]any{"tables": []any{"snap_enum_s.paint"}, "signal_table": "public.sluice_signal_enum",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 2}})
	if err := h.src.SignalSnapshot(context.Background(), []string{"snap_enum_s.paint"}, ""); err != nil {
		t.Fatal(err)
	}
	evs := h.c.WaitFor("5 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r >= 5 && h.snapshotIdle() })
	var order []string
	for _, ev := range evs {
		if ev.Op == sluice.OpRead {
			order = append(order, string(ev.After[0].Bytes))
		}
	}
	if got := strings.Join(order, ","); got != "red,green,blue,black,white" {
		t.Errorf("read %s, want the enum's order red,green,blue,black,white", got)
	}
	for _, j := range h.src.SnapshotProgress() {
		if j.Failed {
			t.Errorf("snapshot of %s failed: %s", j.Table, j.Error)
		}
	}
}

// TestChunkReadMissesCommittedTransaction: a transaction whose commit
// record precedes a chunk's low watermark is not yet visible to the
// chunk's read. PostgreSQL makes a transaction visible (removes it from
// the ProcArray) after writing its commit record, and a synchronous
// standby can hold that gap open for as long as it lags; here the read
// imports a snapshot exported before the transaction committed, which is
// what the read sees in that gap. The stream carries the transaction
// before the window opens, so a read emitted at the high watermark would
// be older than the change already delivered: the chunk must be read
// again instead.
func TestChunkReadMissesCommittedTransaction(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_vis; CREATE TABLE snap_vis (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO snap_vis SELECT g, 0 FROM generate_series(1, 20) g`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_vis`)
	h.dropAtEnd("snap_vis", "sluice_signal_vis")
	ctx := context.Background()
	exporter, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer exporter.Close(ctx)
	var exported string
	var lows, reads atomic.Int64
	h.startHooked(map[string]any{"tables": []any{"public.snap_vis"}, "signal_table": "public.sluice_signal_vis",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 100}},
		&chunkHooks{
			beforeLow: func(ctx context.Context, table string) error {
				if lows.Add(1) == 1 {
					// A snapshot from before the update, then the update,
					// committed before the low watermark is written.
					if _, err := exporter.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
						return err
					}
					if err := exporter.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&exported); err != nil {
						return err
					}
					h.exec(`UPDATE snap_vis SET v = 1 WHERE id = 5`)
				}
				return nil
			},
			inRead: func(ctx context.Context, tx pgx.Tx) error {
				if reads.Add(1) == 1 {
					_, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+exported+"'")
					return err
				}
				return nil
			},
		})
	if err := h.src.SignalSnapshot(ctx, []string{"public.snap_vis"}, ""); err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the snapshot", func([]*sluice.Event) bool { return reads.Load() > 0 && h.snapshotIdle() })
	exporter.Exec(ctx, "ROLLBACK")
	evs := h.wait(0)
	t.Logf("%d chunk reads for one chunk", reads.Load())
	testenv.SameState(t, replay(t, evs, 1), testenv.TableState(t, h.db, "snap_vis"))
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
	if err := h.src.SignalSnapshot(context.Background(), []string{"public.snap_hot"}, ""); err != nil {
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

// TestFailedSnapshotJobDoesNotStopTheStream: a snapshot job that cannot
// run (a filter persisted by an older version that no longer compiles; a
// table dropped after the request was accepted) is marked failed in the
// state, reported by SnapshotProgress, and the stream and the other
// snapshots go on; a restart does not retry it.
func TestFailedSnapshotJobDoesNotStopTheStream(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS fail_ok; CREATE TABLE fail_ok (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO fail_ok SELECT g, g FROM generate_series(1, 20) g`)
	h.exec(`DROP TABLE IF EXISTS fail_gone; CREATE TABLE fail_gone (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO fail_gone SELECT g, g FROM generate_series(1, 5) g`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_fail`)
	h.dropAtEnd("fail_ok", "fail_gone", "sluice_signal_fail")
	// A state file of an older version, which the table store migrates.
	h.stateDir = t.TempDir()
	old := &state{Version: 1, Slot: "sluice_" + h.name, Jobs: []*snapshotJob{{Table: "public.fail_ok", Filter: "nosuch > 1; SELECT 1", Incremental: true}}}
	if err := (&Source{stateDir: h.stateDir, pipeline: h.name, cfg: Config{Slot: "sluice_" + h.name}}).fileStore().save(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"tables": []any{"public.fail_ok", "public.fail_gone"}, "signal_table": "public.sluice_signal_fail",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 4}}
	h.startHooked(cfg, &chunkHooks{beforeLow: func(ctx context.Context, table string) error {
		if table == "public.fail_gone" {
			h.exec(`DROP TABLE fail_gone`) // after the request was accepted and the worker described it
		}
		return nil
	}})
	ctx := context.Background()
	failed := func() map[string]string {
		out := map[string]string{}
		for _, j := range h.src.SnapshotProgress() {
			if j.Failed {
				out[j.Table] = j.Error
			}
		}
		return out
	}
	h.c.WaitFor("the persisted job to fail", func([]*sluice.Event) bool { return len(failed()) == 1 })
	if err := h.src.SignalSnapshot(ctx, []string{"public.fail_gone"}, ""); err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the second job to fail", func([]*sluice.Event) bool { return len(failed()) == 2 })
	h.exec(`INSERT INTO fail_ok VALUES (21, 21)`)
	if err := h.src.SignalSnapshot(ctx, []string{"public.fail_ok"}, "id <= 5"); err != nil {
		t.Fatal(err)
	}
	evs := h.c.WaitFor("5 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r >= 5 && h.snapshotIdle() })
	streamed := false
	for _, ev := range evs {
		streamed = streamed || ev.Op == sluice.OpCreate && ev.After[0].Int == 21
	}
	if !streamed {
		t.Error("the insert after the failures was not streamed")
	}
	f := failed()
	if !strings.Contains(f["public.fail_ok"], "nosuch") && !strings.Contains(f["public.fail_ok"], "';'") {
		t.Errorf("failed snapshot of public.fail_ok: reason %q does not name the filter's problem", f["public.fail_ok"])
	}
	if !strings.Contains(f["public.fail_gone"], "fail_gone") {
		t.Errorf("failed snapshot of public.fail_gone: reason %q does not name the table", f["public.fail_gone"])
	}
	st, err := h.stored()
	if err != nil {
		t.Fatal(err)
	}
	persisted := 0
	for _, j := range st.Jobs {
		if j.Failed && j.Error != "" {
			persisted++
		}
	}
	if persisted != 2 {
		t.Errorf("the stored state holds %d failed jobs, want 2: %+v", persisted, st.Jobs)
	}
	h.stop()

	// A restart neither retries the failed jobs nor fails (fail_gone is
	// no longer listed: a missing listed table stops the source).
	cfg["tables"] = []any{"public.fail_ok"}
	h.startWith(cfg)
	h.exec(`INSERT INTO fail_ok VALUES (22, 22)`)
	evs = h.wait(1)
	if r, _ := countReads(evs, 0); r != 0 {
		t.Errorf("the restart read %d rows again", r)
	}
	if len(failed()) != 2 {
		t.Errorf("after the restart SnapshotProgress reports failed snapshots %v, want the 2", failed())
	}
}

// TestKeyStringDistinguishesKeys: keyString, which dirty detection
// compares, tells apart keys that differ only inside arrays (element
// values, count, NULL elements, nesting) and text keys that an encoding
// without lengths would run together.
func TestKeyStringDistinguishesKeys(t *testing.T) {
	ints := func(xs ...int64) sluice.Value {
		v := sluice.Value{Kind: sluice.KindPresent}
		for _, x := range xs {
			v.Elems = append(v.Elems, sluice.Value{Kind: sluice.KindPresent, Int: x})
		}
		return v
	}
	text := func(s string) sluice.Value { return sluice.Value{Kind: sluice.KindPresent, Bytes: []byte(s)} }
	nested := sluice.Value{Kind: sluice.KindPresent, Elems: []sluice.Value{ints(1, 2), ints(3)}}
	flat := ints(1, 2, 3)
	withNull := sluice.Value{Kind: sluice.KindPresent, Elems: []sluice.Value{{Kind: sluice.KindPresent, Int: 1}, {Kind: sluice.KindNull}}}
	one := &sluice.Table{Columns: []sluice.Column{{Name: "k"}}, Key: []int{0}}
	two := &sluice.Table{Columns: []sluice.Column{{Name: "a"}, {Name: "b"}}, Key: []int{0, 1}}
	rows := map[string]struct {
		t   *sluice.Table
		row sluice.Row
	}{
		"{1,2}":       {one, sluice.Row{ints(1, 2)}},
		"{1,3}":       {one, sluice.Row{ints(1, 3)}},
		"{1}":         {one, sluice.Row{ints(1)}},
		"{}":          {one, sluice.Row{ints()}},
		"{1,NULL}":    {one, sluice.Row{withNull}},
		"{1,0}":       {one, sluice.Row{ints(1, 0)}},
		"{{1,2},{3}}": {one, sluice.Row{nested}},
		"{1,2,3}":     {one, sluice.Row{flat}},
		"(a\\0, b)":   {two, sluice.Row{text("a\x00"), text("b")}},
		"(a, \\0b)":   {two, sluice.Row{text("a"), text("\x00b")}},
	}
	seen := map[string]string{}
	for name, r := range rows {
		k := keyString(r.t, r.row)
		if other, dup := seen[k]; dup {
			t.Errorf("keys %s and %s have the same keyString", name, other)
		}
		seen[k] = name
		if again := keyString(r.t, sluice.Row(append([]sluice.Value(nil), r.row...))); again != k {
			t.Errorf("key %s: keyString not stable", name)
		}
	}
}
