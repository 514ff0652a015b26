package postgres

import (
	"sync/atomic"

	"github.com/sluice-cdc/sluice"
)

// Counts of incremental snapshot jobs for the /metrics endpoint
// (sluice.IncrementalSnapshotReporter). A job is one snapshotJob with
// Incremental set: one table of one execute-snapshot signal (or of one
// `sluice snapshot`, which writes such a signal), which is queued, read
// chunk by chunk by one worker, and completes or fails on its own. The
// initial snapshot's jobs are not counted: sluice_snapshot_* reports them.
//
// The counts are atomics moved where a job changes state, so a scrape
// never takes the snapshotter's mutex, which the stream holds for every
// change decoded while a chunk's window is open. The gauges belong to
// one snapshotter, i.e. one run of the source, and start from the state
// it resumes; a worker that outlives its run moves only its own
// snapshotter's gauges. The totals belong to the Source, which the
// pipeline keeps across restarts, so they only grow.

// jobGauges are the incremental jobs of one snapshotter by state.
type jobGauges struct {
	queued  atomic.Int64 // in snapshotter.queue
	running atomic.Int64 // picked by a worker, not yet Done (acknowledged) or Failed
	failed  atomic.Int64 // Failed jobs kept in the state (maxFailed at most)
}

// jobTotals count since the Source was built.
type jobTotals struct {
	completed atomic.Int64 // jobs marked Done
	failures  atomic.Int64 // jobs refused or given up
	chunks    atomic.Int64 // chunks of incremental jobs emitted at their high watermark
}

var _ sluice.IncrementalSnapshotReporter = (*Source)(nil)

// IncrementalSnapshotJobs implements sluice.IncrementalSnapshotReporter.
func (s *Source) IncrementalSnapshotJobs() sluice.IncrementalSnapshotJobs {
	out := sluice.IncrementalSnapshotJobs{Completed: s.jobTotals.completed.Load(), Failures: s.jobTotals.failures.Load(),
		Chunks: s.jobTotals.chunks.Load()}
	if sn := s.snap.Load(); sn != nil {
		out.Known = true
		out.Queued, out.Running, out.Failed = sn.jobs.queued.Load(), sn.jobs.running.Load(), sn.jobs.failed.Load()
		out.Paused = sn.paused.Load()
	}
	return out
}

// countResumed sets the gauges from the state a new snapshotter resumes:
// its unfinished incremental jobs are queued again, its failed ones kept.
func (sn *snapshotter) countResumed() {
	for _, j := range sn.state.Jobs {
		switch {
		case !j.Incremental:
		case j.Failed:
			sn.jobs.failed.Add(1)
		case !j.Done:
			sn.jobs.queued.Add(1)
		}
	}
}

// jobsQueued counts jobs a signal added to the queue.
func (sn *snapshotter) jobsQueued(jobs []*snapshotJob) {
	for _, j := range jobs {
		if j.Incremental {
			sn.jobs.queued.Add(1)
		}
	}
}

// jobStarted counts a job a worker took from the queue.
func (sn *snapshotter) jobStarted(j *snapshotJob) {
	if j.Incremental {
		sn.jobs.queued.Add(-1)
		sn.jobs.running.Add(1)
	}
}

// jobCompleted counts a job whose last chunk every sink acknowledged.
func (sn *snapshotter) jobCompleted(j *snapshotJob) {
	if j.Incremental {
		sn.jobs.running.Add(-1)
		sn.src.jobTotals.completed.Add(1)
	}
}

// jobFailed counts a job given up; running reports whether a worker had
// it (fail) or it was refused before it was queued (refuse). The failed
// gauge follows the state (recountFailedLocked).
func (sn *snapshotter) jobFailed(j *snapshotJob, running bool) {
	if !j.Incremental {
		return
	}
	if running {
		sn.jobs.running.Add(-1)
	}
	sn.src.jobTotals.failures.Add(1)
}

// recountFailedLocked sets the failed gauge to the incremental failed
// jobs the state keeps, after trimFailedLocked dropped the oldest; sn.mu
// is held.
func (sn *snapshotter) recountFailedLocked() {
	n := int64(0)
	for _, j := range sn.state.Jobs {
		if j.Incremental && j.Failed {
			n++
		}
	}
	sn.jobs.failed.Store(n)
}

// chunkEmitted counts a chunk emitted at its high watermark.
func (sn *snapshotter) chunkEmitted(j *snapshotJob) {
	if j.Incremental {
		sn.src.jobTotals.chunks.Add(1)
	}
}
