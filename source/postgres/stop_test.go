package postgres

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestStopReadsToTheCommit: a stop requested after the first row of a
// three-row transaction reads the other two and the commit, and the slot
// confirms the transaction, so a restart does not send it again. Before,
// the stream stopped after the first row, unconfirmed: a clean restart
// delivered that row twice (TestStopAndKillLoseNothing caught it once).
func TestStopReadsToTheCommit(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS stop_tx; CREATE TABLE stop_tx (id int PRIMARY KEY)`)
	var c atomic.Pointer[testenv.Collector]
	var once sync.Once
	h.startWith(map[string]any{"tables": []string{"public.stop_tx"}}, testenv.Reject(func(ev *sluice.Event) error {
		if ev.Op == sluice.OpCreate && ev.After[0].Int == 1 {
			once.Do(func() { c.Load().Cancel() })
		}
		return nil
	}))
	c.Store(h.c)
	h.exec(`INSERT INTO stop_tx SELECT generate_series(1, 3)`)
	<-h.c.Done()
	collected := h.c
	h.stop()

	if got := testenv.IDs(collected.Events()); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("events %v; want the whole transaction, 1 2 3", got)
	}
	marks := collected.Marks()
	if len(marks) == 0 {
		t.Fatal("no mark: the transaction was not read to its commit")
	}
	end := marks[len(marks)-1].Pos.TxLSN
	// The last confirmation is in the walsender's socket when Stop
	// returns; the server has applied it once the walsender is gone (CI
	// read the slot before that once, on PostgreSQL 14).
	h.waitSlotFree()
	var s string
	if err := h.db.QueryRow(context.Background(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", "sluice_"+h.name).Scan(&s); err != nil {
		t.Fatal(err)
	}
	confirmed, err := pglogrepl.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(confirmed) < end {
		t.Errorf("slot confirmed %s; want at least %s, the end of the transaction", confirmed, pglogrepl.LSN(end))
	}
}

// TestStopWhileCreatingSlotIsClean: a stop requested while the slot is
// being made (its creation waits for a transaction that is still open)
// is a clean stop, not an error. Before, Run returned "create
// replication slot …: context canceled", which failed
// TestKeyAfterPrimaryKeyChange in CI when its stop fell in that moment.
func TestStopWhileCreatingSlotIsClean(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS stop_slot; CREATE TABLE stop_slot (id int PRIMARY KEY)`)
	h.dropAtEnd("stop_slot")
	ctx := context.Background()
	open, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close(ctx)
	tx, err := open.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "INSERT INTO stop_slot VALUES (1)"); err != nil { // an xid the slot's creation waits for
		t.Fatal(err)
	}
	c := testenv.Collect(t, h.newSource(map[string]any{"tables": []string{"public.stop_slot"}}))
	c.WaitFor("the slot's creation to wait", func([]*sluice.Event) bool {
		var waiting bool
		err := h.db.QueryRow(ctx, "SELECT active AND confirmed_flush_lsn IS NULL FROM pg_replication_slots WHERE slot_name = $1", "sluice_"+h.name).Scan(&waiting)
		return err == nil && waiting
	})
	if err := c.Stop(); err != nil {
		t.Errorf("stopped while the slot was being made: %v; want a clean stop", err)
	}
}

// TestStopAtEachStartUpStepIsClean stops a source at each step of its
// start-up in turn (connecting, checking the server, the publication,
// the slot, IDENTIFY_SYSTEM, START_REPLICATION): each is a clean stop.
// Before, only the slot's creation and the stream's start were, and CI's
// TestKeyAfterPrimaryKeyChange failed on "identify system: context
// canceled" when its stop fell between them.
func TestStopAtEachStartUpStepIsClean(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS stop_startup; CREATE TABLE stop_startup (id int PRIMARY KEY)`)
	h.dropAtEnd("stop_startup")
	steps := testenv.StopAtEachStartUpStep(t, func() sluice.Source {
		h.waitSlotFree()
		return h.newSource(map[string]any{"tables": []string{"public.stop_startup"}})
	}, func(sluice.Source) bool { return h.slotActive() })
	t.Logf("stopped at each of %d start-up steps", steps)
}
