package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// Snapshots follow Netflix DBLog's watermark algorithm, so they run while
// the stream keeps flowing and need neither locks nor an exported
// snapshot:
//
//  1. A worker writes a low watermark into the WAL
//     (pg_logical_emit_message), reads one chunk of the table in key order
//     (keyset pagination: WHERE key > last ORDER BY key LIMIT n), then
//     writes a high watermark.
//  2. The stream, reading the WAL in commit order, sees the low watermark,
//     then the changes committed while the chunk was read, then the high
//     watermark. Every key changed inside that window is dropped from the
//     chunk: the stream carries a state at least as new. A TRUNCATE of the
//     table inside the window drops the whole chunk: it deleted every row
//     the chunk read.
//  3. At the high watermark the remaining chunk rows are emitted as op "r"
//     events, so no "r" event can overtake a newer change of its key, and
//     every row is either in the chunk or changed later in the stream: no
//     gap. (Overlap, a row both read and streamed, is harmless.)
//
// Step 2 needs the chunk to see every transaction the stream decoded
// before the low watermark, which PostgreSQL does not promise by itself;
// readChunk (chunk.go) explains how the stream checks it and when a
// chunk is read again.
//
// Keys are compared as the stream and the snapshot both decode them
// (sluice.KeyString), and both describe a table's key the same way:
// its replica identity (see buildRelation). Each chunk describes the
// table again in its own read (readChunk), so columns added or dropped
// during a snapshot change the chunks read after them, whose rows are
// emitted with the description they were read with, and a key changed
// during a snapshot reads the table again from the start.
//
// A worker reads the next chunk (its own window) while the stream emits
// the one before: the windows of one table follow each other in the WAL,
// so their chunks are emitted in key order. A chunk read again takes the
// chunks read after it with it (snapshotJob.gen), so they keep that order.
//
// A chunk's progress is saved to the state store (state.go) once every
// sink has acknowledged it (progress.go); a restart resumes each table
// after its last saved key.
// Tables without a key are read in ctid order; their chunks cannot drop
// rows changed in the window (nothing identifies them), which is
// documented.
//
// A job that cannot run (its table is gone or no longer captured, its
// filter does not compile, the server refuses its query) is given up, and
// the stream goes on (failure.go).

// chunkHooks let tests step into a worker's chunk cycle; nil in
// production.
type chunkHooks struct {
	beforeLow func(ctx context.Context, table string) error // before the low watermark is written
	inRead    func(ctx context.Context, tx pgx.Tx) error    // first thing in the chunk's read transaction
	afterRead func(ctx context.Context, table string) error // after the read, before the high watermark
	// serial reads a chunk only after the stream emitted the one before,
	// for hooks that count the rows emitted (no read-ahead).
	serial bool
}

// readAhead is how many chunks a worker reads beyond the oldest one the
// stream has not emitted yet. One overlaps the worker's read (mostly the
// server's work) with the stream's emission of the chunk before (the
// pipeline's): in the snapshot benchmark they took 10 and 17 ms of a
// 4096-row chunk, one after the other. A worker holds readAhead+1 chunks
// in memory.
const readAhead = 1

// snapshotter coordinates snapshot workers with the stream goroutine.
type snapshotter struct {
	src   *Source
	state *state
	keep  *stateKeeper // saves state (under mu)
	log   *zap.Logger

	mu      sync.Mutex
	windows map[string]*window // by watermark id
	// nwin is len(windows), so that the stream skips the mutex for the
	// rows it decodes while no window is open (the common case).
	nwin    atomic.Int32
	queue   []*snapshotJob // jobs not yet picked by a worker
	running int            // workers busy
	errs    chan error     // a worker's failure ends the stream
	pending []*progress    // owned by the stream goroutine
	// finished are the tables whose snapshot completed in this run, for
	// progress once their jobs are dropped from the state (under mu).
	finished finishedTables
	started  bool // first row of this run emitted
	remain   int  // jobs not yet emitted completely
	check    bool // a job failed: persist looks whether the work is finished
	hooks    *chunkHooks
	jobs     jobGauges // incremental jobs by state, for scrapes (jobstats.go)
	// blocking are the blocking jobs not yet read to their end, which the
	// stream goroutine runs itself (blocking.go), in order (under mu).
	blocking []*snapshotJob
	// wake is closed, and replaced, when a pause is lifted or a job is
	// stopped, so that workers waiting in gate look again (under mu).
	wake   chan struct{}
	paused atomic.Bool // state.Paused, for scrapes
	// runID, blockSeq and blockAcked number the marks of blocking chunks
	// and record the newest one acknowledged (blocking.go).
	runID      string
	blockSeq   uint64 // owned by the stream goroutine
	blockAcked atomic.Uint64

	// recent holds the xids of transactions the stream decoded and no
	// snapshot has shown visible yet (owned by the stream goroutine; see
	// readChunk). pruneTick and pruned pace prune.
	recent    []uint32
	pruneTick uint32
	pruned    time.Time
}

func newSnapshotter(s *Source, st *state, keep *stateKeeper) *snapshotter {
	sn := &snapshotter{src: s, state: st, keep: keep, log: s.log, windows: map[string]*window{}, errs: make(chan error, 1), hooks: s.hooks,
		wake: make(chan struct{}), runID: newID()}
	sn.paused.Store(st.Paused)
	if st.Paused {
		sn.log.Warn("snapshots are paused (a pause-snapshot signal of an earlier run): no chunk is read until a resume-snapshot signal")
	}
	for _, j := range st.Jobs {
		switch {
		case j.Failed:
			sn.log.Warn("snapshot of table failed in an earlier run; request it again once the cause is fixed",
				zap.String("table", j.Table), zap.String("error", j.Error))
		case j.Blocking && !j.Done:
			sn.blocking = append(sn.blocking, j)
		case !j.Done:
			sn.queue = append(sn.queue, j)
			sn.remain++
		}
	}
	sn.countResumed()
	return sn
}

func (sn *snapshotter) setHooks(h *chunkHooks) {
	sn.mu.Lock()
	sn.hooks = h
	sn.mu.Unlock()
}

// add queues new jobs (an execute-snapshot signal) and saves them.
// Blocking jobs wait for the stream goroutine, the others for a worker.
func (sn *snapshotter) add(jobs ...*snapshotJob) error {
	sn.mu.Lock()
	sn.state.Jobs = append(sn.state.Jobs, jobs...)
	for _, j := range jobs {
		if j.Blocking {
			sn.blocking = append(sn.blocking, j)
		} else {
			sn.queue = append(sn.queue, j)
			sn.remain++
		}
	}
	sn.jobsQueued(jobs)
	err := sn.keep.save(context.Background(), sn.state)
	sn.mu.Unlock()
	return err
}

// startWorkers keeps up to cfg workers reading queued jobs.
func (sn *snapshotter) startWorkers(ctx context.Context) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	for !sn.state.Paused && sn.running < sn.src.cfg.Snapshot.Workers && len(sn.queue) > 0 {
		job := sn.queue[0]
		sn.queue = sn.queue[1:]
		sn.running++
		sn.jobStarted(job)
		go func() {
			err := sn.work(ctx, job)
			sn.mu.Lock()
			sn.running--
			sn.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				select {
				case sn.errs <- err:
				default:
				}
			}
		}()
	}
}

// work reads one table chunk by chunk. A failure of the job itself marks
// it failed and returns nil; any other error ends the stream (the
// pipeline restarts and the job resumes).
func (sn *snapshotter) work(ctx context.Context, job *snapshotJob) error {
	err := sn.read(ctx, job)
	if err != nil && ctx.Err() == nil && jobFailure(err) {
		sn.fail(job, err)
		return nil
	}
	return err
}

// prepare checks that the job's table is captured and describes it, with
// its filter compiled against its columns. Jobs persisted by an earlier
// version may carry anything: they are checked like a new request.
func (sn *snapshotter) prepare(ctx context.Context, conn *pgx.Conn, job *snapshotJob) (*relation, *snapshotFilter, error) {
	schema, name, ok := splitTable(job.Table)
	if !ok {
		return nil, nil, &jobError{fmt.Errorf("postgres source: snapshot of %q: not schema.table", job.Table)}
	}
	if err := sn.src.checkCaptured(ctx, conn, tableName(schema, name)); err != nil {
		return nil, nil, &jobError{err}
	}
	rel, err := sn.src.describeTable(ctx, conn, schema, name)
	if err != nil {
		return nil, nil, err
	}
	flt, err := compileFilter(job.Filter, rel.table)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres source: snapshot of %s: %w", job.Table, err)
	}
	return rel, flt, nil
}

// startJob prepares job's read (its table and filter), records the
// table's row estimate for the progress, logs msg, and returns the table
// as described now, the key to read after (nil: from the start) and the
// test hooks. Each chunk describes the table again (readChunk).
func (sn *snapshotter) startJob(ctx context.Context, conn *pgx.Conn, job *snapshotJob, msg string) (*relation, []*string, *chunkHooks, error) {
	rel, _, err := sn.prepare(ctx, conn, job)
	if err != nil {
		return nil, nil, nil, err
	}
	total := estimateRows(ctx, conn, rel.table.ID)
	sn.mu.Lock()
	job.estimate, job.emitted = total, job.Rows
	hooks := sn.hooks
	sn.mu.Unlock()
	sn.log.Info(msg, zap.String("table", job.Table), zap.Int64("estimated_rows", total),
		zap.Int64("rows_done", job.Rows), zap.Bool("incremental", job.Incremental))
	last := resumeKey(job, rel.table)
	if job.LastKey != nil && last == nil {
		sn.log.Info("the table's key is not the one its saved snapshot progress was read in: reading it from the start",
			zap.String("table", job.Table), zap.Strings("saved_key", job.LastKeyColumns), zap.Strings("key", chunkKeyColumns(rel.table)))
	}
	return rel, last, hooks, nil
}

// read reads one table chunk by chunk.
func (sn *snapshotter) read(ctx context.Context, job *snapshotJob) error {
	if sn.src.standby.Load() {
		return &jobError{fmt.Errorf("postgres source: snapshot of %s: snapshots write watermarks, and this source reads a standby, which is read-only", job.Table)}
	}
	conn, err := sn.src.connect(ctx, false)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The stream emits a chunk when it decodes the chunk's high watermark,
	// and the walsender sends only flushed WAL. Under asynchronous commit
	// (synchronous_commit = off, a common tuning of legacy servers) a
	// watermark's commit would wait for the WAL writer, up to
	// wal_writer_delay per chunk; committing the watermarks synchronously
	// flushes them at once. Best effort: the snapshot is correct either way.
	if _, err := conn.Exec(ctx, "SET synchronous_commit = on"); err != nil {
		sn.log.Warn("cannot set synchronous_commit for the snapshot session; chunks may wait for the WAL writer", zap.Error(err))
	}
	// rel is the table as the newest chunk read described it.
	rel, last, hooks, err := sn.startJob(ctx, conn, job, "snapshot of table started")
	if err != nil {
		return err
	}
	// A worker reads the next chunk while the stream emits the one before
	// (readAhead): inflight holds the chunks whose high watermark is
	// written and which the stream has not emitted yet, oldest first.
	ahead := readAhead
	if hooks != nil && hooks.serial {
		ahead = 0
	}
	var inflight []*window
	readAll := false // the final chunk is in flight
	for again := 0; ; {
		if !readAll && len(inflight) <= ahead {
			if stop, err := sn.gate(ctx, job); err != nil || stop {
				return err
			}
			w, err := sn.chunk(ctx, conn, rel, job, last, hooks)
			if err != nil {
				return err
			}
			inflight = append(inflight, w)
			rel, last, readAll = w.rel, w.last, w.final
			continue
		}
		w := inflight[0]
		inflight = inflight[1:]
		select {
		case <-w.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if w.again {
			// The stream drops the chunks read after this one with it,
			// which are of its generation (watermark); wait until it has
			// reached them, then read on from this one in a new one.
			for _, o := range inflight {
				select {
				case <-o.done:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			inflight, rel, last, readAll = nil, w.rel, w.from, false
			sn.mu.Lock()
			job.gen++
			sn.mu.Unlock()
			// Wait for the transaction the chunk missed to become
			// visible, then read the chunk again (described anew, like
			// every chunk; a changed key reads from the start).
			again++
			log := sn.log.Debug
			if again%50 == 0 {
				log = sn.log.Warn
			}
			log("snapshot chunk read again: a transaction decoded before its low watermark was not visible to its read, or the table's key changed",
				zap.String("table", job.Table), zap.Int("attempt", again))
			select {
			case <-time.After(min(time.Millisecond<<min(again, 7), 100*time.Millisecond)):
			case <-ctx.Done():
				return ctx.Err()
			}
			// Whether the table is still captured.
			if _, _, err := sn.prepare(ctx, conn, job); err != nil {
				return err
			}
			continue
		}
		again = 0
		if w.final {
			return nil
		}
	}
}

// chunk reads one chunk of job after last between its watermarks and
// returns its window, which the stream closes once it emitted the chunk
// (or found it must be read again). rel is the table as the chunk before
// was read; the window takes the table as this chunk read it, the
// description its rows are emitted with.
func (sn *snapshotter) chunk(ctx context.Context, conn *pgx.Conn, rel *relation, job *snapshotJob,
	last []*string, hooks *chunkHooks) (_ *window, err error) {
	w := &window{id: newID(), job: job, rel: rel, from: last, dirty: map[string]struct{}{}, done: make(chan struct{})}
	sn.mu.Lock()
	w.gen = job.gen
	sn.windows[w.id] = w
	sn.nwin.Store(int32(len(sn.windows)))
	sn.mu.Unlock()
	defer func() {
		if err != nil {
			sn.forget(w)
		}
	}()
	if hooks != nil && hooks.beforeLow != nil {
		if err := hooks.beforeLow(ctx, job.Table); err != nil {
			return nil, err
		}
	}
	if err := emitWatermark(ctx, conn, "L:"+w.id); err != nil {
		return nil, err
	}
	cr, err := sn.readChunk(ctx, conn, rel, job, last, hooks)
	if err != nil {
		return nil, err
	}
	sn.mu.Lock()
	// The window was opened with the key of the chunk before, so the keys
	// it marked changed may not compare with this chunk's rows: read it
	// again, in a window opened with this key.
	if !sameRelation(w.rel, cr.rel) {
		w.again = true
	}
	w.rel, w.from = cr.rel, cr.from
	w.rows, w.last, w.final, w.read, w.snap = cr.rows, cr.next, cr.final, time.Now(), cr.snap
	sn.mu.Unlock()
	if hooks != nil && hooks.afterRead != nil {
		if err := hooks.afterRead(ctx, job.Table); err != nil {
			return nil, err
		}
	}
	if err := emitWatermark(ctx, conn, "H:"+w.id); err != nil {
		return nil, err
	}
	return w, nil
}

// forget removes a window whose chunk will not be emitted.
func (sn *snapshotter) forget(w *window) {
	sn.mu.Lock()
	delete(sn.windows, w.id)
	sn.nwin.Store(int32(len(sn.windows)))
	sn.mu.Unlock()
}

// estimateRows is the planner's estimate of the table's rows (reltuples),
// -1 when unknown; it is only reported.
func estimateRows(ctx context.Context, conn *pgx.Conn, relid uint32) int64 {
	var n float64
	if err := conn.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = $1", relid).Scan(&n); err != nil || n < 0 {
		return -1
	}
	return int64(n)
}
