package mysql

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/source"
)

// TestMySQLSignalsRefused: malformed and refused signals in the signal
// table are counted and logged; the stream goes on.
func TestMySQLSignalsRefused(t *testing.T) {
	it := newIncTest(t, 10)
	nopk := it.table + "_nopk"
	it.exec("CREATE TABLE " + nopk + " (a INT, b INT)")
	it.dropAfter(nopk)
	opts := it.opts(100)
	opts["tables"] = []any{it.table, nopk}
	sc := it.startWith(opts, nil)
	it.streaming()
	tbl := "sluice." + it.table
	refused := []struct{ id, typ, data string }{
		{"r1", sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData("", []string{"sluice.not_captured"}, "")},
		{"r2", sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData("", []string{tbl}, "id = 1; DROP TABLE x")},
		{"r3", sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData("", []string{tbl}, "nope = 1")},
		{"r4", sluice.SignalExecuteSnapshot, "{"},
		{"r5", sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData("", []string{"sluice." + it.sig}, "")},
		{"r6", sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData("", []string{"sluice." + nopk}, "")},
		{"r8", sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData("", []string{tbl}, "id = 'abc'")},
		{"r9", sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData("", []string{tbl}, "sleep(5) = 0")},
		{"r10", "frobnicate", "{}"},
		{"r11", sluice.SignalLog, "not json"},
	}
	for _, s := range refused {
		it.signal(s.id, s.typ, s.data)
	}
	it.signal("ok1", sluice.SignalLog, `{"message": "all refused"}`)
	it.c.WaitFor("the log signal", func([]*sluice.Event) bool {
		return sc.Counts()[sluice.SignalCount{Channel: sluice.ChannelSource, Type: sluice.SignalLog, Result: "accepted"}] == 1
	})
	want := map[sluice.SignalCount]int64{
		{Channel: sluice.ChannelSource, Type: sluice.SignalExecuteSnapshot, Result: "refused"}: 8,
		{Channel: sluice.ChannelSource, Type: "unknown", Result: "refused"}:                    1,
		{Channel: sluice.ChannelSource, Type: sluice.SignalLog, Result: "refused"}:             1,
		{Channel: sluice.ChannelSource, Type: sluice.SignalLog, Result: "accepted"}:            1,
	}
	got := sc.Counts()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("count %+v = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	// Each refused table (r1, r2, r3, r5, r6, r8, r9) is kept as a failed job.
	if j := it.src.IncrementalSnapshotJobs(); j.Queued != 0 || j.Running != 0 || j.Failed != 7 || j.Failures != 7 {
		t.Errorf("jobs %+v after refused signals, want none queued or running, 7 failed", j)
	}
	// The stream goes on.
	it.exec("UPDATE " + it.table + " SET v = 1 WHERE id = 1")
	if evs := it.c.WaitMark(it.binlogEnd()); len(evs) != 1 || evs[0].Op != sluice.OpUpdate {
		t.Errorf("after the signals: %d events, want the update", len(evs))
	}
}

// TestMySQLSignalReceiver: signals from other channels (Signal) are
// refused with ErrRefused or, accepted, stored before Signal returns.
func TestMySQLSignalReceiver(t *testing.T) {
	it := newIncTest(t, 50)
	idle := it.newSource(it.opts(20))
	if err := idle.Signal(context.Background(), sluice.Signal{ID: "x", Type: sluice.SignalLog, Data: `{"message":"m"}`}); !errors.Is(err, sluice.ErrNotRunning) {
		t.Fatalf("Signal before Run: %v, want ErrNotRunning", err)
	}
	sc := it.startWith(it.opts(20), nil)
	it.streaming()
	ctx := context.Background()
	for _, s := range []sluice.Signal{
		{ID: "a1", Type: sluice.SignalExecuteSnapshot, Data: sluice.SnapshotSignalData("", []string{"sluice.elsewhere"}, "")},
		{ID: "a2", Type: "nonsense"},
		{ID: "a3", Type: sluice.SignalStopSnapshot, Data: "[1, 2]"},
	} {
		if err := it.src.Signal(ctx, s); !errors.Is(err, sluice.ErrRefused) {
			t.Errorf("Signal(%+v) = %v, want ErrRefused", s, err)
		}
	}
	if err := it.src.Signal(ctx, sluice.Signal{ID: "a4", Type: sluice.SignalExecuteSnapshot,
		Data: sluice.SnapshotSignalData("", []string{it.table}, "id > 40")}); err != nil {
		t.Fatalf("Signal(execute-snapshot): %v", err)
	}
	// Accepted means stored: the offset file holds the job already.
	b, err := os.ReadFile(it.stateDir + "/" + it.name + ".mysql.json")
	if err != nil || !strings.Contains(string(b), `"table": "sluice.`+it.table+`"`) {
		t.Errorf("offset file after an accepted signal: %v\n%s", err, b)
	}
	it.jobs("the snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
	if evs := it.c.WaitMark(it.binlogEnd()); len(evs) != 10 || evs[0].After[0].Int != 41 {
		t.Errorf("%d rows read, want the 10 of id > 40", len(evs))
	}
	// A blocking snapshot through another channel, the stream idle.
	if err := it.src.Signal(ctx, sluice.Signal{ID: "a5", Type: sluice.SignalExecuteSnapshot,
		Data: sluice.SnapshotSignalData(sluice.SnapshotKindBlocking, []string{it.table}, "id <= 5")}); err != nil {
		t.Fatalf("Signal(blocking execute-snapshot): %v", err)
	}
	it.jobs("the blocking snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 2 })
	if evs := it.c.WaitMark(it.binlogEnd()); len(evs) != 15 || evs[10].Snapshot != sluice.SnapshotTrue || evs[14].After[0].Int != 5 {
		t.Errorf("%d rows read, want 10 and then the 5 of id <= 5, blocking", len(evs))
	}
	if len(sc.Counts()) != 0 {
		t.Errorf("the source counted other channels' signals: %v", sc.Counts())
	}
}

// TestMySQLSignalSnapshot: `sluice snapshot` without an admin endpoint
// writes the signal row (sluice.SignalWriter) once the request is checked, and
// nothing when it is refused.
func TestMySQLSignalSnapshot(t *testing.T) {
	it := newIncTest(t, 30)
	it.startWith(it.opts(8), nil)
	it.streaming()
	ctx := context.Background()
	if err := signalSnapshot(ctx, it.src, []string{it.table, "sluice.other"}, ""); err == nil || !strings.Contains(err.Error(), "not captured") {
		t.Errorf("SignalSnapshot of a table not captured: %v", err)
	}
	if err := signalSnapshot(ctx, it.src, []string{it.table}, "id >"); err == nil || !errors.Is(err, errFilter) {
		t.Errorf("SignalSnapshot with a bad filter: %v", err)
	}
	if n, _ := queryString(it.db, "SELECT COUNT(*) FROM "+it.sig); n != "0" {
		t.Fatalf("refused requests wrote %s signal rows", n)
	}
	if err := signalSnapshot(ctx, it.src, []string{it.table}, "id <= 10"); err != nil {
		t.Fatal(err)
	}
	it.jobs("the snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
	if evs := it.c.WaitMark(it.binlogEnd()); len(evs) != 10 {
		t.Errorf("%d rows read, want 10", len(evs))
	}
}

// newBareIncremental is an incremental runner without a server, for the
// checks that need none.
func newBareIncremental(t *testing.T, tables ...string) *incremental {
	t.Helper()
	raw := map[string]any{"type": "mysql", "dsn": "u@tcp(127.0.0.1:1)/shop", "signal_table": "sig", "tables": tables}
	s, err := source.Build(New, raw, source.Env{Pipeline: "p", Path: "source", Logger: zap.NewNop(), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s.signals = &sluice.SignalCounter{}
	return newIncremental(s, &server{flavor: mysql.MariaDBFlavor}, nil)
}

// TestSignalStateChanges: the state signals leave, without a server.
func TestSignalStateChanges(t *testing.T) {
	in := newBareIncremental(t, "orders", "lines")
	exec := func(id string, tables ...string) error {
		return in.handle(nil, sluice.Signal{ID: id, Type: sluice.SignalExecuteSnapshot,
			Data: sluice.SnapshotSignalData("", tables, "")}, sluice.ChannelSource)
	}
	if err := exec("e1", "shop.orders", "lines"); err != nil {
		t.Fatal(err)
	}
	if err := exec("e1", "shop.orders"); err != nil { // the same signal read again
		t.Fatal(err)
	}
	if err := exec("e2", "orders"); !errors.Is(err, sluice.ErrRefused) {
		t.Errorf("a second job of a queued table: %v, want refused", err)
	}
	for _, c := range []struct {
		name string
		err  error
	}{
		{"not db.table", exec("e3", "a.b.c")},
		{"not captured", exec("e4", "shop.customers")},
		{"signal table", exec("e5", "shop.sig")},
	} {
		if !errors.Is(c.err, sluice.ErrRefused) {
			t.Errorf("%s: %v, want refused", c.name, c.err)
		}
	}
	// Read from the signal table, each refused table is kept as a failed
	// job; the queue holds e1's.
	st, _ := in.state()
	if len(st.Jobs) != 6 || st.Jobs[0].Table != "shop.orders" || st.Jobs[1].Table != "shop.lines" || in.queued.Load() != 2 || in.failed.Load() != 4 {
		t.Fatalf("state %s, queued %d, failed %d; want the jobs of e1 queued and 4 failed", st, in.queued.Load(), in.failed.Load())
	}
	// Through another channel a request is refused as a whole.
	err := in.handle(nil, sluice.Signal{ID: "e6", Type: sluice.SignalExecuteSnapshot,
		Data: sluice.SnapshotSignalData("", []string{"customers", "lines"}, "")}, "")
	if st2, _ := in.state(); !errors.Is(err, sluice.ErrRefused) || len(st2.Jobs) != 6 {
		t.Errorf("a request with one refused table from another channel: %v, state %s", err, st2)
	}
	sig := func(typ, data string) {
		if err := in.handle(nil, sluice.Signal{ID: typ + data, Type: typ, Data: data}, sluice.ChannelSource); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	sig(sluice.SignalPauseSnapshot, "")
	if in.next() != nil {
		t.Error("a job runs while paused")
	}
	sig(sluice.SignalResumeSnapshot, "")
	if j := in.next(); j == nil || j.Table != "shop.orders" {
		t.Errorf("next after resume = %+v, want shop.orders", j)
	}
	sig(sluice.SignalStopSnapshot, `{"data-collections": ["shop.orders"]}`)
	if st, _ := in.state(); len(st.Jobs) != 5 || st.Jobs[0].Table != "shop.lines" || in.running.Load() != 0 || in.queued.Load() != 1 {
		t.Errorf("after stopping orders: %s (running %d, queued %d)", st, in.running.Load(), in.queued.Load())
	}
	sig(sluice.SignalStopSnapshot, "")
	if st, _ := in.state(); len(st.Jobs) != 4 || in.queued.Load() != 0 || in.failed.Load() != 4 {
		t.Errorf("after stopping all: %s", st)
	}
	in.mu.Lock()
	in.st.Jobs = nil
	for i := range 40 {
		in.st.Jobs = append(in.st.Jobs, &incJob{Table: "t", Failed: i%2 == 0, Done: i%2 == 1})
	}
	in.trimLocked()
	in.mu.Unlock()
	if st, _ := in.state(); len(st.Jobs) != 2*maxFinishedJobs || in.failed.Load() != maxFinishedJobs {
		t.Errorf("%d finished jobs kept (failed gauge %d), want %d of each kind", len(st.Jobs), in.failed.Load(), maxFinishedJobs)
	}
}

// TestChunkMarks: a chunk mark's token parses as its stream position,
// and confirmations acknowledge the chunks before them.
func TestChunkMarks(t *testing.T) {
	tok := "mysql-bin.000003\x00120\x000-1-5" + chunkMarkSuffix + "42"
	if seq, ok := chunkMarkSeq(tok); !ok || seq != 42 {
		t.Errorf("chunkMarkSeq = %d, %v", seq, ok)
	}
	if _, ok := chunkMarkSeq("mysql-bin.000003\x00120\x000-1-5"); ok {
		t.Error("a stream mark taken for a chunk mark")
	}
	o, stream, err := tokenOffset(tok)
	if err != nil || !stream || o.File != "mysql-bin.000003" || o.Pos != 120 || o.GTIDs != "0-1-5" {
		t.Errorf("tokenOffset = %+v, %v, %v", o, stream, err)
	}
	in := newBareIncremental(t, "orders")
	job := &incJob{Table: "shop.orders", running: true}
	in.st.Jobs = []*incJob{job}
	in.running.Store(1)
	in.pending = []chunkAck{
		{seq: 1, at: 100, job: job, last: []keyValue{{Text: "10"}}, rows: 10},
		{seq: 2, at: 100, job: job, last: []keyValue{{Text: "20"}}, rows: 10},
		{seq: 3, at: 200, job: job, last: []keyValue{{Text: "25"}}, rows: 5, final: true},
	}
	in.unacked.Store(true)
	in.confirm(sluice.Position{TxLSN: 100, Resume: "f\x001\x00" + chunkMarkSuffix + "1"})
	if job.Rows != 10 || job.LastKey[0].Text != "10" {
		t.Errorf("after chunk 1: %+v", job)
	}
	in.confirm(sluice.Position{TxLSN: 100, Resume: "f\x00100\x00"}) // a stream mark at the chunks' position: before them
	if job.Rows != 10 {
		t.Errorf("a stream mark before chunk 2 acknowledged it: %+v", job)
	}
	in.confirm(sluice.Position{TxLSN: 250, Resume: "f\x00250\x00"})
	if job.Rows != 25 || !job.Done || in.running.Load() != 0 || in.unacked.Load() {
		t.Errorf("after a later stream mark: %+v, running %d", job, in.running.Load())
	}
}

// TestSignalTableConfig: signal_table must be db.table and not captured.
func TestSignalTableConfig(t *testing.T) {
	for _, c := range []struct {
		sig    string
		tables []any
		want   string
	}{
		{"a.b.c", nil, "signal_table"},
		{"sig", []any{"orders", "sig"}, "is the signal_table"},
		{"shop.sig", []any{"shop.sig"}, "is the signal_table"},
		{"sig", []any{"orders"}, ""},
	} {
		raw := map[string]any{"type": "mysql", "dsn": "u@tcp(127.0.0.1:1)/shop", "signal_table": c.sig, "tables": c.tables}
		_, err := source.Build(New, raw, source.Env{Pipeline: "p", Path: "source", Logger: zap.NewNop(), StateDir: t.TempDir()})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("signal_table %q, tables %v: %v, want %q", c.sig, c.tables, err, c.want)
		}
	}
}
