package mysql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Incremental (ad-hoc) snapshots re-read captured tables while the
// binlog stream goes on, chunk by chunk in key order, with no write on
// the server: a read-only CDC user can run them. They use binlog-position
// windows instead of the DBLog watermarks the PostgreSQL source writes
// (MySQL has no pg_logical_emit_message, and a read-only user cannot
// write watermark rows):
//
//  1. The snapshot worker opens a window on the table: from then on the
//     stream records, for that table, every key it sees changed, with
//     the binlog position of the change (window.go).
//  2. The worker then opens a consistent snapshot transaction
//     (consistentSnapshot: on MariaDB START TRANSACTION WITH CONSISTENT
//     SNAPSHOT, which reports the exact binlog position P it is
//     consistent with, without a lock; on MySQL a FLUSH TABLES WITH READ
//     LOCK held only while the position is read, as for the initial
//     snapshot, which needs RELOAD), reads one chunk in key order after
//     the last key, and commits.
//  3. It hands the chunk and P to the stream. At the first transaction
//     boundary where the stream has read the binlog up to P (or at once,
//     when it is already past P and no transaction is open), the stream
//     drops from the chunk every key it saw changed at a position at or
//     after P and emits the other rows as op "r" (source.snapshot
//     "incremental").
//
// A chunk row is the state of its key at P. Every change of that key
// before P was read by the stream, and emitted, before the chunk; a
// change at or after P either was already emitted (the stream was past
// P), and then its key is dropped, or comes after the chunk. So no "r"
// event overtakes a newer change of its key. The window opens before the
// snapshot transaction, so the stream's position when it opens is at or
// before P: no change at or after P escapes the record. A change's
// position is where the stream emits it: for an XA transaction its XA
// COMMIT, not its prepare (which a snapshot taken in between does not
// see), and a rolled back one records nothing (xa.go).
//
// A schema change naming a captured table, read while a window is open,
// has the chunk read again: its rows may not have the columns the stream
// now decodes.
//
// A chunk's progress (its last key and row count) is kept in the offset
// (offset.Incremental) only once every sink acknowledged the chunk's mark
// (confirm), so a restart, even after kill -9, resumes each job after its
// last acknowledged chunk: rows may be emitted twice, none is skipped,
// and none is stale.
//
// Jobs run one at a time, in the order they were requested, in one
// worker goroutine beside the stream. Tables without a primary key are
// refused: nothing identifies their rows across the chunk and the
// stream. Blocking snapshots share the jobs and their state but are read
// by the stream goroutine itself (blocking.go).

// maxFinishedJobs is how many completed and how many failed jobs the
// state keeps (each, newest first).
const maxFinishedJobs = 16

// maxSeenSignals is how many signal ids the state remembers, so that a
// signal read again from the binlog after a restart acts once.
const maxSeenSignals = 64

// incrementalState is the incremental snapshot work, stored in the offset.
type incrementalState struct {
	Jobs []*incJob `json:"jobs,omitempty"`
	// Paused: no chunk is started until resume-snapshot.
	Paused bool `json:"paused,omitempty"`
	// Signals are the ids of the latest signals acted on, newest last.
	Signals []string `json:"signals,omitempty"`
	// Tables are the captured tables (db.table) as of the last start, so
	// that a start sees which tables joined since (newtables.go).
	Tables []string `json:"tables,omitempty"`
}

// incJob is one table of one execute-snapshot request.
type incJob struct {
	// ID is the request's signal id.
	ID     string `json:"id,omitempty"`
	Table  string `json:"table"` // db.table
	Filter string `json:"filter,omitempty"`
	// Blocking marks a blocking snapshot (blocking.go): the stream waits
	// while it is read.
	Blocking bool `json:"blocking,omitempty"`
	// LastKey is the key of the last row of the last acknowledged chunk
	// (nil before the first), KeyColumns the key's columns when it was
	// read: a job resumes after LastKey only under the same key.
	LastKey    []keyValue `json:"last_key,omitempty"`
	KeyColumns []string   `json:"key_columns,omitempty"`
	Rows       int64      `json:"rows"` // acknowledged rows
	Done       bool       `json:"done,omitempty"`
	Failed     bool       `json:"failed,omitempty"`
	Error      string     `json:"error,omitempty"`

	// The running process's view (under incremental.mu, not stored).
	running  bool  // a worker has it
	stopped  bool  // stop-snapshot removed it
	emitted  int64 // rows emitted, acknowledged or not
	estimate int64 // TABLE_ROWS when the job started; -1 unknown
	// cursor is the key of the last row emitted (acknowledged or not),
	// where a job paused in this run goes on; hasCursor: set.
	cursor    []keyValue
	hasCursor bool
	// finished: every chunk was emitted; Done follows the acknowledgement.
	finished bool
}

// active reports whether the job is still to run or to finish.
func (j *incJob) active() bool { return !j.Done && !j.Failed }

// clone copies the stored fields.
func (s *incrementalState) clone() *incrementalState {
	if s == nil {
		return nil
	}
	c := &incrementalState{Paused: s.Paused, Signals: slices.Clone(s.Signals), Tables: slices.Clone(s.Tables)}
	for _, j := range s.Jobs {
		c.Jobs = append(c.Jobs, &incJob{ID: j.ID, Table: j.Table, Filter: j.Filter, Blocking: j.Blocking, LastKey: slices.Clone(j.LastKey),
			KeyColumns: slices.Clone(j.KeyColumns), Rows: j.Rows, Done: j.Done, Failed: j.Failed, Error: j.Error})
	}
	return c
}

// jobError marks a failure of a job itself (its table is not captured or
// has no key, its filter is refused): the job is given up and the stream
// goes on, as for a query the server refused or a table that is gone
// (jobFailure).
type jobError struct{ err error }

func (e *jobError) Error() string { return e.err.Error() }
func (e *jobError) Unwrap() error { return e.err }

// jobFailure reports whether err fails the job rather than the run.
func jobFailure(err error) bool {
	var je *jobError
	var me *mysql.MyError
	return errors.As(err, &je) || errors.As(err, &me) || errors.Is(err, errTableGone)
}

// chunkAck is an emitted chunk waiting for its mark's confirmation.
type chunkAck struct {
	seq   uint64
	at    uint64 // the mark's TxLSN
	job   *incJob
	last  []keyValue
	cols  []string
	rows  int64
	final bool
}

// incTotals count since the Source was built.
type incTotals struct {
	completed, failures, chunks atomic.Int64
}

// incremental runs the incremental snapshots of one Run.
type incremental struct {
	src *Source
	srv *server
	log *zap.Logger

	mu      sync.Mutex
	st      *incrementalState
	version uint64     // bumped at every change of st, for the offset saver
	win     *window    // the open window, nil when none
	pending []chunkAck // emitted chunks not yet confirmed, in order

	kick     chan struct{} // wakes the worker: a new job, a resume
	active   atomic.Bool   // a window is open (the stream's fast path)
	ready    atomic.Bool   // a read chunk waits for the stream
	unacked  atomic.Bool   // pending is not empty
	wake     atomic.Pointer[wakeup]
	queued   atomic.Int64
	running  atomic.Int64
	failed   atomic.Int64
	paused   atomic.Bool // st.Paused, for scrapes
	blocking atomic.Bool // a blocking job may be queued: the stream looks
	hooks    *incHooks
	persist  func(ctx context.Context) error // stores the offset with the state now
	streamer atomic.Bool                     // the stream runs: external signals are taken
}

// incHooks let tests step into a worker's chunk cycle; nil in production.
type incHooks struct {
	// afterRead runs after a chunk was read, before it is handed over.
	afterRead func(ctx context.Context, table string) error
}

func newIncremental(s *Source, srv *server, st *incrementalState) *incremental {
	if st == nil {
		st = &incrementalState{}
	}
	in := &incremental{src: s, srv: srv, log: s.log, st: st, kick: make(chan struct{}, 1), hooks: s.incHooks}
	in.paused.Store(st.Paused)
	for _, j := range st.Jobs {
		switch {
		case j.Failed:
			in.failed.Add(1)
		case !j.Done:
			in.queued.Add(1)
			in.blocking.Store(in.blocking.Load() || j.Blocking)
			in.log.Info("incremental snapshot resumes", zap.String("table", j.Table), zap.Int64("rows_done", j.Rows))
		}
	}
	return in
}

// state returns a copy of the state to store, and its version.
func (in *incremental) state() (*incrementalState, uint64) {
	if in == nil {
		return nil, 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.st.Jobs) == 0 && !in.st.Paused && len(in.st.Signals) == 0 && len(in.st.Tables) == 0 {
		return nil, in.version
	}
	return in.st.clone(), in.version
}

// changedLocked records a change of the state; in.mu is held.
func (in *incremental) changedLocked() { in.version++ }

// poke wakes the worker.
func (in *incremental) poke() {
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// next returns the first job to run, nil when none may run now.
func (in *incremental) next() *incJob {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.st.Paused {
		return nil
	}
	for _, j := range in.st.Jobs {
		if !j.Blocking && j.active() && !j.stopped && !j.finished {
			if !j.running {
				j.running = true
				in.queued.Add(-1)
				in.running.Add(1)
			}
			return j
		}
	}
	return nil
}

// work runs queued jobs until ctx ends. A job's own failure marks it
// failed; any other error is returned and ends the run (which restarts
// and resumes the job).
func (in *incremental) work(ctx context.Context) error {
	next := func() *incJob {
		for {
			if job := in.next(); job != nil {
				return job
			}
			select {
			case <-in.kick:
			case <-ctx.Done():
				return nil
			}
		}
	}
	return in.runJobs(ctx, "incremental", next, func(conn *client.Conn, job *incJob) error { return in.runJob(ctx, conn, job) })
}

// runJobs runs the jobs next hands out (nil: no more) one at a time with
// run, on a snapshot connection opened when the first is due. A job's own
// failure gives the job up and the next one runs; any other error ends
// runJobs (the run restarts and the job resumes).
func (in *incremental) runJobs(ctx context.Context, kind string, next func() *incJob, run func(*client.Conn, *incJob) error) error {
	var conn *client.Conn
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for job := next(); job != nil; job = next() {
		if conn == nil {
			c, err := in.src.snapshotConn(ctx, kind)
			if err != nil {
				return err
			}
			conn = c
		}
		err := run(conn, job)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			conn.Execute("ROLLBACK")
			if !jobFailure(err) {
				return err
			}
			in.fail(job, err)
		}
	}
	return nil
}

// snapshotConn opens the connection a worker reads chunks on, each in a
// REPEATABLE READ transaction of its own; kind names it in errors.
func (s *Source) snapshotConn(ctx context.Context, kind string) (*client.Conn, error) {
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := c.Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
		c.Close()
		return nil, fmt.Errorf("mysql source: %s snapshot session: %w", kind, err)
	}
	return c, nil
}

// prepare describes the job's table and compiles its filter.
func (in *incremental) prepare(conn *client.Conn, job *incJob) (*relation, *snapshotFilter, error) {
	db, name, ok := splitTable(job.Table, in.src.dsn.DB)
	if !ok {
		return nil, nil, &jobError{fmt.Errorf("mysql source: snapshot of %q: not db.table", job.Table)}
	}
	if err := in.src.checkCaptured(db + "." + name); err != nil {
		return nil, nil, &jobError{err}
	}
	rel, err := describeTable(conn, db, name, in.srv.flavor == mysql.MariaDBFlavor)
	if err != nil {
		return nil, nil, err // jobFailure tells the server's refusals and a dropped table
	}
	if len(rel.table.Key) == 0 {
		return nil, nil, &jobError{fmt.Errorf("mysql source: snapshot of %s: the table has no primary key, which incremental snapshots need to match chunk rows with streamed changes", job.Table)}
	}
	flt, err := compileFilter(job.Filter, rel)
	if err != nil {
		return nil, nil, &jobError{fmt.Errorf("mysql source: snapshot of %s: %w", job.Table, err)}
	}
	return rel, flt, nil
}

// keyColumns names t's key columns in key order.
func keyColumns(t *sluice.Table) []string {
	names := make([]string, len(t.Key))
	for i, k := range t.Key {
		names[i] = t.Columns[k].Name
	}
	return names
}

// startJob returns the key job resumes after (nil: from the start): its
// cursor in this run, else its saved key while the table's key is still
// the one that key was read in. On the job's first run in this process
// it counts the saved rows as emitted, reads the row estimate for the
// progress, and logs msg.
func (in *incremental) startJob(conn *client.Conn, rel *relation, job *incJob, db, name, msg string) []keyValue {
	in.mu.Lock()
	last := job.LastKey
	if job.hasCursor {
		last = job.cursor
	} else if last != nil && !slices.Equal(job.KeyColumns, keyColumns(rel.table)) {
		in.log.Info("the table's key is not the one its saved snapshot progress was read in: reading it from the start", zap.String("table", job.Table))
		last = nil
	}
	start := job.emitted == 0
	if start {
		job.emitted = job.Rows
	}
	in.mu.Unlock()
	if start {
		est := int64(-1)
		if n, err := queryString(conn, "SELECT IFNULL(TABLE_ROWS, -1) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, name); err == nil {
			est, _ = strconv.ParseInt(n, 10, 64)
		}
		in.mu.Lock()
		job.estimate = est
		in.mu.Unlock()
		in.log.Info(msg, zap.String("table", job.Table), zap.String("filter", job.Filter),
			zap.Int64("estimated_rows", est), zap.Int64("rows_done", job.Rows))
	}
	return last
}

// runJob reads one job's table chunk by chunk, each in a window, until
// its last chunk was emitted, or the job is stopped or paused.
func (in *incremental) runJob(ctx context.Context, conn *client.Conn, job *incJob) error {
	rel, _, err := in.prepare(conn, job)
	if err != nil {
		return err
	}
	db, name, _ := splitTable(job.Table, in.src.dsn.DB)
	last := in.startJob(conn, rel, job, db, name, "incremental snapshot of table started")
	keyed := rel // the description last's key values are of (rekeyed)
	for again := 0; ; {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !in.mayRun(job) {
			return nil
		}
		w := &window{job: job, db: db, name: name, dirty: map[string]uint64{}, done: make(chan struct{})}
		in.open(w)
		// Described and compiled in the window: a schema change read by
		// the stream from now on has the chunk read again (window.go).
		rel, flt, err := in.prepare(conn, job)
		if err != nil {
			in.closeWindow(w)
			return err
		}
		w.rel = rel
		last, keyed = in.rekeyed(job, keyed, rel, last), rel
		if err := in.readChunk(ctx, conn, w, flt, last); err != nil {
			in.closeWindow(w)
			return err
		}
		if h := in.hooks; h != nil && h.afterRead != nil {
			if err := h.afterRead(ctx, job.Table); err != nil {
				in.closeWindow(w)
				return err
			}
		}
		in.handOver(w)
		select { // one chunk in memory at a time
		case <-w.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if w.again {
			again++
			log := in.log.Debug
			if again%50 == 0 {
				log = in.log.Warn
			}
			log("incremental snapshot chunk read again: a schema change was read while it was read", zap.String("table", job.Table), zap.Int("attempt", again))
			continue
		}
		again = 0
		if w.skipped {
			return nil
		}
		last = w.next
		in.advance(job, w)
		if w.final {
			return nil
		}
	}
}

// rekeyed is last (key values by keyed's key) when rel pages by the same
// key columns, else nil: after an ALTER of the key the table is read from
// its start, as WHERE (new key) > (old values) would skip rows.
func (in *incremental) rekeyed(job *incJob, keyed, rel *relation, last []keyValue) []keyValue {
	if last == nil || slices.Equal(keyColumns(rel.table), keyColumns(keyed.table)) {
		return last
	}
	in.log.Info("the table's key changed during its snapshot: reading it from the start",
		zap.String("table", job.Table), zap.Strings("key", keyColumns(rel.table)))
	return nil
}

// mayRun reports whether a chunk of job may start: the job was not
// stopped and snapshots are not paused.
func (in *incremental) mayRun(job *incJob) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if job.stopped || !job.active() {
		return false
	}
	if in.st.Paused {
		// Back to the queue: the worker takes it again on resume.
		job.running = false
		in.running.Add(-1)
		in.queued.Add(1)
		return false
	}
	return true
}

// readChunk reads the chunk after last in a consistent snapshot
// transaction and keeps it, with the snapshot's binlog position, in w.
func (in *incremental) readChunk(ctx context.Context, conn *client.Conn, w *window, flt *snapshotFilter, last []keyValue) error {
	db, name, _ := splitTable(w.job.Table, in.src.dsn.DB)
	chunk := in.src.cfg.Snapshot.ChunkSize
	q := newFilteredChunkQuery(conn, w.rel, db, name, chunk, flt)
	defer q.close()
	p, err := consistentSnapshot(conn, in.srv)
	if err != nil {
		return err
	}
	w.pos = lsn(p.file, p.pos)
	w.readAt = time.Now()
	more := false
	var key []keyValue
	err = q.read(last, func(fv []mysql.FieldValue) error {
		if len(w.rows) == chunk {
			more = true
			return nil
		}
		row, err := rowOf(w.rel, fv)
		if err != nil {
			return err
		}
		w.rows = append(w.rows, row)
		key = q.keyOf(fv, key[:0])
		return nil
	})
	if _, cerr := conn.Execute("COMMIT"); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mysql source: incremental snapshot of %s: %w", w.job.Table, err)
	}
	w.final = !more
	if len(w.rows) > 0 {
		w.next = slices.Clone(key)
	} else {
		w.next = last
	}
	return nil
}

// fail gives a job up, keeping it in the state with the reason.
func (in *incremental) fail(job *incJob, err error) {
	in.log.Warn("incremental snapshot of table failed; the stream goes on. Request it again once the cause is fixed",
		zap.String("table", job.Table), zap.Error(err))
	in.mu.Lock()
	if job.running {
		in.running.Add(-1)
		job.running = false
	}
	job.Failed, job.Error = true, err.Error()
	in.src.incTotals.failures.Add(1)
	in.trimLocked()
	in.changedLocked()
	in.mu.Unlock()
	in.save()
}

// save stores the state now, best effort: the offset saver stores it
// again with the next acknowledged position.
func (in *incremental) save() {
	if in.persist == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := in.persist(ctx); err != nil {
		in.log.Warn("storing the incremental snapshot state failed; it is stored with the next offset", zap.Error(err))
	}
}

// trimLocked drops the oldest finished jobs beyond maxFinishedJobs of
// each kind, and counts the failed ones kept; in.mu is held.
func (in *incremental) trimLocked() {
	done, failed := 0, 0
	drop := make([]bool, len(in.st.Jobs))
	for i := len(in.st.Jobs) - 1; i >= 0; i-- { // newest last
		switch j := in.st.Jobs[i]; {
		case j.Done:
			done++
			drop[i] = done > maxFinishedJobs
		case j.Failed:
			failed++
			drop[i] = failed > maxFinishedJobs
		}
	}
	keep := in.st.Jobs[:0]
	for i, j := range in.st.Jobs {
		if !drop[i] {
			keep = append(keep, j)
		}
	}
	clear(in.st.Jobs[len(keep):])
	in.st.Jobs = keep
	in.failed.Store(int64(min(failed, maxFinishedJobs)))
}

// advance records that job's chunk w was emitted: the cursor moves to
// its last key, and a final chunk finishes the job.
func (in *incremental) advance(job *incJob, w *window) {
	in.mu.Lock()
	job.cursor, job.hasCursor = w.next, true
	job.finished = w.final
	in.mu.Unlock()
}
