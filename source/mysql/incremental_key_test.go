package mysql

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestMySQLIncrementalKeyChanged: the table's primary key moves to
// another column while its incremental or blocking snapshot runs (after
// its first chunk). The chunks after it page by the new key, so they
// start over from the table's beginning: WHERE (code) > (the old key's
// last id) would skip the rows whose code is smaller, which no stream
// event carries either.
func TestMySQLIncrementalKeyChanged(t *testing.T) {
	for _, kind := range []string{"", sluice.SnapshotKindBlocking} {
		t.Run("kind "+kind, func(t *testing.T) {
			h := newHarness(t)
			table, sig := "inckey_"+fmt.Sprint(rand.Uint32()), "inckeysig_"+fmt.Sprint(rand.Uint32())
			h.exec("CREATE TABLE "+table+" (id INT PRIMARY KEY, code INT NOT NULL UNIQUE, v BIGINT NOT NULL)",
				"INSERT INTO "+table+" SELECT seq, 11 - seq, 0 FROM seq_1_to_10")
			h.dropAfter(table, sig)
			it := &incTest{harness: h, table: table, sig: sig}
			var reads atomic.Int32
			hooks := &incHooks{afterRead: func(ctx context.Context, _ string) error {
				if reads.Add(1) != 2 {
					return nil
				}
				_, err := h.db.Execute("ALTER TABLE " + table + " DROP PRIMARY KEY, ADD PRIMARY KEY (code)")
				return err
			}}
			it.startWith(map[string]any{"tables": []any{table}, "signal_table": sig,
				"snapshot": map[string]any{"mode": "never", "chunk_size": 3}, "schema_changes": false}, hooks)
			it.streaming()
			it.signal("key-1", sluice.SignalExecuteSnapshot, sluice.SnapshotSignalData(kind, []string{"sluice." + table}, ""))
			it.jobs("the snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
			read := map[int64]bool{}
			for _, ev := range it.c.WaitMark(it.binlogEnd()) {
				if ev.Op == sluice.OpRead {
					read[ev.After[0].Int] = true
				}
			}
			for id := int64(1); id <= 10; id++ {
				if !read[id] {
					t.Errorf("row %d was never read", id)
				}
			}
		})
	}
}

// TestSnapshotResumeKeyChanged: the initial snapshot stopped after a
// chunk of a table whose primary key then moved to another column (an
// ALTER while sluice was down). The restart reads the table from the
// start by its new key instead of after the saved values of the old one,
// which would skip every row whose new key is smaller.
func TestSnapshotResumeKeyChanged(t *testing.T) {
	h := newHarness(t)
	table := "snapkey_" + fmt.Sprint(rand.Uint32())
	h.exec("CREATE TABLE "+table+" (id INT PRIMARY KEY, code INT NOT NULL UNIQUE, v BIGINT NOT NULL)",
		"INSERT INTO "+table+" SELECT seq, 11 - seq, 0 FROM seq_1_to_10")
	h.dropAfter(table)
	opts := map[string]any{"tables": []any{table}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 3}}
	h.failAfter = 4
	h.start(opts)
	<-h.c.Done()
	if err := h.stop(); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	h.exec("ALTER TABLE " + table + " DROP PRIMARY KEY, ADD PRIMARY KEY (code)")
	h.failAfter = 0
	h.start(opts)
	h.streaming()
	read := map[int64]bool{}
	for _, ev := range h.c.WaitMark(h.binlogEnd()) {
		if ev.Op == sluice.OpRead {
			read[ev.After[0].Int] = true
		}
	}
	for id := int64(1); id <= 10; id++ {
		if !read[id] {
			t.Errorf("row %d was not read after the restart", id)
		}
	}
}
