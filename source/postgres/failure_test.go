package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

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
	if err := signalSnapshot(ctx, h.src, []string{"public.fail_gone"}, ""); err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the second job to fail", func([]*sluice.Event) bool { return len(failed()) == 2 })
	h.exec(`INSERT INTO fail_ok VALUES (21, 21)`)
	if err := signalSnapshot(ctx, h.src, []string{"public.fail_ok"}, "id <= 5"); err != nil {
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
