package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
)

// A snapshot job that cannot run is given up instead of failing the
// pipeline, which would restart into the same failure forever: it is
// marked failed in the state (no restart runs it again), logged, and
// reported by SnapshotProgress with the reason, and the stream and the
// other jobs go on. Requests refused when their signal is read are
// reported the same way. Only failures that running the job again would
// repeat count (jobFailure); a lost connection still restarts the
// pipeline, which resumes the job.

// maxFailed bounds the failed jobs the state keeps for reporting.
const maxFailed = 16

// refuse records a snapshot request refused when its signal was read as
// a failed job, for SnapshotProgress, and logs why.
func (sn *snapshotter) refuse(table string, reason error) error {
	sn.log.Error("snapshot request refused", zap.String("table", table), zap.Error(reason))
	if len(table) > 200 {
		table = table[:200]
	}
	job := &snapshotJob{Table: strings.ToValidUTF8(table, string(utf8.RuneError)), Incremental: true, Failed: true, Error: reason.Error()}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	sn.state.Jobs = append(sn.state.Jobs, job)
	sn.jobFailed(job, false)
	sn.trimFailedLocked()
	return sn.keep.save(context.Background(), sn.state)
}

// fail marks a job that cannot run as failed and saves it, so that no
// restart retries it; the stream and the other jobs go on.
func (sn *snapshotter) fail(job *snapshotJob, reason error) {
	sn.log.Error("snapshot of table failed; the stream goes on without it", zap.String("table", job.Table), zap.Error(reason))
	sn.mu.Lock()
	defer sn.mu.Unlock()
	for id, w := range sn.windows {
		if w.job == job {
			delete(sn.windows, id)
			sn.nwin.Store(int32(len(sn.windows)))
		}
	}
	job.Failed, job.Error = true, reason.Error()
	if !job.Blocking && !job.allEmitted {
		job.allEmitted = true
		sn.remain--
	}
	sn.check = true
	sn.jobFailed(job, true)
	sn.trimFailedLocked()
	if err := sn.keep.save(context.Background(), sn.state); err != nil {
		sn.log.Error("cannot save the failed snapshot job; a restart runs it again", zap.Error(err))
	}
}

// trimFailedLocked keeps the newest maxFailed failed jobs.
func (sn *snapshotter) trimFailedLocked() {
	n := 0
	for _, j := range sn.state.Jobs {
		if j.Failed {
			n++
		}
	}
	sn.state.Jobs = slices.DeleteFunc(sn.state.Jobs, func(j *snapshotJob) bool {
		if j.Failed && n > maxFailed {
			n--
			return true
		}
		return false
	})
	sn.recountFailedLocked()
}

// jobError is a failure of a snapshot job itself, which running it again
// would repeat.
type jobError struct{ err error }

func (e *jobError) Error() string { return e.err.Error() }
func (e *jobError) Unwrap() error { return e.err }

// jobFailure reports whether err fails the job rather than the pipeline:
// the job's own refusals, a missing table, a value that does not decode,
// and the server's errors except those of a connection, a resource or
// an operator (SQLSTATE classes 08, 40, 53, 55, 57, 58, XX), which a
// restart may cure.
func jobFailure(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "40", "53", "55", "57", "58", "XX":
			return false
		}
		return true
	}
	var je *jobError
	return errors.As(err, &je) || errors.Is(err, errNoTable) || errors.Is(err, errFilter) ||
		errors.Is(err, errSyntax) || errors.Is(err, errRange) || errors.Is(err, errBadType) || errors.Is(err, errTooDeep) || errors.Is(err, errBadArray)
}
