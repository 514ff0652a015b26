package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
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
//     chunk: the stream carries a state at least as new.
//  3. At the high watermark the remaining chunk rows are emitted as op "r"
//     events, so no "r" event can overtake a newer change of its key, and
//     every row is either in the chunk or changed later in the stream: no
//     gap. (Overlap, a row both read and streamed, is harmless.)
//
// A chunk's progress is saved to the state file once every sink has
// acknowledged it; a restart resumes each table after its last saved key.
// Tables without a key are read in ctid order; their chunks cannot drop
// rows changed in the window (nothing identifies them), which is
// documented.

const watermarkPrefix = "sluice.watermark"

// window is one chunk between its watermarks.
type window struct {
	id    string
	job   *snapshotJob
	rel   *relation
	open  bool                // the low watermark was seen
	dirty map[string]struct{} // keys changed inside the window
	rows  []sluice.Row        // the chunk, set before the high watermark is written
	read  time.Time           // when the chunk was read
	last  []*string           // key text of the chunk's last row
	final bool                // the table has no rows after this chunk
	done  chan struct{}       // closed once the stream emitted the chunk
}

// progress is a chunk emitted but not yet known to be delivered.
type progress struct {
	job   *snapshotJob
	last  []*string
	rows  int64
	final bool
	lsn   uint64 // commit end of the high watermark's transaction; 0 until known
}

// snapshotter coordinates snapshot workers with the stream goroutine.
type snapshotter struct {
	src   *Source
	state *state
	log   *zap.Logger

	mu      sync.Mutex
	windows map[string]*window // by watermark id
	queue   []*snapshotJob     // jobs not yet picked by a worker
	running int                // workers busy
	errs    chan error         // a worker's failure ends the stream
	pending []*progress        // owned by the stream goroutine
	started bool               // first row of this run emitted
	remain  int                // jobs not yet emitted completely
}

func newSnapshotter(s *Source, st *state) *snapshotter {
	sn := &snapshotter{src: s, state: st, log: s.log, windows: map[string]*window{}, errs: make(chan error, 1)}
	for _, j := range st.Jobs {
		if !j.Done {
			sn.queue = append(sn.queue, j)
			sn.remain++
		}
	}
	return sn
}

// add queues new jobs (an incremental snapshot signal) and saves them.
func (sn *snapshotter) add(jobs ...*snapshotJob) error {
	sn.mu.Lock()
	sn.state.Jobs = append(sn.state.Jobs, jobs...)
	sn.queue = append(sn.queue, jobs...)
	sn.remain += len(jobs)
	err := sn.src.saveState(sn.state)
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

// work reads one table chunk by chunk.
func (sn *snapshotter) work(ctx context.Context, job *snapshotJob) error {
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
	schema, name, _ := splitTable(job.Table)
	rel, err := sn.src.describeTable(ctx, conn, schema, name)
	if err != nil {
		return err
	}
	total := estimateRows(ctx, conn, rel.table.ID)
	sn.mu.Lock()
	job.estimate, job.emitted = total, job.Rows
	sn.mu.Unlock()
	sn.log.Info("snapshot of table started", zap.String("table", job.Table), zap.Int64("estimated_rows", total),
		zap.Int64("rows_done", job.Rows), zap.Bool("incremental", job.Incremental))
	last := job.LastKey
	for {
		w := &window{id: newID(), job: job, rel: rel, dirty: map[string]struct{}{}, done: make(chan struct{})}
		sn.mu.Lock()
		sn.windows[w.id] = w
		sn.mu.Unlock()
		if err := emitWatermark(ctx, conn, "L:"+w.id); err != nil {
			return err
		}
		rows, next, final, err := sn.readChunk(ctx, conn, rel, job, last)
		if err != nil {
			return err
		}
		sn.mu.Lock()
		w.rows, w.last, w.final, w.read = rows, next, final, time.Now()
		sn.mu.Unlock()
		if err := emitWatermark(ctx, conn, "H:"+w.id); err != nil {
			return err
		}
		select { // one chunk per worker in memory at a time
		case <-w.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if final {
			return nil
		}
		last = next
	}
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

// readChunk reads the rows after last in key order (ctid order for a
// table without a key), one more than the chunk size to learn whether the
// table ends here. Values are read in their text form and decoded like
// the stream's, so both sides agree on every byte.
func (sn *snapshotter) readChunk(ctx context.Context, conn *pgx.Conn, rel *relation, job *snapshotJob, last []*string) ([]sluice.Row, []*string, bool, error) {
	t := rel.table
	var sel, order []string
	// Columns are qualified with the alias s: an unqualified name in ORDER
	// BY would bind to the ::text output column and sort as text.
	for _, c := range t.Columns {
		sel = append(sel, "s."+pgx.Identifier{c.Name}.Sanitize()+"::text")
	}
	keyed := len(t.Key) > 0
	var keyCols []string
	if keyed {
		for _, k := range t.Key {
			id := "s." + pgx.Identifier{t.Columns[k].Name}.Sanitize()
			keyCols = append(keyCols, id)
			sel = append(sel, id+"::text")
		}
	} else {
		keyCols = []string{"s.ctid"}
		sel = append(sel, "s.ctid::text")
	}
	order = keyCols
	var where []string
	var args []any
	if last != nil {
		var ph []string
		for i := range keyCols {
			args = append(args, last[i])
			if keyed {
				ph = append(ph, fmt.Sprintf("$%d::text::%s", i+1, formatType(t.Columns[t.Key[i]])))
			} else {
				ph = append(ph, fmt.Sprintf("$%d::text::tid", i+1))
			}
		}
		where = append(where, "("+strings.Join(keyCols, ", ")+") > ("+strings.Join(ph, ", ")+")")
	}
	if job.Filter != "" {
		where = append(where, "("+job.Filter+")")
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM " + pgx.Identifier{t.Schema, t.Name}.Sanitize() + " AS s"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	size := sn.src.cfg.Snapshot.ChunkSize
	q += fmt.Sprintf(" ORDER BY %s LIMIT %d", strings.Join(order, ", "), size+1)

	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, nil, false, fmt.Errorf("postgres source: snapshot of %s: %w", job.Table, err)
	}
	defer rows.Close()
	n := len(t.Columns)
	var out []sluice.Row
	var next []*string
	for rows.Next() {
		if len(out) == size {
			return out, next, false, nil // the extra row says there is more
		}
		raw := rows.RawValues()
		row := make(sluice.Row, n)
		for i := 0; i < n; i++ {
			if raw[i] == nil {
				continue // KindNull
			}
			v, err := decodeText(&t.Columns[i], raw[i])
			if err != nil {
				return nil, nil, false, fmt.Errorf("postgres source: snapshot of %s: %w", job.Table, err)
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
	if err := rows.Err(); err != nil {
		return nil, nil, false, fmt.Errorf("postgres source: snapshot of %s: %w", job.Table, err)
	}
	return out, next, true, nil
}

// formatType is the SQL type to cast a key parameter to.
func formatType(c sluice.Column) string {
	return pgx.Identifier{c.DBType}.Sanitize()
}

// keyString identifies a row by its key values, comparing values the way
// the stream and the snapshot both decode them.
func keyString(t *sluice.Table, row sluice.Row) string {
	var b []byte
	for _, k := range t.Key {
		if k >= len(row) {
			return ""
		}
		v := &row[k]
		b = append(b, byte(v.Kind))
		b = fmt.Appendf(b, "%d|%x|", v.Int, math.Float64bits(v.Float))
		b = append(b, v.Bytes...)
		b = append(b, 0)
	}
	return string(b)
}

// touched marks keys changed by a streamed event inside open windows of
// the event's table.
func (sn *snapshotter) touched(relid uint32, t *sluice.Table, rows ...sluice.Row) {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	for _, w := range sn.windows {
		if !w.open || w.rel.table.ID != relid || len(t.Key) == 0 {
			continue
		}
		for _, r := range rows {
			if r != nil {
				w.dirty[keyString(t, r)] = struct{}{}
			}
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
		sn.mu.Unlock()
		return nil
	}
	delete(sn.windows, id)
	rows, dirty := w.rows, w.dirty
	sn.remainLocked(w)
	last := w.final && sn.remain == 0
	sn.mu.Unlock()

	emitted := int64(0)
	sn.mu.Lock()
	firstOfTable := w.job.emitted == 0
	sn.mu.Unlock()
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
		out = append(out, sluice.TableSnapshot{Table: j.Table, Incremental: j.Incremental, Rows: max(j.emitted, j.Rows), Estimated: j.estimate, Done: j.Done})
	}
	return out
}

func (sn *snapshotter) remainLocked(w *window) {
	if w.final {
		sn.remain--
	}
}

// committed gives chunks emitted in the transaction that just committed
// the position that confirms them.
func (sn *snapshotter) committed(end uint64) {
	for _, p := range sn.pending {
		if p.lsn == 0 {
			p.lsn = end
		}
	}
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
	if n == 0 {
		return false, nil
	}
	sn.pending = sn.pending[n:]
	if !sn.state.pending() {
		initial := false
		for _, j := range sn.state.Jobs {
			initial = initial || !j.Incremental
		}
		if initial {
			sn.state.InitialDone = true
		}
		sn.state.Jobs = nil
		finished = true
	}
	return finished, sn.src.saveState(sn.state)
}
