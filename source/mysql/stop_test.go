package mysql

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestStopReadsToTheCommit: a stop requested after the first row of a
// three-statement transaction reads the other two and the commit, and
// the stored offset is after the transaction, so a restart does not send
// it again. Before, the stream stopped after the first row and the next
// start delivered the transaction a second time.
func TestStopReadsToTheCommit(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS stop_tx", "CREATE TABLE stop_tx (id int PRIMARY KEY)")
	t.Cleanup(func() { h.exec("DROP TABLE IF EXISTS stop_tx") })
	cfg := map[string]any{"tables": []string{"stop_tx"}}

	var c atomic.Pointer[testenv.Collector]
	var once sync.Once
	h.start(cfg, testenv.Reject(func(ev *sluice.Event) error {
		if ev.Op == sluice.OpCreate && ev.After[0].Int == 1 {
			once.Do(func() { c.Load().Cancel() })
		}
		return nil
	}))
	c.Store(h.c)
	h.streaming()
	h.exec("BEGIN", "INSERT INTO stop_tx VALUES (1)", "INSERT INTO stop_tx VALUES (2)", "INSERT INTO stop_tx VALUES (3)", "COMMIT")
	<-h.c.Done()
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if got := testenv.IDs(h.c.Events()); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("events %v; want the whole transaction, 1 2 3", got)
	}

	h.start(cfg)
	h.streaming()
	h.exec("INSERT INTO stop_tx VALUES (4)")
	if got := testenv.IDs(h.wait(1)); !slices.Equal(got, []int64{4}) {
		t.Fatalf("after the restart: events %v; want 4 only", got)
	}
}

// TestStopAtEachStartUpStepIsClean stops a source at each step of its
// start-up in turn (connecting, loading the offset, storing the first
// position): each is a clean stop, not an error the daemon restarts
// from.
func TestStopAtEachStartUpStepIsClean(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS stop_startup", "CREATE TABLE stop_startup (id int PRIMARY KEY)")
	t.Cleanup(func() { h.exec("DROP TABLE IF EXISTS stop_startup") })
	steps := testenv.StopAtEachStartUpStep(t, func() sluice.Source {
		return h.newSource(map[string]any{"tables": []string{"stop_startup"}})
	}, func(src sluice.Source) bool { return src.(*Source).streaming.Load() })
	t.Logf("stopped at each of %d start-up steps", steps)
}
