package postgres

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
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
// readChunk explains how the stream checks it and when a chunk is read
// again.
//
// Keys are compared as the stream and the snapshot both decode them
// (keyString), and both describe a table's key the same way: its replica
// identity (see buildRelation).
//
// A chunk's progress is saved to the state store (state.go) once every
// sink has acknowledged it; a restart resumes each table after its last
// saved key.
// Tables without a key are read in ctid order; their chunks cannot drop
// rows changed in the window (nothing identifies them), which is
// documented.
//
// A job that cannot run (its table is gone or no longer captured, its
// filter does not compile, the server refuses its query) is given up, and
// the stream goes on (failure.go).

const watermarkPrefix = "sluice.watermark"

// window is one chunk between its watermarks.
type window struct {
	id    string
	job   *snapshotJob
	rel   *relation
	open  bool                // the low watermark was seen
	dirty map[string]struct{} // keys changed inside the window
	// truncated: the table was truncated inside the window, which deleted
	// every row the chunk read.
	truncated bool
	// again: the chunk is not emitted but read again, because a
	// transaction the stream decoded before the low watermark is not
	// visible to the chunk's snapshot, or the stream's key of the table
	// changed (DDL) so its changes cannot be matched with the chunk's rows.
	again bool
	// before lists the transactions (xids) the stream had decoded before
	// the low watermark without knowing them visible; set at the low
	// watermark.
	before []uint32
	snap   *xidSnapshot  // the snapshot the chunk was read in
	rows   []sluice.Row  // the chunk, set before the high watermark is written
	read   time.Time     // when the chunk was read
	last   []*string     // key text of the chunk's last row
	final  bool          // the table has no rows after this chunk
	done   chan struct{} // closed once the stream emitted the chunk (or set again)
}

// progress is a chunk emitted but not yet known to be delivered.
type progress struct {
	job   *snapshotJob
	last  []*string
	rows  int64
	final bool
	lsn   uint64 // commit end of the high watermark's transaction; 0 until known
}

// chunkHooks let tests step into a worker's chunk cycle; nil in
// production.
type chunkHooks struct {
	beforeLow func(ctx context.Context, table string) error // before the low watermark is written
	inRead    func(ctx context.Context, tx pgx.Tx) error    // first thing in the chunk's read transaction
	afterRead func(ctx context.Context, table string) error // after the read, before the high watermark
}

// snapshotter coordinates snapshot workers with the stream goroutine.
type snapshotter struct {
	src   *Source
	state *state
	keep  *stateKeeper // saves state (under mu)
	log   *zap.Logger

	mu      sync.Mutex
	windows map[string]*window // by watermark id
	queue   []*snapshotJob     // jobs not yet picked by a worker
	running int                // workers busy
	errs    chan error         // a worker's failure ends the stream
	pending []*progress        // owned by the stream goroutine
	started bool               // first row of this run emitted
	remain  int                // jobs not yet emitted completely
	check   bool               // a job failed: persist looks whether the work is finished
	hooks   *chunkHooks

	// recent holds the xids of transactions the stream decoded and no
	// snapshot has shown visible yet (owned by the stream goroutine; see
	// readChunk). pruneTick and pruned pace prune.
	recent    []uint32
	pruneTick uint32
	pruned    time.Time
}

func newSnapshotter(s *Source, st *state, keep *stateKeeper) *snapshotter {
	sn := &snapshotter{src: s, state: st, keep: keep, log: s.log, windows: map[string]*window{}, errs: make(chan error, 1), hooks: s.hooks}
	for _, j := range st.Jobs {
		switch {
		case j.Failed:
			sn.log.Warn("snapshot of table failed in an earlier run; request it again once the cause is fixed",
				zap.String("table", j.Table), zap.String("error", j.Error))
		case !j.Done:
			sn.queue = append(sn.queue, j)
			sn.remain++
		}
	}
	return sn
}

func (sn *snapshotter) setHooks(h *chunkHooks) {
	sn.mu.Lock()
	sn.hooks = h
	sn.mu.Unlock()
}

// add queues new jobs (an incremental snapshot signal) and saves them.
func (sn *snapshotter) add(jobs ...*snapshotJob) error {
	sn.mu.Lock()
	sn.state.Jobs = append(sn.state.Jobs, jobs...)
	sn.queue = append(sn.queue, jobs...)
	sn.remain += len(jobs)
	err := sn.keep.save(context.Background(), sn.state)
	sn.mu.Unlock()
	return err
}

// startWorkers keeps up to cfg workers reading queued jobs.
func (sn *snapshotter) startWorkers(ctx context.Context) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	for sn.running < sn.src.cfg.Snapshot.Workers && len(sn.queue) > 0 {
		job := sn.queue[0]
		sn.queue = sn.queue[1:]
		sn.running++
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

// read reads one table chunk by chunk.
func (sn *snapshotter) read(ctx context.Context, job *snapshotJob) error {
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
	rel, flt, err := sn.prepare(ctx, conn, job)
	if err != nil {
		return err
	}
	total := estimateRows(ctx, conn, rel.table.ID)
	sn.mu.Lock()
	job.estimate, job.emitted = total, job.Rows
	hooks := sn.hooks
	sn.mu.Unlock()
	sn.log.Info("snapshot of table started", zap.String("table", job.Table), zap.Int64("estimated_rows", total),
		zap.Int64("rows_done", job.Rows), zap.Bool("incremental", job.Incremental))
	last := job.LastKey
	for again := 0; ; {
		w := &window{id: newID(), job: job, rel: rel, dirty: map[string]struct{}{}, done: make(chan struct{})}
		sn.mu.Lock()
		sn.windows[w.id] = w
		sn.mu.Unlock()
		if hooks != nil && hooks.beforeLow != nil {
			if err := hooks.beforeLow(ctx, job.Table); err != nil {
				sn.forget(w)
				return err
			}
		}
		if err := emitWatermark(ctx, conn, "L:"+w.id); err != nil {
			sn.forget(w)
			return err
		}
		rows, next, final, snap, err := sn.readChunk(ctx, conn, rel, job, flt, last, hooks)
		if err != nil {
			sn.forget(w)
			return err
		}
		sn.mu.Lock()
		w.rows, w.last, w.final, w.read, w.snap = rows, next, final, time.Now(), snap
		sn.mu.Unlock()
		if hooks != nil && hooks.afterRead != nil {
			if err := hooks.afterRead(ctx, job.Table); err != nil {
				sn.forget(w)
				return err
			}
		}
		if err := emitWatermark(ctx, conn, "H:"+w.id); err != nil {
			sn.forget(w)
			return err
		}
		select { // one chunk per worker in memory at a time
		case <-w.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if w.again {
			// Wait for the transaction the chunk missed to become
			// visible, then read the chunk again, with the table described
			// anew in case its key changed.
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
			nrel, nflt, err := sn.prepare(ctx, conn, job)
			if err != nil {
				return err
			}
			if !sameKey(rel.table, nrel.table) {
				sn.log.Info("the table's key changed during its snapshot: reading it from the start", zap.String("table", job.Table))
				last = nil
			}
			rel, flt = nrel, nflt
			continue
		}
		again = 0
		if final {
			return nil
		}
		last = next
	}
}

// forget removes a window whose chunk will not be emitted.
func (sn *snapshotter) forget(w *window) {
	sn.mu.Lock()
	delete(sn.windows, w.id)
	sn.mu.Unlock()
}

func emitWatermark(ctx context.Context, conn *pgx.Conn, content string) error {
	if _, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", watermarkPrefix, content); err != nil {
		return fmt.Errorf("postgres source: write snapshot watermark: %w", err)
	}
	return nil
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func estimateRows(ctx context.Context, conn *pgx.Conn, relid uint32) int64 {
	var n float64
	if err := conn.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = $1", relid).Scan(&n); err != nil || n < 0 {
		return -1
	}
	return int64(n)
}

// chunkQuery is the query of the rows after last (nil: from the start)
// in key order (ctid order for a table without a key) that flt matches,
// at most limit of them. Each column is read in its text form, then the
// key columns (or the ctid) again for the next chunk's last. The last
// key's texts are bound as parameters and the filter's literals after
// them; PostgreSQL infers their types from the columns they are compared
// with, so no type name is spelled out (an enum of a schema outside the
// search_path needs none).
func chunkQuery(t *sluice.Table, flt *snapshotFilter, last []*string, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT ")
	// Columns are qualified with the alias s: an unqualified name in ORDER
	// BY would bind to the ::text output column and sort as text.
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("s." + pgx.Identifier{c.Name}.Sanitize() + "::text")
	}
	keyCols := []string{"s.ctid"}
	if len(t.Key) > 0 {
		keyCols = keyCols[:0]
		for _, k := range t.Key {
			keyCols = append(keyCols, "s."+pgx.Identifier{t.Columns[k].Name}.Sanitize())
		}
	}
	for _, k := range keyCols {
		b.WriteString(", " + k + "::text")
	}
	b.WriteString(" FROM " + pgx.Identifier{t.Schema, t.Name}.Sanitize() + " AS s")
	var args []any
	var where []string
	if last != nil {
		ph := make([]string, len(keyCols))
		for i := range keyCols {
			args = append(args, last[i])
			ph[i] = "$" + strconv.Itoa(i+1)
		}
		where = append(where, "("+strings.Join(keyCols, ", ")+") > ("+strings.Join(ph, ", ")+")")
	}
	if !flt.empty() {
		var fb strings.Builder
		args = flt.appendSQL(&fb, args)
		where = append(where, fb.String())
	}
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	fmt.Fprintf(&b, " ORDER BY %s LIMIT %d", strings.Join(keyCols, ", "), limit)
	return b.String(), args
}

// readChunk reads the rows after last, one more than the chunk size to
// learn whether the table ends here, and returns them with the snapshot
// they were read in. Values are read in their text form and decoded like
// the stream's, so both sides agree on every byte.
//
// Why the chunk cannot be older than the stream's changes before its low
// watermark. The stream emits what it decodes before the low watermark
// L, then the window, then the chunk at the high watermark H; the window
// removes every key a transaction decoded between L and H changed. So a
// chunk row is stale only if a transaction T decoded before L, i.e. whose
// commit record precedes L's in the WAL, changed the row and is not
// visible to the chunk's read. The read starts after L's transaction
// returned from its commit, but that is not enough: PostgreSQL writes
// T's commit record, then (synchronous_commit with a synchronous standby)
// waits for the standby, and only then removes T from the ProcArray,
// which is what makes T visible. Another session (the watermark's) can
// write its commit record after T's and become visible before T — the
// standby's apply lag, or just the scheduler, holds that gap open; no
// order of statements on the worker's side closes it.
//
// So the chunk is read in one REPEATABLE READ, READ ONLY transaction
// whose snapshot is read first (txid_current_snapshot: xmin, xmax and the
// transactions in progress), and the stream checks it: it keeps the xids
// of the transactions it decoded that no chunk snapshot has shown visible
// yet (snapshotter.recent), copies them into the window when it decodes
// L, and at H, before emitting, asks the chunk's snapshot about each. A
// committed transaction is visible to a snapshot or in progress for it;
// if any decoded before L is in progress for the chunk's snapshot, the
// chunk is not emitted but read again a moment later, in a new window.
// Visibility only grows, so what one snapshot shows visible is dropped
// from recent. A transaction the stream decoded in an earlier run of the
// process (so before this run's first low watermark) and still invisible
// now is the one case the check does not see: that needs a transaction
// whose commit the previous process already confirmed to stay invisible
// across the restart, i.e. a synchronous standby down that long (then
// the watermarks, committed synchronously, wait for it too).
func (sn *snapshotter) readChunk(ctx context.Context, conn *pgx.Conn, rel *relation, job *snapshotJob, flt *snapshotFilter,
	last []*string, hooks *chunkHooks) (out []sluice.Row, next []*string, final bool, snap *xidSnapshot, err error) {
	fail := func(err error) ([]sluice.Row, []*string, bool, *xidSnapshot, error) {
		return nil, nil, false, nil, fmt.Errorf("postgres source: snapshot of %s: %w", job.Table, err)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if hooks != nil && hooks.inRead != nil {
		if err := hooks.inRead(ctx, tx); err != nil {
			return fail(err)
		}
	}
	// The first statement takes the transaction's snapshot.
	var text string
	if err := tx.QueryRow(ctx, "SELECT txid_current_snapshot()::text").Scan(&text); err != nil {
		return fail(err)
	}
	if snap, err = parseXidSnapshot(text); err != nil {
		return fail(err)
	}
	t := rel.table
	size := sn.src.cfg.Snapshot.ChunkSize
	q, args := chunkQuery(t, flt, last, size+1)
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	n := len(t.Columns)
	final = true
	for rows.Next() {
		if len(out) == size {
			final = false // the extra row says there is more
			break
		}
		raw := rows.RawValues()
		row := make(sluice.Row, n)
		for i := 0; i < n; i++ {
			if raw[i] == nil {
				continue // KindNull
			}
			v, err := decodeText(&t.Columns[i], raw[i])
			if err != nil {
				return fail(fmt.Errorf("column %s: %w", t.Columns[i].Name, err))
			}
			row[i] = v
		}
		next = make([]*string, len(raw)-n)
		for i, b := range raw[n:] {
			if b != nil {
				s := string(b)
				next[i] = &s
			}
		}
		out = append(out, row)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return out, next, final, snap, nil
}

// keyString identifies a row by its key values, comparing values the way
// the stream and the snapshot both decode them: the Kind, Int, Float bits
// and Bytes of each key value and, for arrays, of each element, nested,
// with lengths, so that no two different keys give the same string.
func keyString(t *sluice.Table, row sluice.Row) string {
	var b []byte
	for _, k := range t.Key {
		if k >= len(row) {
			return ""
		}
		b = appendKeyValue(b, &row[k])
	}
	return string(b)
}

func appendKeyValue(b []byte, v *sluice.Value) []byte {
	b = append(b, byte(v.Kind))
	b = binary.AppendVarint(b, v.Int)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float))
	b = binary.AppendUvarint(b, uint64(len(v.Bytes)))
	b = append(b, v.Bytes...)
	b = binary.AppendUvarint(b, uint64(len(v.Elems)))
	for i := range v.Elems {
		b = appendKeyValue(b, &v.Elems[i])
	}
	return b
}

// sameKey reports whether rows of a and b have comparable keyStrings: the
// same key columns (by name) of the same types, in the same order.
func sameKey(a, b *sluice.Table) bool {
	if a == b {
		return true
	}
	if len(a.Key) != len(b.Key) {
		return false
	}
	for i := range a.Key {
		ca, cb := &a.Columns[a.Key[i]], &b.Columns[b.Key[i]]
		if ca.Name != cb.Name || ca.Type != cb.Type || ca.Elem != cb.Elem {
			return false
		}
	}
	return true
}

// touched marks keys changed by a streamed event inside open windows of
// the event's table.
func (sn *snapshotter) touched(t *sluice.Table, old, neu sluice.Row) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	for _, w := range sn.windows {
		if !w.open || w.rel.table.ID != t.ID {
			continue
		}
		if !sameKey(w.rel.table, t) {
			w.again = true // the chunk's keys and the stream's do not compare
			continue
		}
		if len(t.Key) == 0 {
			continue
		}
		if old != nil {
			w.dirty[keyString(t, old)] = struct{}{}
		}
		if neu != nil {
			w.dirty[keyString(t, neu)] = struct{}{}
		}
	}
}

// truncated marks the open windows of a truncated table: the truncate
// deleted every row their chunks read.
func (sn *snapshotter) truncated(relid uint32) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	for _, w := range sn.windows {
		if w.open && w.rel.table.ID == relid {
			w.truncated = true
		}
	}
}

// watermark handles a watermark message read from the stream; at a high
// watermark it emits the chunk's rows that the window did not touch.
func (st *stream) watermark(content string, lsn uint64) error {
	sn := st.snap
	kind, id, ok := strings.Cut(content, ":")
	if !ok || sn == nil {
		return nil
	}
	sn.mu.Lock()
	w := sn.windows[id]
	if w == nil {
		sn.mu.Unlock()
		return nil // a watermark of an earlier run
	}
	if kind == "L" {
		w.open = true
		w.before = slices.Clone(sn.recent)
		sn.mu.Unlock()
		return nil
	}
	delete(sn.windows, id)
	if w.snap != nil {
		for _, x := range w.before {
			if !w.snap.visible(x) {
				w.again = true
				break
			}
		}
		sn.recent = slices.DeleteFunc(sn.recent, w.snap.visible)
		sn.pruned = time.Now()
	}
	if w.again {
		sn.mu.Unlock()
		close(w.done)
		return nil
	}
	rows, dirty := w.rows, w.dirty
	if w.truncated {
		rows = nil
	}
	sn.remainLocked(w)
	last := w.final && sn.remain == 0
	firstOfTable := w.job.emitted == 0
	sn.mu.Unlock()

	emitted := int64(0)
	t := w.rel.table
	for i, row := range rows {
		if len(t.Key) > 0 {
			if _, changed := dirty[keyString(t, row)]; changed {
				continue
			}
		}
		mark := sluice.SnapshotTrue
		switch {
		case w.job.Incremental:
			mark = sluice.SnapshotIncremental
		case !sn.started:
			mark = sluice.SnapshotFirst
		case last && i == len(rows)-1:
			mark = sluice.SnapshotLast
		case w.final && i == len(rows)-1:
			mark = sluice.SnapshotLastInData
		case firstOfTable && emitted == 0:
			mark = sluice.SnapshotFirstInData
		}
		sn.started = true
		emitted++
		ev := &sluice.Event{Op: sluice.OpRead, Table: t, After: row, Snapshot: mark,
			Pos:        sluice.Position{LSN: lsn, TxLSN: st.txLSN, PrevTxLSN: st.prevTxLSN},
			CommitTime: w.read, TxOrder: emitted}
		if err := st.emit(ev); err != nil {
			return err
		}
	}
	sn.pending = append(sn.pending, &progress{job: w.job, last: w.last, rows: emitted, final: w.final})
	sn.mu.Lock()
	before := w.job.emitted
	w.job.emitted += emitted
	done, estimate := w.job.emitted, w.job.estimate
	sn.mu.Unlock()
	if done/100000 != before/100000 {
		st.log.Info("snapshot progress", zap.String("table", w.job.Table), zap.Int64("rows_done", done), zap.Int64("estimated_rows", estimate))
	}
	close(w.done)
	return nil
}

// progress lists the snapshot's tables.
func (sn *snapshotter) progress() []sluice.TableSnapshot {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	out := make([]sluice.TableSnapshot, 0, len(sn.state.Jobs))
	for _, j := range sn.state.Jobs {
		out = append(out, sluice.TableSnapshot{Table: j.Table, Incremental: j.Incremental, Rows: max(j.emitted, j.Rows), Estimated: j.estimate,
			Done: j.Done, Failed: j.Failed, Error: j.Error})
	}
	return out
}

func (sn *snapshotter) remainLocked(w *window) {
	if w.final {
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
		if p.lsn == 0 || p.lsn > confirmed {
			break
		}
		n++
		p.job.LastKey, p.job.Rows = p.last, p.job.Rows+p.rows
		if p.final {
			p.job.Done = true
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
			initial = initial || !j.Incremental
			if j.Failed {
				failed = append(failed, j.Table)
				return false
			}
			cleared = true
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
