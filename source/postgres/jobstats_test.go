package postgres

import (
	"context"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestIncrementalSnapshotJobCounts: one signal naming two tables is two
// jobs; the one whose table is dropped while it runs moves from running
// to failed, the other completes after three chunks; a restart starts
// the totals over and keeps the failed job counted, from the state.
func TestIncrementalSnapshotJobCounts(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS jobs_ok, jobs_gone, sluice_signal_jobs`)
	h.exec(`CREATE TABLE jobs_ok (id int PRIMARY KEY); CREATE TABLE jobs_gone (id int PRIMARY KEY)`)
	h.exec(`INSERT INTO jobs_ok SELECT generate_series(1, 10); INSERT INTO jobs_gone SELECT generate_series(1, 3)`)
	h.dropAtEnd("jobs_ok", "jobs_gone", "sluice_signal_jobs")
	cfg := map[string]any{"tables": []any{"public.jobs_ok", "public.jobs_gone"}, "signal_table": "public.sluice_signal_jobs",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 4}}
	h.startHooked(cfg, &chunkHooks{beforeLow: func(ctx context.Context, table string) error {
		if table == "public.jobs_gone" {
			h.exec(`DROP TABLE jobs_gone`) // after the worker took the job and described the table
		}
		return nil
	}})
	if got, want := h.src.IncrementalSnapshotJobs(), (sluice.IncrementalSnapshotJobs{Known: true}); got != want {
		t.Fatalf("before any request: %+v, want %+v", got, want)
	}
	if err := signalSnapshot(context.Background(), h.src, []string{"public.jobs_ok", "public.jobs_gone"}, ""); err != nil {
		t.Fatal(err)
	}
	// 10 rows in chunks of 4: 3 chunks; the dropped table emits none.
	want := sluice.IncrementalSnapshotJobs{Known: true, Failed: 1, Completed: 1, Failures: 1, Chunks: 3}
	var got sluice.IncrementalSnapshotJobs
	h.c.WaitFor("one job completed and one failed", func([]*sluice.Event) bool {
		got = h.src.IncrementalSnapshotJobs()
		return got.Completed+got.Failures == 2 && got.Running == 0
	})
	if got != want {
		t.Errorf("after both jobs: %+v, want %+v", got, want)
	}
	h.stop()

	cfg["tables"] = []any{"public.jobs_ok"} // a missing listed table stops the source
	h.startWith(cfg)
	want = sluice.IncrementalSnapshotJobs{Known: true, Failed: 1}
	if got := h.src.IncrementalSnapshotJobs(); got != want {
		t.Errorf("after a restart: %+v, want %+v", got, want)
	}
}
