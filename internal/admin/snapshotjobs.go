package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice"
)

// snapshotJobsCollector exports a source's incremental snapshot jobs
// (sluice.IncrementalSnapshotReporter). The per-table series
// (sluice_snapshot_*) tell how far each table got; these tell whether
// requests pile up, run or fail, with a state label of three values so
// the series stay few whatever the tables. A failed job stays in the
// failed gauge until newer failures push it out of the state, so alerts
// on failures use the counter.
type snapshotJobsCollector struct {
	src                       sluice.IncrementalSnapshotReporter
	jobs                      *prometheus.Desc
	completed, failed, chunks *prometheus.Desc
	paused                    *prometheus.Desc
}

// jobDefinition is what a job is, for the help texts.
const jobDefinition = "A job is one table of one snapshot request (an execute-snapshot signal, which `sluice snapshot` writes, makes one job per table it names)."

func newSnapshotJobsCollector(pipeline string, src sluice.IncrementalSnapshotReporter) *snapshotJobsCollector {
	labels := prometheus.Labels{"pipeline": pipeline}
	return &snapshotJobsCollector{src: src,
		jobs: prometheus.NewDesc("sluice_incremental_snapshot_jobs",
			"Incremental snapshot jobs by state. "+jobDefinition+" queued: waiting for a snapshot worker; running: being read, or read and not yet acknowledged by every sink; "+
				"failed: given up and kept in the snapshot state across restarts (the newest 16; reasons in the log and sluice_snapshot_failed). "+
				"Absent while the source is not running, or has no signal_table and no snapshot work to resume.",
			[]string{"state"}, labels),
		completed: prometheus.NewDesc("sluice_incremental_snapshot_jobs_completed_total",
			"Incremental snapshot jobs completed (every chunk acknowledged by every sink) since the process started. "+jobDefinition, nil, labels),
		failed: prometheus.NewDesc("sluice_incremental_snapshot_jobs_failed_total",
			"Incremental snapshot jobs refused when their signal was read or given up while read, since the process started; the stream goes on. "+jobDefinition, nil, labels),
		chunks: prometheus.NewDesc("sluice_incremental_snapshot_chunks_total",
			"Chunks of incremental snapshot jobs emitted (snapshot.chunk_size rows at most each) since the process started.", nil, labels),
		paused: prometheus.NewDesc("sluice_incremental_snapshot_paused",
			"1 while snapshots are paused by a pause-snapshot signal (no chunk starts until a resume-snapshot signal; kept across restarts), else 0. "+
				"Absent while the source is not running, or has no signal_table and no snapshot work to resume.", nil, labels),
	}
}

func (c *snapshotJobsCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, c.jobs, c.completed, c.failed, c.chunks, c.paused)
}

func (c *snapshotJobsCollector) Collect(ch chan<- prometheus.Metric) {
	j := c.src.IncrementalSnapshotJobs()
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(c.completed, j.Completed)
	counter(c.failed, j.Failures)
	counter(c.chunks, j.Chunks)
	if !j.Known {
		return
	}
	for _, s := range []struct {
		state string
		n     int64
	}{{"queued", j.Queued}, {"running", j.Running}, {"failed", j.Failed}} {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(s.n), s.state)
	}
	paused := 0.0
	if j.Paused {
		paused = 1
	}
	ch <- prometheus.MustNewConstMetric(c.paused, prometheus.GaugeValue, paused)
}
