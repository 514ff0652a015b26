package mysql

import (
	"slices"

	"go.uber.org/zap"
)

// A table joins a pipeline when it is added to `tables`, or created in
// the database when `tables` is left out. The stream carries its changes
// from the next start on, but its older rows were never read: with
// snapshot.new_tables incremental that start queues an incremental
// snapshot of it, so its rows arrive as op "r" while the stream of every
// table goes on from the stored position (no gap, no new snapshot of the
// others). Which tables are new is decided against the captured tables
// the incremental state recorded at the previous start, not against what
// the stream saw, and the state is stored with the new jobs before the
// stream starts: a crash in between decides the same way again.
//
// A table that left the pipeline has its unfinished snapshot jobs
// dropped; the stream no longer reads its changes.

// newTableSignal is the signal id of the jobs a start queues for tables
// that joined.
const newTableSignal = "new-table"

// followTables records tables (db.table) as the captured ones and
// returns the tables that joined since the previous start, for which it
// queued a job when queue is set; none on the first start that records
// them (a state of an older version, or no state).
func (in *incremental) followTables(tables []string, queue bool) (joined, left []string) {
	in.mu.Lock()
	prev := in.st.Tables
	known := prev != nil
	in.st.Tables = slices.Clone(tables)
	in.changedLocked()
	if known {
		for _, t := range tables {
			if !slices.Contains(prev, t) {
				joined = append(joined, t)
			}
		}
		for _, t := range prev {
			if !slices.Contains(tables, t) {
				left = append(left, t)
			}
		}
	}
	if queue {
		for _, t := range joined {
			if in.activeJobLocked(t) {
				continue
			}
			in.st.Jobs = append(in.st.Jobs, &incJob{ID: newTableSignal, Table: t})
			in.queued.Add(1)
		}
	}
	in.mu.Unlock()
	if len(left) > 0 {
		if n := in.stop(left, ""); n > 0 {
			in.log.Info("dropped the snapshot jobs of tables no longer captured", zap.Strings("tables", left), zap.Int("jobs", n))
		}
	}
	if len(joined) > 0 {
		in.log.Info("tables joined the pipeline", zap.Strings("tables", joined), zap.Bool("snapshot", queue))
	}
	if len(left) > 0 {
		in.log.Info("tables left the pipeline", zap.Strings("tables", left))
	}
	return joined, left
}

// activeJobLocked reports whether table has a job to run or to finish;
// in.mu is held.
func (in *incremental) activeJobLocked(table string) bool {
	for _, j := range in.st.Jobs {
		if j.Table == table && j.active() && !j.stopped {
			return true
		}
	}
	return false
}
