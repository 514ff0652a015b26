package postgres

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// A blocking snapshot (execute-snapshot with "type": "blocking", as in
// Debezium) reads its tables whole while the stream waits: the stream
// goroutine runs the jobs itself, between two transactions, and decodes
// no WAL until they end (or a pause-snapshot lets the stream go on; the
// job continues after the resume). Each chunk is read in a REPEATABLE
// READ transaction of its own and its rows are emitted at once as op "r"
// with source.snapshot as an initial snapshot writes it (first,
// first_in_data_collection, true, last_in_data_collection, last), which
// is what Debezium writes for a blocking snapshot, since it runs one
// through its initial snapshot's code.
//
// No watermark is needed: nothing else is emitted meanwhile. So, once
// the stream resumes, it delivers the changes committed during the read,
// some of them older than the "r" rows of the same key that precede
// them; the replayed state ends exact, as each such change is followed
// by every later one of its key (Debezium's blocking snapshot behaves
// the same).
//
// Meanwhile the slot's position must not move past what was emitted
// before, and the server must not take the silent connection for dead:
// a goroutine keeps sending standby status updates, which report the
// confirmed position as before. Each chunk is followed by a mark that
// carries the position already reached and, in Position.Resume, a token
// the runner hands back through Confirm once every sink acknowledged the
// chunk; its progress (the job's last key) is then saved like an
// incremental chunk's, so a restart resumes the job, still blocking,
// after its last saved key.

// blockingToken prefixes the Position.Resume of a blocking chunk's mark.
const blockingToken = "pg-blocking:"

// confirmBlocking records the acknowledgement of a blocking chunk's mark
// (Source.Confirm calls it with every confirmed mark). Tokens of an
// earlier run name another snapshotter and are ignored.
func (s *Source) confirmBlocking(pos sluice.Position) {
	rest, ok := strings.CutPrefix(pos.Resume, blockingToken)
	if !ok {
		return
	}
	sn := s.snap.Load()
	if sn == nil {
		return
	}
	run, seq, _ := strings.Cut(rest, ":")
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil || run != sn.runID {
		return
	}
	for {
		cur := sn.blockAcked.Load()
		if n <= cur || sn.blockAcked.CompareAndSwap(cur, n) {
			return
		}
	}
}

// nextBlocking returns the first blocking job to run, nil when there is
// none or snapshots are paused.
func (sn *snapshotter) nextBlocking() *snapshotJob {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	sn.blocking = slices.DeleteFunc(sn.blocking, func(j *snapshotJob) bool { return j.stopped || j.Failed })
	if sn.state.Paused || len(sn.blocking) == 0 {
		return nil
	}
	return sn.blocking[0]
}

// runBlocking runs the queued blocking jobs; the stream calls it between
// transactions. It returns nil when ctx ends, for the stream to drain.
func (st *stream) runBlocking(ctx context.Context) error {
	sn := st.snap
	if sn == nil || st.inTx || sn.nextBlocking() == nil {
		return nil
	}
	conn, err := st.src.connect(ctx, false)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	stopKeepalive := st.keepalive(ctx)
	defer func() {
		stopKeepalive()
		// The server's messages wait in the socket: the silence is ours.
		st.quietSince = time.Time{}
	}()
	st.log.Info("blocking snapshot: the stream waits until it ends")
	run := &blockingRun{}
	for job := sn.nextBlocking(); job != nil && ctx.Err() == nil; job = sn.nextBlocking() {
		err := st.blockingJob(ctx, conn, job, run)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && jobFailure(err):
			sn.fail(job, err)
		case err != nil:
			return err
		}
	}
	if ctx.Err() == nil {
		st.log.Info("blocking snapshot: the stream resumes", zap.Int64("rows", run.rows))
	}
	return nil
}

// blockingRun is what one runBlocking emitted, for the snapshot markers.
type blockingRun struct {
	rows int64
}

// blockingJob reads job chunk by chunk and emits each chunk at once,
// until the table ends, the job is stopped or snapshots are paused.
func (st *stream) blockingJob(ctx context.Context, conn *pgx.Conn, job *snapshotJob, run *blockingRun) error {
	sn := st.snap
	rel, last, hooks, err := sn.startJob(ctx, conn, job, "blocking snapshot of table started")
	if err != nil {
		return err
	}
	for {
		sn.mu.Lock()
		stopped, paused := job.stopped, sn.state.Paused
		sn.mu.Unlock()
		if stopped || paused {
			return nil
		}
		if hooks != nil && hooks.beforeLow != nil {
			if err := hooks.beforeLow(ctx, job.Table); err != nil {
				return err
			}
		}
		cr, err := sn.readChunk(ctx, conn, rel, job, last, hooks)
		if err != nil {
			return err
		}
		// Each chunk's rows go with the table as the chunk read it.
		rel = cr.rel
		t, rows, next, final := rel.table, cr.rows, cr.next, cr.final
		read := time.Now()
		sn.mu.Lock()
		alone := len(sn.blocking) == 1
		firstOfTable := job.emitted == 0
		sn.mu.Unlock()
		for i, row := range rows {
			mark := sluice.SnapshotTrue
			lastRow := final && i == len(rows)-1
			switch {
			case run.rows == 0:
				mark = sluice.SnapshotFirst
			case lastRow && alone:
				mark = sluice.SnapshotLast
			case lastRow:
				mark = sluice.SnapshotLastInData
			case firstOfTable && i == 0:
				mark = sluice.SnapshotFirstInData
			}
			run.rows++
			// The rows carry the position the stream reached: they belong
			// between what it emitted and what it decodes next.
			ev := &sluice.Event{Op: sluice.OpRead, Table: t, After: row, Snapshot: mark,
				Pos:        sluice.Position{LSN: st.lastMark, TxLSN: st.lastMark, PrevTxLSN: st.prevTxLSN},
				CommitTime: read, TxOrder: int64(i + 1)}
			if err := st.emit(ev); err != nil {
				return err
			}
		}
		sn.blockSeq++
		token := sn.blockSeq
		if err := st.emit(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{LSN: st.lastMark, TxLSN: st.lastMark,
			Resume: blockingToken + sn.runID + ":" + strconv.FormatUint(token, 10)}}); err != nil {
			return err
		}
		sn.mu.Lock()
		sn.pending = append(sn.pending, &progress{job: job, last: next, cols: chunkKeyColumns(t), rows: int64(len(rows)), final: final, token: token})
		job.emitted += int64(len(rows))
		if final {
			sn.blocking = slices.DeleteFunc(sn.blocking, func(j *snapshotJob) bool { return j == job })
		}
		sn.mu.Unlock()
		// Save what the sinks acknowledged so far, so that a crash
		// resumes near here.
		finished, err := sn.persist(st.src.confirmed.Load())
		if err != nil {
			return err
		}
		st.finished = st.finished || finished
		if final {
			sn.log.Info("blocking snapshot of table read", zap.String("table", job.Table), zap.Int64("rows", job.emitted))
			return nil
		}
		last = next
	}
}

// keepalive sends standby status updates while the stream goroutine is
// busy with a blocking snapshot, so that the server (wal_sender_timeout)
// does not end the replication connection. The updates report the
// confirmed position, which cannot pass what was emitted before the
// snapshot. The returned function stops it and waits for it to end;
// the stream uses the connection again only after.
func (st *stream) keepalive(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(max(min(st.src.cfg.StatusInterval, 10*time.Second), 100*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := st.maybeSendStatus(ctx, true); err != nil && ctx.Err() == nil {
				st.log.Warn("status update during a blocking snapshot failed", zap.Error(err))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
