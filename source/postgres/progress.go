package postgres

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Progress of a snapshot: a chunk emitted is saved (the job's last key
// and rows) once the transaction of its high watermark is confirmed,
// i.e. every sink has acknowledged it; SnapshotProgress reports it.

// progress is a chunk emitted but not yet known to be delivered.
type progress struct {
	job   *snapshotJob
	last  []*string
	cols  []string // what last holds (snapshotJob.LastKeyColumns)
	rows  int64
	final bool
	lsn   uint64 // commit end of the high watermark's transaction; 0 until known
	// token numbers a blocking chunk's mark (blocking.go), which carries
	// no new position: the chunk is acknowledged once the source got the
	// token back through Confirm. 0 for the other chunks.
	token uint64
}

// finishedKey names a finished snapshot of a table: the latest initial
// and the latest incremental one of each table are kept for progress.
type finishedKey struct {
	table       string
	incremental bool
}

// finishedTables holds the latest finished snapshot per finishedKey.
type finishedTables = map[finishedKey]sluice.TableSnapshot

func (a finishedKey) compare(b finishedKey) int {
	if c := cmp.Compare(a.table, b.table); c != 0 {
		return c
	}
	switch {
	case a.incremental == b.incremental:
		return 0
	case b.incremental:
		return -1
	}
	return 1
}

// progress lists the snapshot's tables: those finished in this run, whose
// jobs the stored state forgets once every table is done, then the
// current jobs.
func (sn *snapshotter) progress() []sluice.TableSnapshot {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	out := make([]sluice.TableSnapshot, 0, len(sn.finished)+len(sn.state.Jobs))
	for _, k := range slices.SortedFunc(maps.Keys(sn.finished), finishedKey.compare) {
		out = append(out, sn.finished[k])
	}
	for _, j := range sn.state.Jobs { // after the finished ones: a table's current job wins
		out = append(out, sluice.TableSnapshot{Table: j.Table, Incremental: j.Incremental, Rows: max(j.emitted, j.Rows), Estimated: j.estimate,
			Done: j.Done, Failed: j.Failed, Error: j.Error})
	}
	return out
}

// remainLocked counts down the jobs not yet emitted completely when w is
// its job's final chunk; sn.mu is held.
func (sn *snapshotter) remainLocked(w *window) {
	if w.final && !w.job.allEmitted {
		w.job.allEmitted = true
		sn.remain--
	}
}

// committed gives chunks emitted in the transaction that just committed
// the position that confirms them, and records the transaction (xid) for
// the visibility check of later chunks.
func (sn *snapshotter) committed(end uint64, xid uint32) {
	for _, p := range sn.pending {
		if p.lsn == 0 {
			p.lsn = end
		}
	}
	sn.decoded(xid)
}

// persist saves the progress of chunks every sink has acknowledged. It
// reports whether the whole snapshot work is finished.
func (sn *snapshotter) persist(confirmed uint64) (finished bool, err error) {
	sn.mu.Lock() // jobs are read by progress() at any time
	defer sn.mu.Unlock()
	n := 0
	for _, p := range sn.pending {
		if p.token != 0 {
			if p.token > sn.blockAcked.Load() {
				break
			}
		} else if p.lsn == 0 || p.lsn > confirmed {
			break
		}
		n++
		if p.job.stopped {
			continue // removed from the state by a stop-snapshot
		}
		p.job.LastKey, p.job.LastKeyColumns, p.job.Rows = p.last, p.cols, p.job.Rows+p.rows
		if p.final {
			p.job.Done = true
			sn.jobCompleted(p.job)
			sn.log.Info("snapshot of table finished", zap.String("table", p.job.Table), zap.Int64("rows", p.job.Rows))
		}
	}
	if n == 0 && !sn.check {
		return false, nil
	}
	sn.check = false
	sn.pending = sn.pending[n:]
	if !sn.state.pending() {
		// Done jobs are forgotten; failed ones stay, for SnapshotProgress
		// and so that no restart runs them again.
		initial, cleared := false, false
		var failed []string
		sn.state.Jobs = slices.DeleteFunc(sn.state.Jobs, func(j *snapshotJob) bool {
			initial = initial || !j.Incremental && !j.Blocking
			if j.Failed {
				failed = append(failed, j.Table)
				return false
			}
			cleared = true
			if sn.finished == nil {
				sn.finished = finishedTables{}
			}
			sn.finished[finishedKey{j.Table, j.Incremental}] = sluice.TableSnapshot{Table: j.Table, Incremental: j.Incremental,
				Rows: j.Rows, Estimated: j.estimate, Done: true}
			return true
		})
		if initial && !sn.state.InitialDone {
			sn.state.InitialDone, cleared = true, true
		}
		if cleared && len(failed) > 0 {
			sn.log.Error("snapshot finished without the tables that failed", zap.Strings("failed", failed))
		}
		finished = cleared
	}
	return finished, sn.keep.save(context.Background(), sn.state)
}
