package admin

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/source"
	"github.com/sluice-cdc/sluice/source/postgres"
)

// readGate is a sink that holds every snapshot read in Write until
// freed, and acknowledges everything else at once. Write runs on the
// source's goroutine, so a held read holds the stream, and the snapshot
// worker waiting for its chunk to be emitted.
type readGate struct {
	release  chan struct{}
	freeOnce sync.Once
}

func (g *readGate) free()                       { g.freeOnce.Do(func() { close(g.release) }) }
func (g *readGate) Open(context.Context) error  { return nil }
func (g *readGate) Close(context.Context) error { return nil }
func (g *readGate) Write(ctx context.Context, ev *sluice.Event, ack func(error)) error {
	if ev.Op == sluice.OpRead {
		select {
		case <-g.release:
		case <-ctx.Done():
		}
	}
	ack(nil)
	return nil
}

// waitMetrics scrapes base's /metrics until it has every line of want.
func waitMetrics(t *testing.T, base, what string, want ...string) {
	t.Helper()
	var metrics string
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, metrics = get(t, base+"/metrics")
		missing := ""
		for _, w := range want {
			if !strings.Contains(metrics, w+"\n") {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: /metrics lacks %s; it has:\n%s", what, missing, grepLines(metrics, "sluice_incremental_snapshot"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestIncrementalSnapshotJobMetricsPostgres: a snapshot signal naming two
// tables on the real PostgreSQL makes two jobs; with one worker and the
// first job's rows held by the sink, /metrics shows one running and one
// queued; once the sink acknowledges, both are completed, one chunk
// each; a signal naming a table the source does not capture is a failed
// job.
func TestIncrementalSnapshotJobMetricsPostgres(t *testing.T) {
	dsn := testenv.Get(t, "SLUICE_TEST_PG_DSN")
	const name = "sluice_admin_snapjobs"
	ctx := context.Background()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	exec := func(sql string) {
		t.Helper()
		if _, err := db.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	clean := func() {
		testenv.DropSlot(t, db, name)
		db.Exec(ctx, "DROP PUBLICATION IF EXISTS "+name)
		db.Exec(ctx, "DROP TABLE IF EXISTS admin_jobs_a, admin_jobs_b, admin_jobs_signal")
		db.Exec(ctx, "DELETE FROM public.sluice_state WHERE slot = $1", name) // fails harmlessly when the table is missing
	}
	clean()
	t.Cleanup(func() { clean(); db.Close(ctx) })
	for _, tbl := range []string{"admin_jobs_a", "admin_jobs_b"} {
		exec("CREATE TABLE " + tbl + " (id int PRIMARY KEY, v bigint NOT NULL)")
		exec("INSERT INTO " + tbl + " SELECT g, g FROM generate_series(1, 5) g")
	}

	src, err := source.Build(postgres.New, map[string]any{"type": "postgres", "dsn": dsn, "slot": name, "publication": name,
		"tables": []any{"public.admin_jobs_a", "public.admin_jobs_b"}, "signal_table": "public.admin_jobs_signal",
		"status_interval": "1s", "drain_timeout": "2s", "snapshot": map[string]any{"mode": "never", "workers": 1, "chunk_size": 10}},
		source.Env{Pipeline: "snapjobs", Path: "source", Logger: zaptest.NewLogger(t), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	gate := &readGate{release: make(chan struct{})}
	p := &pipeline.Pipeline{Name: "snapjobs", Source: src, Sinks: []sluice.Sink{gate}, Logger: zaptest.NewLogger(t)}
	base := serve(t, Options{}, p)
	runPipeline(t, p, gate.free)
	waitUntil(t, "the source to stream", func() bool { ok, err := testenv.SlotStreaming(ctx, db, name); return err == nil && ok })

	waitMetrics(t, base, "the idle counts", `sluice_incremental_snapshot_jobs{pipeline="snapjobs",state="queued"} 0`,
		`sluice_incremental_snapshot_jobs_completed_total{pipeline="snapjobs"} 0`)
	if err := src.WriteSignal(ctx, sluice.Signal{Type: sluice.SignalExecuteSnapshot,
		Data: sluice.SnapshotSignalData(sluice.SnapshotKindIncremental, []string{"public.admin_jobs_a", "public.admin_jobs_b"}, "")}); err != nil {
		t.Fatal(err)
	}
	waitMetrics(t, base, "one job running, one queued",
		`sluice_incremental_snapshot_jobs{pipeline="snapjobs",state="queued"} 1`,
		`sluice_incremental_snapshot_jobs{pipeline="snapjobs",state="running"} 1`,
		`sluice_incremental_snapshot_jobs_completed_total{pipeline="snapjobs"} 0`)
	gate.free()
	waitMetrics(t, base, "both jobs completed",
		`sluice_incremental_snapshot_jobs{pipeline="snapjobs",state="queued"} 0`,
		`sluice_incremental_snapshot_jobs{pipeline="snapjobs",state="running"} 0`,
		`sluice_incremental_snapshot_jobs{pipeline="snapjobs",state="failed"} 0`,
		`sluice_incremental_snapshot_jobs_completed_total{pipeline="snapjobs"} 2`,
		`sluice_incremental_snapshot_chunks_total{pipeline="snapjobs"} 2`)

	// sluice snapshot would refuse this table; a signal row written by
	// hand reaches the stream, which refuses it as a failed job.
	exec(`INSERT INTO public.admin_jobs_signal VALUES ('by-hand', 'execute-snapshot', '{"data-collections": ["public.admin_jobs_nosuch"], "type": "incremental"}')`)
	waitMetrics(t, base, "the refused job",
		`sluice_incremental_snapshot_jobs{pipeline="snapjobs",state="failed"} 1`,
		`sluice_incremental_snapshot_jobs_failed_total{pipeline="snapjobs"} 1`,
		`sluice_incremental_snapshot_jobs_completed_total{pipeline="snapjobs"} 2`)
}
