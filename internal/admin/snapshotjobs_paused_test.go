package admin

import (
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pipeline"
)

// TestSnapshotPausedMetric: sluice_incremental_snapshot_paused is 1 while
// a pause-snapshot holds, 0 otherwise, and absent while the source does
// not know (not running).
func TestSnapshotPausedMetric(t *testing.T) {
	paused := &pipeline.Pipeline{Name: "paused", Source: &jobsSource{j: sluice.IncrementalSnapshotJobs{Known: true, Paused: true, Queued: 1}}}
	going := &pipeline.Pipeline{Name: "going", Source: &jobsSource{j: sluice.IncrementalSnapshotJobs{Known: true}}}
	idle := &pipeline.Pipeline{Name: "idle", Source: &jobsSource{j: sluice.IncrementalSnapshotJobs{Paused: true}}}
	_, metrics := get(t, serve(t, Options{}, paused, going, idle)+"/metrics")
	checkMetrics(t, metrics, []metricCase{
		{`sluice_incremental_snapshot_paused{pipeline="paused"} 1`, true},
		{`sluice_incremental_snapshot_paused{pipeline="going"} 0`, true},
		{`sluice_incremental_snapshot_paused{pipeline="idle"`, false},
	})
}
