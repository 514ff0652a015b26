package mysql

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// incTest is a table with an incremental snapshot's signal table.
type incTest struct {
	*harness
	table, sig string
}

// newIncTest creates table (id INT PRIMARY KEY, v BIGINT, note
// VARCHAR(20)) with rows 1…n (v = 0) and names a signal table; both are
// dropped after the test.
func newIncTest(t *testing.T, n int) *incTest {
	h := newHarness(t)
	it := &incTest{harness: h, table: "inc_" + fmt.Sprint(rand.Uint32()), sig: "incsig_" + fmt.Sprint(rand.Uint32())}
	h.exec("CREATE TABLE "+it.table+" (id INT PRIMARY KEY, v BIGINT NOT NULL, note VARCHAR(20))",
		fmt.Sprintf("INSERT INTO %s SELECT seq, 0, CONCAT('row ', seq) FROM seq_1_to_%d", it.table, n))
	h.dropAfter(it.table, it.sig)
	return it
}

// opts is the source's configuration: the table, the signal table, the
// chunk size, no initial snapshot.
func (it *incTest) opts(chunk int) map[string]any {
	return map[string]any{"tables": []any{it.table}, "signal_table": it.sig,
		"snapshot": map[string]any{"mode": "never", "chunk_size": chunk}, "schema_changes": false}
}

// startWith starts a source with hooks and a signal counter.
func (it *incTest) startWith(extra map[string]any, hooks *incHooks, opts ...testenv.CollectOption) *sluice.SignalCounter {
	it.t.Helper()
	it.src = it.newSource(extra)
	it.src.incHooks = hooks
	sc := &sluice.SignalCounter{}
	it.src.signals = sc
	if it.failAfter > 0 {
		reads, failAfter := 0, it.failAfter
		opts = append(opts, testenv.Reject(func(ev *sluice.Event) error {
			if ev.Op == sluice.OpRead {
				if reads++; reads > failAfter {
					return errCrash
				}
			}
			return nil
		}))
	}
	it.c = testenv.Collect(it.t, it.src, opts...)
	return sc
}

// signal inserts a signal row.
func (it *incTest) signal(id, typ, data string) {
	it.t.Helper()
	if _, err := it.db.Execute("INSERT INTO "+it.sig+" (id, type, data) VALUES (?, ?, ?)", id, typ, data); err != nil {
		it.t.Fatalf("signal %s: %v", typ, err)
	}
}

// execute requests an incremental snapshot of the test's table.
func (it *incTest) execute(id, filter string) {
	it.t.Helper()
	it.signal(id, sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData("", []string{"sluice." + it.table}, filter))
}

// jobs waits until cond holds for the source's job counts.
func (it *incTest) jobs(what string, cond func(j sluice.IncrementalSnapshotJobs) bool) {
	it.t.Helper()
	it.c.WaitFor(what, func([]*sluice.Event) bool { return cond(it.src.IncrementalSnapshotJobs()) })
}

// tableState reads the table: v and note by id.
func (it *incTest) tableState() map[int64]string {
	it.t.Helper()
	r, err := it.db.Execute("SELECT id, v, note FROM " + it.table)
	if err != nil {
		it.t.Fatal(err)
	}
	out := map[int64]string{}
	for i := 0; i < r.RowNumber(); i++ {
		id, _ := r.GetInt(i, 0)
		v, _ := r.GetInt(i, 1)
		note, _ := r.GetString(i, 2)
		out[id] = fmt.Sprintf("%d/%s", v, note)
	}
	return out
}

func rowState(row sluice.Row) (int64, string) {
	return row[0].Int, fmt.Sprintf("%d/%s", row[1].Int, row[2].Bytes)
}

// checkEvents replays the events of the table per key. Each "r" event
// must show the state the key has after the changes emitted before it
// (strict: no run restarted), so no "r" overtook a newer change; and the
// replayed state must be the table's.
func (it *incTest) checkEvents(events []*sluice.Event, strict bool) (reads int) {
	it.t.Helper()
	type keyState struct {
		val    string
		exists bool
	}
	state := map[int64]*keyState{}
	for i, ev := range events {
		if ev.Table == nil || ev.Table.Name != it.table {
			continue
		}
		switch ev.Op {
		case sluice.OpCreate, sluice.OpUpdate:
			id, v := rowState(ev.After)
			if ev.Op == sluice.OpUpdate {
				if old, _ := rowState(ev.Before); old != id {
					it.t.Fatalf("event %d: update changes the key %d→%d (want a delete and a create)", i, old, id)
				}
			}
			state[id] = &keyState{val: v, exists: true}
		case sluice.OpDelete:
			id, _ := rowState(ev.Before)
			state[id] = &keyState{}
		case sluice.OpRead:
			reads++
			id, v := rowState(ev.After)
			if ev.Snapshot != sluice.SnapshotIncremental {
				it.t.Fatalf("event %d: read of %d marked %q, want incremental", i, id, ev.Snapshot)
			}
			if s := state[id]; strict && s != nil && (!s.exists || s.val != v) {
				it.t.Fatalf("event %d: stale read of key %d: %q after a change to %+v", i, id, v, *s)
			}
			state[id] = &keyState{val: v, exists: true}
		}
	}
	want := it.tableState()
	for id, v := range want {
		s := state[id]
		if s == nil || !s.exists || s.val != v {
			it.t.Errorf("key %d: table has %q, events end with %+v", id, v, s)
		}
	}
	for id, s := range state {
		if _, ok := want[id]; s.exists && !ok {
			it.t.Errorf("key %d: events end with %q, the table has no such row", id, s.val)
		}
	}
	return reads
}

// writer changes the table until stopped: updates, deletes, inserts and
// key changes of random rows in 1…n*1.2, each with a new v.
type tableWriter struct {
	stop chan struct{}
	done chan error
	ops  atomic.Int64
}

func startWriter(t *testing.T, it *incTest, n int) *tableWriter {
	d, err := parseDSN(it.dsn)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Connect(d.addr(), d.User, d.Password, d.DB)
	if err != nil {
		t.Fatal(err)
	}
	w := &tableWriter{stop: make(chan struct{}), done: make(chan error, 1)}
	go func() {
		defer c.Close()
		v := int64(0)
		top := n + n/5
		for {
			select {
			case <-w.stop:
				w.done <- nil
				return
			default:
			}
			v++
			id := rand.IntN(top) + 1
			var q string
			var args []any
			switch rand.IntN(6) {
			case 0, 1, 2:
				q, args = "UPDATE "+it.table+" SET v = ?, note = ? WHERE id = ?", []any{v, fmt.Sprint("u", v), id}
			case 3:
				q, args = "DELETE FROM "+it.table+" WHERE id = ?", []any{id}
			case 4:
				q, args = "INSERT INTO "+it.table+" VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v), note = VALUES(note)", []any{id, v, fmt.Sprint("i", v)}
			case 5:
				q, args = "UPDATE IGNORE "+it.table+" SET id = ?, v = ?, note = ? WHERE id = ?", []any{rand.IntN(top) + 1, v, fmt.Sprint("k", v), id}
			}
			if _, err := c.Execute(q, args...); err != nil {
				w.done <- err
				return
			}
			w.ops.Add(1)
		}
	}()
	return w
}

func (w *tableWriter) finish(t *testing.T) {
	t.Helper()
	close(w.stop)
	if err := <-w.done; err != nil {
		t.Fatalf("writer: %v", err)
	}
}

// TestMySQLIncrementalUnderWrites: an incremental snapshot of a table
// written to all along (updates, deletes, inserts, key changes) ends with
// every key's state exact, and no "r" event after a newer change of its
// key.
func TestMySQLIncrementalUnderWrites(t *testing.T) {
	const n = 20000
	it := newIncTest(t, n)
	it.startWith(it.opts(500), nil)
	it.streaming()
	w := startWriter(t, it, n)
	it.execute("under-writes", "")
	it.jobs("the snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
	w.finish(t)
	events := it.c.WaitMark(it.binlogEnd())
	reads := it.checkEvents(events, true)
	j := it.src.IncrementalSnapshotJobs()
	t.Logf("%d writes, %d reads, %d chunks", w.ops.Load(), reads, j.Chunks)
	if reads < n/2 || j.Chunks < n/1000 || w.ops.Load() < 100 {
		t.Errorf("%d reads in %d chunks with %d writes: want most of %d rows in chunks of 500, under writes", reads, j.Chunks, w.ops.Load(), n)
	}
	if j.Queued != 0 || j.Running != 0 || j.Failed != 0 || !j.Known {
		t.Errorf("jobs = %+v, want none queued, running or failed", j)
	}
}

// TestMySQLIncrementalResume: a crash in the middle of an incremental
// snapshot (the pipeline fails after some acknowledged chunks) resumes
// after the last acknowledged chunk, and every row is read; the state
// is kept in either offset store.
func TestMySQLIncrementalResume(t *testing.T) {
	for _, store := range []string{"file", "kafka"} {
		t.Run(store, func(t *testing.T) { incrementalResume(t, store) })
	}
}

func incrementalResume(t *testing.T, store string) {
	const n = 3000
	it := newIncTest(t, n)
	opts := it.opts(200)
	if store == "kafka" {
		brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
		topic := fmt.Sprintf("sluice_offsets_inc_%d", rand.Uint32())
		testenv.DeleteTopicsAtEnd(t, brokers, topic)
		opts["offsets"] = map[string]any{"store": "kafka", "brokers": strings.Split(brokers, ","), "topic": topic, "flush_interval": "20ms"}
	}
	it.failAfter = 700 // in the fourth chunk of 200
	it.startWith(opts, nil)
	it.streaming()
	it.execute("resume", "")
	<-it.c.Done()
	if err := it.stop(); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	first := it.c.Events()
	it.failAfter = 0
	it.startWith(opts, nil)
	it.streaming()
	it.jobs("the resumed snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
	second := it.c.WaitMark(it.binlogEnd())
	if len(second) != n-600 || second[0].After[0].Int != 601 {
		t.Fatalf("second run read %d rows from id %d, want %d from 601 (after the 3 acknowledged chunks)", len(second), second[0].After[0].Int, n-600)
	}
	seen := map[int64]bool{}
	for _, ev := range append(first, second...) {
		seen[ev.After[0].Int] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct rows read, want %d", len(seen), n)
	}
	p := it.src.SnapshotProgress()
	if len(p) != 1 || !p[0].Incremental || p[0].Rows != n || !p[0].Done {
		t.Errorf("SnapshotProgress() = %+v, want one incremental table of %d rows, done", p, n)
	}
}

// gate holds each chunk after its read until the test lets it go.
type gate struct {
	mu    sync.Mutex
	reads int
	pass  chan struct{}
}

func newGate() *gate { return &gate{pass: make(chan struct{}, 1000)} }

func (g *gate) hooks() *incHooks {
	return &incHooks{afterRead: func(ctx context.Context, _ string) error {
		g.mu.Lock()
		g.reads++
		g.mu.Unlock()
		select {
		case <-g.pass:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

func (g *gate) let(n int) {
	for range n {
		g.pass <- struct{}{}
	}
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reads
}

// TestMySQLIncrementalPauseResume: pause-snapshot stops the job between
// chunks, survives a restart, and resume-snapshot finishes it.
func TestMySQLIncrementalPauseResume(t *testing.T) {
	const n = 2000
	it := newIncTest(t, n)
	g := newGate()
	it.startWith(it.opts(100), g.hooks())
	it.streaming()
	it.execute("pause-1", "")
	g.let(3)
	it.c.Wait(300)
	it.signal("pause-2", sluice.SignalPauseSnapshot, "")
	g.let(1) // the chunk read when the pause arrived, if any
	it.jobs("the job back in the queue", func(j sluice.IncrementalSnapshotJobs) bool { return j.Queued == 1 && j.Running == 0 })
	paused := g.count()
	before := it.c.Events()
	// Restarted, snapshots stay paused.
	it.stop()
	it.startWith(it.opts(100), g.hooks())
	it.streaming()
	it.signal("log-1", sluice.SignalLog, `{"message": "after the restart"}`)
	it.c.WaitMark(it.binlogEnd())
	if j := it.src.IncrementalSnapshotJobs(); j.Queued != 1 || j.Running != 0 || g.count() != paused {
		t.Fatalf("after a restart while paused: jobs %+v, %d chunks read (%d before), want the job queued and no chunk read", j, g.count(), paused)
	}
	it.signal("resume-1", sluice.SignalResumeSnapshot, "")
	g.let(1000)
	it.jobs("the snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
	after := it.c.WaitMark(it.binlogEnd())
	seen := map[int64]bool{}
	for _, ev := range append(before, after...) {
		seen[ev.After[0].Int] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct rows read, want %d", len(seen), n)
	}
	if first := after[0].After[0].Int; first != int64(len(before))+1 {
		t.Errorf("resumed at id %d, want %d: after the %d rows acknowledged before the pause", first, len(before)+1, len(before))
	}
}

// TestMySQLIncrementalStop: stop-snapshot removes a running job; the
// stream goes on.
func TestMySQLIncrementalStop(t *testing.T) {
	const n = 2000
	it := newIncTest(t, n)
	g := newGate()
	it.startWith(it.opts(100), g.hooks())
	it.streaming()
	it.execute("stop-1", "")
	g.let(2)
	it.c.Wait(200)
	it.signal("stop-2", sluice.SignalStopSnapshot, sluice.SnapshotSignalData("", []string{"sluice." + it.table}, ""))
	g.let(1000)
	it.jobs("the job stopped", func(j sluice.IncrementalSnapshotJobs) bool { return j.Queued == 0 && j.Running == 0 })
	it.exec("UPDATE " + it.table + " SET v = 7 WHERE id = 1")
	events := it.c.WaitMark(it.binlogEnd())
	reads := 0
	for _, ev := range events {
		if ev.Op == sluice.OpRead {
			reads++
		}
	}
	if last := events[len(events)-1]; last.Op != sluice.OpUpdate || reads > 300 {
		t.Errorf("after stop: %d reads, last event %s; want at most 3 chunks read and the update streamed", reads, last.Op)
	}
	if j := it.src.IncrementalSnapshotJobs(); j.Completed != 0 || j.Failed != 0 {
		t.Errorf("jobs = %+v, want none completed or failed", j)
	}
	st, _ := it.src.inc.Load().state()
	if st != nil && len(st.Jobs) != 0 {
		t.Errorf("state keeps %s after stop-snapshot", st)
	}
}

// TestMySQLIncrementalFilter: additional-conditions restrict the rows
// read.
func TestMySQLIncrementalFilter(t *testing.T) {
	it := newIncTest(t, 1000)
	it.startWith(it.opts(64), nil)
	it.streaming()
	it.execute("filter-1", "id BETWEEN 101 AND 300 AND note LIKE 'row 1%' OR id IN (7, 9)")
	it.jobs("the snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
	events := it.c.WaitMark(it.binlogEnd())
	got := map[int64]bool{}
	for _, ev := range events {
		got[ev.After[0].Int] = true
	}
	for id := int64(1); id <= 1000; id++ {
		match := id >= 101 && id <= 300 && fmt.Sprint("row ", id)[4] == '1' || id == 7 || id == 9
		if got[id] != match {
			t.Errorf("row %d read %v, want %v", id, got[id], match)
		}
	}
}

// TestMySQLIncrementalAcknowledgedOnly: only chunks whose marks every
// sink acknowledged count as read; a restart reads the others again.
func TestMySQLIncrementalAcknowledgedOnly(t *testing.T) {
	const n = 1000
	it := newIncTest(t, n)
	opts := it.opts(100)
	opts["drain_timeout"] = "100ms"
	it.startWith(opts, nil, testenv.HoldMarks())
	it.streaming()
	it.execute("acked-1", "")
	it.c.Wait(n) // every chunk emitted, none acknowledged
	marks := it.c.Marks()
	chunks := 0
	for i, m := range marks {
		if _, ok := chunkMarkSeq(m.Pos.Resume); ok {
			if chunks++; chunks == 3 {
				it.c.Confirm(marks[:i+1]...)
				break
			}
		}
	}
	if chunks != 3 {
		t.Fatalf("%d chunk marks, want at least 3", chunks)
	}
	if j := it.src.IncrementalSnapshotJobs(); j.Completed != 0 || j.Running != 1 {
		t.Fatalf("jobs %+v with 3 of 10 chunks acknowledged, want it running", j)
	}
	it.stop()
	it.startWith(opts, nil)
	it.streaming()
	it.jobs("the snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
	second := it.c.WaitMark(it.binlogEnd())
	if len(second) != n-300 || second[0].After[0].Int != 301 {
		t.Errorf("second run read %d rows from id %d, want %d from 301", len(second), second[0].After[0].Int, n-300)
	}
}

// TestFlushChunkWaitsForPosition: the stream emits a chunk only outside
// a transaction and once it read the binlog up to the chunk's position,
// without the rows whose keys changed at or after it.
func TestFlushChunkWaitsForPosition(t *testing.T) {
	in := newBareIncremental(t, "orders")
	var got []*sluice.Event
	st := &stream{src: in.src, inc: in, log: in.log, lastMark: 90, lastResume: "f\x0090\x00",
		emit: func(ev *sluice.Event) error { got = append(got, ev); return nil }}
	tbl := &sluice.Table{DB: "shop", Name: "orders", Columns: []sluice.Column{{Name: "id"}}, Key: []int{0}}
	row := func(id int64) sluice.Row { return sluice.Row{{Kind: sluice.KindPresent, Int: id}} }
	job := &incJob{Table: "shop.orders", running: true}
	in.st.Jobs = []*incJob{job}
	w := &window{job: job, db: "shop", name: "orders", rel: &relation{table: tbl}, dirty: map[string]uint64{}, done: make(chan struct{})}
	in.open(w)
	in.touched(tbl, 50, row(1))                                                      // before the chunk's position: in the chunk
	in.touched(tbl, 100, row(2))                                                     // at it: dropped
	in.touched(tbl, 120, row(3), nil)                                                // after it: dropped
	in.touched(&sluice.Table{DB: "shop", Name: "lines", Key: []int{0}}, 130, row(4)) // another table
	w.pos, w.rows, w.final = 100, []sluice.Row{row(1), row(2), row(3), row(4)}, true
	in.handOver(w)
	st.end = 99
	if err := st.flushChunk(); err != nil || len(got) != 0 {
		t.Fatalf("before the position: %d events, %v", len(got), err)
	}
	st.end, st.tx.open = 100, true
	if err := st.flushChunk(); err != nil || len(got) != 0 {
		t.Fatalf("inside a transaction: %d events, %v", len(got), err)
	}
	st.tx.open = false
	if err := st.flushChunk(); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, ev := range got[:len(got)-1] {
		ids = append(ids, ev.After[0].Int)
		if ev.Op != sluice.OpRead || ev.Snapshot != sluice.SnapshotIncremental || ev.Pos.TxLSN != 89 {
			t.Errorf("event %+v", ev)
		}
	}
	if fmt.Sprint(ids) != "[1 4]" {
		t.Errorf("emitted %v, want [1 4]", ids)
	}
	if m := got[len(got)-1]; m.Op != sluice.OpMark || m.Pos.TxLSN != 90 {
		t.Errorf("last event %+v, want the chunk's mark at 90", m)
	}
	select {
	case <-w.done:
	default:
		t.Error("the worker was not told")
	}
}

// TestMySQLIncrementalDropsChangedKeys: rows changed after a chunk was
// read are dropped from it, matched by their keys as the stream and the
// snapshot decode them, for a composite key of text, time and binary
// columns.
func TestMySQLIncrementalDropsChangedKeys(t *testing.T) {
	h := newHarness(t)
	table, sig := "incdrop_"+fmt.Sprint(rand.Uint32()), "incdropsig_"+fmt.Sprint(rand.Uint32())
	h.exec("CREATE TABLE "+table+" (k VARCHAR(20), d DATETIME(3), b BINARY(4), v INT, PRIMARY KEY (k, d, b))",
		"INSERT INTO "+table+" SELECT CONCAT('key ', seq), '2024-05-06 07:08:09.123' + INTERVAL seq SECOND, UNHEX(LPAD(HEX(seq), 4, '0')), 0 FROM seq_1_to_100")
	h.dropAfter(table, sig)
	it := &incTest{harness: h, table: table, sig: sig}
	changed := map[string]bool{"key 3": true, "key 50": true, "key 99": true}
	hooks := &incHooks{afterRead: func(ctx context.Context, _ string) error {
		// After the read, before the chunk is handed to the stream: these
		// changes are newer than the chunk's rows, and the stream emits
		// them before the chunk.
		if len(changed) == 0 {
			return nil
		}
		for k := range changed {
			if _, err := h.db.Execute("UPDATE "+table+" SET v = 1 WHERE k = ?", k); err != nil {
				return err
			}
		}
		clear(changed)
		it.c.Wait(3)
		return nil
	}}
	it.startWith(map[string]any{"tables": []any{table}, "signal_table": sig,
		"snapshot": map[string]any{"mode": "never", "chunk_size": 1000}, "schema_changes": false}, hooks)
	it.streaming()
	it.execute("drop-1", "")
	it.jobs("the snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
	events := it.c.WaitMark(it.binlogEnd())
	reads, updates := map[string]int{}, map[string]int{}
	if events[0].Op != sluice.OpUpdate {
		t.Fatalf("first event %s, want the updates before the chunk", events[0].Op)
	}
	for _, ev := range events {
		switch ev.Op {
		case sluice.OpRead:
			reads[string(ev.After[0].Bytes)]++
		case sluice.OpUpdate:
			updates[string(ev.After[0].Bytes)]++
		}
	}
	for _, k := range []string{"key 3", "key 50", "key 99"} {
		if updates[k] != 1 || reads[k] != 0 {
			t.Errorf("%s: %d updates, %d reads; want the update only", k, updates[k], reads[k])
		}
	}
	if len(reads) != 97 {
		t.Errorf("%d rows read, want the 97 unchanged", len(reads))
	}
}

// TestMySQLIncrementalTableDropped: a queued job whose table was dropped
// before the job ran fails alone (the table is gone, retrying cannot
// help); the run and the stream go on.
func TestMySQLIncrementalTableDropped(t *testing.T) {
	it := newIncTest(t, 500)
	it.startWith(it.opts(100), nil)
	it.streaming()
	it.signal("pause-1", sluice.SignalPauseSnapshot, "")
	it.execute("gone-1", "")
	it.jobs("the job queued", func(j sluice.IncrementalSnapshotJobs) bool { return j.Queued == 1 })
	it.exec("DROP TABLE " + it.table)
	other := "incother_" + fmt.Sprint(rand.Uint32())
	it.exec("CREATE TABLE " + other + " (id INT PRIMARY KEY)")
	it.dropAfter(other)
	it.signal("resume-1", sluice.SignalResumeSnapshot, "")
	it.jobs("the job failed", func(j sluice.IncrementalSnapshotJobs) bool { return j.Failed == 1 && j.Queued == 0 && j.Running == 0 })
	it.signal("log-1", sluice.SignalLog, `{"message": "still running"}`)
	it.c.WaitMark(it.binlogEnd())
	select {
	case <-it.c.Done():
		t.Fatalf("the source stopped: %v", it.stop())
	default:
	}
}
