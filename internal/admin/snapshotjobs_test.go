package admin

import (
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pipeline"
)

// jobsSource reports fixed incremental snapshot job counts.
type jobsSource struct {
	snapSource
	j sluice.IncrementalSnapshotJobs
}

func (s *jobsSource) IncrementalSnapshotJobs() sluice.IncrementalSnapshotJobs { return s.j }

// TestSnapshotJobMetrics: a source's incremental snapshot jobs are on
// /metrics by state, with the totals; the gauges are left out while the
// source does not know them, the totals are not.
func TestSnapshotJobMetrics(t *testing.T) {
	shop := &pipeline.Pipeline{Name: "shop", Source: &jobsSource{j: sluice.IncrementalSnapshotJobs{Known: true,
		Queued: 2, Running: 1, Failed: 3, Completed: 7, Failures: 4, Chunks: 90}}}
	idle := &pipeline.Pipeline{Name: "idle", Source: &jobsSource{j: sluice.IncrementalSnapshotJobs{Completed: 1}}}
	plain := &pipeline.Pipeline{Name: "plain", Source: &snapSource{}}
	_, metrics := get(t, serve(t, Options{}, shop, idle, plain)+"/metrics")
	checkMetrics(t, metrics, []metricCase{
		{`sluice_incremental_snapshot_jobs{pipeline="shop",state="queued"} 2`, true},
		{`sluice_incremental_snapshot_jobs{pipeline="shop",state="running"} 1`, true},
		{`sluice_incremental_snapshot_jobs{pipeline="shop",state="failed"} 3`, true},
		{`sluice_incremental_snapshot_jobs_completed_total{pipeline="shop"} 7`, true},
		{`sluice_incremental_snapshot_jobs_failed_total{pipeline="shop"} 4`, true},
		{`sluice_incremental_snapshot_chunks_total{pipeline="shop"} 90`, true},
		{`sluice_incremental_snapshot_jobs{pipeline="idle"`, false},
		{`sluice_incremental_snapshot_jobs_completed_total{pipeline="idle"} 1`, true},
		{`sluice_incremental_snapshot_jobs_failed_total{pipeline="idle"} 0`, true},
		{`sluice_incremental_snapshot_jobs_completed_total{pipeline="plain"`, false}, // a source without incremental snapshots
	})
}
