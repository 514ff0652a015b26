package mysql

import (
	"encoding/json"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// The acknowledgement of incremental and blocking snapshot chunks, and
// what the jobs report: progress per table (SnapshotProgress) and counts
// (sluice.IncrementalSnapshotReporter), read at scrape time from atomics
// or under the runner's short lock, never waiting for the stream.

// confirm applies the progress of the chunks whose marks pos confirms:
// a chunk mark confirms its chunk and every chunk before it, a stream
// mark every chunk emitted before it, i.e. at an earlier position
// (a chunk's mark repeats the position of the stream mark before it).
func (in *incremental) confirm(pos sluice.Position) {
	if !in.unacked.Load() {
		return
	}
	seq, isChunk := chunkMarkSeq(pos.Resume)
	in.mu.Lock()
	n := 0
	for _, a := range in.pending {
		if isChunk && a.seq > seq || !isChunk && pos.TxLSN <= a.at {
			break
		}
		n++
		in.ackedLocked(a)
	}
	if n > 0 {
		clear(in.pending[:n])
		in.pending = in.pending[n:]
		in.unacked.Store(len(in.pending) > 0)
		in.changedLocked()
	}
	in.mu.Unlock()
}

// ackedLocked stores an acknowledged chunk's progress in its job.
func (in *incremental) ackedLocked(a chunkAck) {
	j := a.job
	if j.stopped || !j.active() {
		return
	}
	j.Rows += a.rows
	if a.last != nil {
		j.LastKey, j.KeyColumns = a.last, a.cols
	}
	if !a.final {
		return
	}
	j.Done = true
	if j.running {
		j.running = false
		in.running.Add(-1)
	}
	in.src.incTotals.completed.Add(1)
	in.log.Info("incremental snapshot of table finished", zap.String("table", j.Table), zap.Int64("rows", j.Rows))
	in.trimLocked()
}

// chunkMarkSuffix follows the stream position in a chunk mark's Resume
// token: "\x00c" and the chunk's sequence number (tokenOffset drops it).
const chunkMarkSuffix = "\x00c"

// chunkMarkSeq reads the sequence number of a chunk mark's token.
func chunkMarkSeq(token string) (uint64, bool) {
	i := strings.LastIndex(token, chunkMarkSuffix)
	if i < 0 || strings.Count(token, "\x00") < 3 {
		return 0, false
	}
	n, err := strconv.ParseUint(token[i+len(chunkMarkSuffix):], 10, 64)
	return n, err == nil
}

// progress reports the jobs for SnapshotProgress.
func (in *incremental) progress() []sluice.TableSnapshot {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]sluice.TableSnapshot, 0, len(in.st.Jobs))
	for _, j := range in.st.Jobs {
		rows := max(j.emitted, j.Rows)
		est := j.estimate
		if !j.running && j.emitted == 0 {
			est = -1
		}
		out = append(out, sluice.TableSnapshot{Table: j.Table, Incremental: true, Rows: rows, Estimated: est,
			Done: j.Done, Failed: j.Failed, Error: j.Error})
	}
	return out
}

var _ sluice.IncrementalSnapshotReporter = (*Source)(nil)

// IncrementalSnapshotJobs implements sluice.IncrementalSnapshotReporter.
func (s *Source) IncrementalSnapshotJobs() sluice.IncrementalSnapshotJobs {
	out := sluice.IncrementalSnapshotJobs{Completed: s.incTotals.completed.Load(), Failures: s.incTotals.failures.Load(),
		Chunks: s.incTotals.chunks.Load()}
	if in := s.inc.Load(); in != nil {
		out.Known = true
		out.Queued, out.Running, out.Failed = in.queued.Load(), in.running.Load(), in.failed.Load()
		out.Paused = in.paused.Load()
	}
	return out
}

// encodeState renders the state for logs and tests.
func (s *incrementalState) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}
