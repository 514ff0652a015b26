package mysql

import (
	"context"

	"github.com/go-mysql-org/go-mysql/client"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// A blocking snapshot (execute-snapshot of type "blocking") reads its
// tables while the stream waits: at the first transaction boundary after
// the request, the stream goroutine stops reading the binlog, reads each
// table chunk by chunk in key order (each chunk in a consistent snapshot
// transaction, as an incremental chunk), emits every row as op "r"
// (source.snapshot "true") with a mark per chunk, and only then reads the
// binlog again.
//
// No window is needed: nothing is emitted between the chunks. A chunk
// is the state at its own binlog position P, at or after the stream's
// position S; the changes between S and P follow the chunk when the
// stream resumes, each after the read of its row, so every key ends in
// its exact state, as after a resumed initial snapshot. Progress is
// acknowledged and stored per chunk as for an incremental job, so a
// restart resumes after the last acknowledged chunk, before streaming.
//
// While the stream waits, signals in the signal table wait too; the other
// channels (admin endpoint, Kafka) can still pause or stop the snapshot,
// which takes effect between chunks. The binlog connection idles
// meanwhile: a snapshot longer than the server's net_write_timeout for
// that connection has the connection closed by the server, and the run
// restarts and resumes the snapshot after its last acknowledged chunk.

// nextBlocking returns the first blocking job to run, nil when none may
// run now.
func (in *incremental) nextBlocking() *incJob {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.st.Paused {
		return nil
	}
	for _, j := range in.st.Jobs {
		if j.Blocking && j.active() && !j.stopped && !j.finished {
			if !j.running {
				j.running = true
				in.queued.Add(-1)
				in.running.Add(1)
			}
			return j
		}
	}
	in.blocking.Store(false)
	return nil
}

// runBlocking runs the queued blocking jobs in the stream goroutine,
// outside a transaction. A job's own failure fails the job; other errors
// end the run.
func (st *stream) runBlocking(ctx context.Context) error {
	return st.inc.runJobs(ctx, "blocking", st.inc.nextBlocking, func(conn *client.Conn, job *incJob) error { return st.blockingJob(ctx, conn, job) })
}

// blockingJob reads one table chunk by chunk and emits each chunk, until
// its last chunk was emitted or the job is stopped or paused.
func (st *stream) blockingJob(ctx context.Context, conn *client.Conn, job *incJob) error {
	in := st.inc
	rel, _, err := in.prepare(conn, job)
	if err != nil {
		return err
	}
	db, name, _ := splitTable(job.Table, in.src.dsn.DB)
	last := in.startJob(conn, rel, job, db, name, "blocking snapshot of table started: the stream waits")
	keyed := rel // the description last's key values are of
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !in.mayRun(job) {
			st.log.Info("blocking snapshot of table interrupted (stopped or paused): the stream goes on", zap.String("table", job.Table))
			return nil
		}
		rel, flt, err := in.prepare(conn, job)
		if err != nil {
			return err
		}
		w := &window{job: job, db: db, name: name, rel: rel}
		last, keyed = in.rekeyed(job, keyed, rel, last), rel
		if err := in.readChunk(ctx, conn, w, flt, last); err != nil {
			return err
		}
		if h := in.hooks; h != nil && h.afterRead != nil {
			if err := h.afterRead(ctx, job.Table); err != nil {
				return err
			}
		}
		if err := st.emitChunk(w, sluice.SnapshotTrue, false); err != nil {
			return err
		}
		last = w.next
		in.advance(job, w)
		if w.final {
			st.log.Info("blocking snapshot of table read: the stream goes on", zap.String("table", job.Table))
			return nil
		}
	}
}
