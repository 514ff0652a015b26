package mysql

import (
	"errors"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestMySQLBlockingSnapshot: a blocking snapshot reads the whole table
// while the stream waits: a change written after the request follows
// every row. A crash in the middle resumes the snapshot after its last
// acknowledged chunk, before the stream goes on.
func TestMySQLBlockingSnapshot(t *testing.T) {
	const n = 1500
	it := newIncTest(t, n)
	it.failAfter = 700 // in the fourth chunk of 200
	it.startWith(it.opts(200), nil)
	it.streaming()
	it.signal("block-1", sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData(sluice.SnapshotKindBlocking, []string{it.table}, ""))
	it.exec("UPDATE " + it.table + " SET v = 5 WHERE id = 1")
	<-it.c.Done()
	if err := it.stop(); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	first := it.c.Events()
	for _, ev := range first {
		if ev.Op != sluice.OpRead || ev.Snapshot != sluice.SnapshotTrue {
			t.Fatalf("first run: %s event (snapshot %q) during the blocking snapshot", ev.Op, ev.Snapshot)
		}
	}
	it.failAfter = 0
	it.startWith(it.opts(200), nil)
	it.streaming()
	it.jobs("the snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
	second := it.c.WaitMark(it.binlogEnd())
	if len(second) != n-600+1 {
		t.Fatalf("second run: %d events, want the %d rows after the acknowledged chunks and the update", len(second), n-600)
	}
	for i, ev := range second[:n-600] {
		if ev.Op != sluice.OpRead || ev.After[0].Int != int64(601+i) {
			t.Fatalf("second run, event %d: %s of id %d, want the read of %d", i, ev.Op, ev.After[0].Int, 601+i)
		}
	}
	if last := second[n-600]; last.Op != sluice.OpUpdate || last.After[0].Int != 1 {
		t.Errorf("last event %s, want the update written after the request", last.Op)
	}
}
