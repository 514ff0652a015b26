package mysql

import (
	"context"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// A chunk's window, the stream's side of an incremental snapshot
// (incremental.go): the keys of the window's table the stream sees
// changed while it is open, each with the binlog position of its latest
// change, and the emission of the chunk once the stream reached the
// position the chunk was read at.

// window is one chunk of one job.
type window struct {
	job      *incJob
	db, name string
	rel      *relation // the table as the chunk read it
	// dirty maps the key (sluice.KeyString) of each row the stream saw changed
	// to the position of its last change.
	dirty map[string]uint64
	// ddl: a schema change naming a captured table was read while the
	// window was open; the chunk is read again.
	ddl bool

	// Set by the worker before the hand-over.
	pos    uint64 // the binlog position the chunk's snapshot is consistent with
	rows   []sluice.Row
	next   []keyValue // key of the chunk's last row (the previous last when empty)
	final  bool       // no rows after this chunk
	readAt time.Time

	// Set by the stream before done is closed.
	again   bool // not emitted: read it again
	skipped bool // not emitted: the job was stopped
	done    chan struct{}
}

// wakeup cancels the stream's wait for the next binlog event, so that a
// chunk handed over while the stream is idle is emitted at once.
type wakeup struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// open makes w the open window: the stream records its table's changes
// from now on.
func (in *incremental) open(w *window) {
	in.mu.Lock()
	in.win = w
	in.active.Store(true)
	in.mu.Unlock()
}

// closeWindow forgets w, whose chunk will not be emitted.
func (in *incremental) closeWindow(w *window) {
	in.mu.Lock()
	if in.win == w {
		in.win = nil
		in.active.Store(false)
		in.ready.Store(false)
	}
	in.mu.Unlock()
}

// handOver gives the read chunk to the stream and wakes it.
func (in *incremental) handOver(w *window) {
	in.ready.Store(true)
	if wk := in.wake.Load(); wk != nil {
		wk.cancel()
	}
}

// wakeStream ends the stream's wait for the next event, so that it looks
// at once for work: a blocking job queued.
func (in *incremental) wakeStream() {
	if wk := in.wake.Load(); wk != nil {
		wk.cancel()
	}
}

// waitContext is the context the stream waits for its next event with:
// parent, cancelled as well when a chunk is handed over.
func (in *incremental) waitContext(parent context.Context) *wakeup {
	if wk := in.wake.Load(); wk != nil {
		return wk
	}
	ctx, cancel := context.WithCancel(parent)
	wk := &wakeup{ctx: ctx, cancel: cancel}
	in.wake.Store(wk)
	return wk
}

// rearm replaces a fired wakeup, before the stream looks for a chunk.
func (in *incremental) rearm(parent context.Context, old *wakeup) {
	old.cancel()
	ctx, cancel := context.WithCancel(parent)
	in.wake.CompareAndSwap(old, &wakeup{ctx: ctx, cancel: cancel})
}

// stop releases the wakeup's context.
func (in *incremental) stopWake() {
	if wk := in.wake.Load(); wk != nil {
		wk.cancel()
	}
}

// touched records keys of t changed at pos in the open window of t.
// Rows are a change's images (before, after, or both).
func (in *incremental) touched(t *sluice.Table, pos uint64, rows ...sluice.Row) {
	in.mu.Lock()
	if w := in.win; w != nil && w.name == t.Name && w.db == t.DB {
		for _, r := range rows {
			w.touch(t, pos, r)
		}
	}
	in.mu.Unlock()
}

// released records, in the open window, the keys of the held events of
// an XA transaction emitted at pos, its XA COMMIT (xa.go): their change
// enters the stream there. Their rows events, at the prepare, recorded
// nothing, so that a rolled back transaction takes no row from a chunk.
func (in *incremental) released(pos uint64, evs []*sluice.Event) {
	in.mu.Lock()
	if w := in.win; w != nil {
		for _, ev := range evs {
			if t := ev.Table; t != nil && w.name == t.Name && w.db == t.DB {
				w.touch(t, pos, ev.Before)
				w.touch(t, pos, ev.After)
			}
		}
	}
	in.mu.Unlock()
}

// touch records the key of row r of w's table t (nil: none) as changed
// at pos; in.mu is held.
func (w *window) touch(t *sluice.Table, pos uint64, r sluice.Row) {
	if r != nil {
		k := sluice.KeyString(t, r)
		w.dirty[k] = max(w.dirty[k], pos)
	}
}

// schemaChanged marks the open window: a schema change of a captured
// table was read.
func (in *incremental) schemaChanged() {
	in.mu.Lock()
	if in.win != nil {
		in.win.ddl = true
	}
	in.mu.Unlock()
}

// flushChunk emits the handed-over chunk when the stream may: outside a
// transaction, at or past the position the chunk was read at.
func (st *stream) flushChunk() error {
	in := st.inc
	if in == nil || !in.ready.Load() || st.tx.open {
		return nil
	}
	in.mu.Lock()
	w := in.win
	if w == nil || st.end < w.pos {
		in.mu.Unlock()
		return nil
	}
	in.win = nil
	in.active.Store(false)
	in.ready.Store(false)
	switch {
	case w.ddl:
		w.again = true
	case w.job.stopped || !w.job.active():
		w.skipped = true
	}
	if w.again || w.skipped {
		in.mu.Unlock()
		close(w.done)
		return nil
	}
	in.mu.Unlock()
	err := st.emitChunk(w, sluice.SnapshotIncremental, true)
	close(w.done)
	return err
}

// emitChunk emits the rows of w's chunk as op "r" events marked snap,
// without those whose keys the window saw changed at or after the
// chunk's position (when drop), then the chunk's mark, and records the
// chunk for its acknowledgement (confirm).
func (st *stream) emitChunk(w *window, snap sluice.Snapshot, drop bool) error {
	in := st.inc
	in.mu.Lock()
	ord := w.job.emitted
	in.mu.Unlock()
	t := w.rel.table
	// The rows go between the stream's last mark and the next
	// transaction, which starts at that mark's position at the earliest:
	// one before it orders them after every change already emitted and
	// before every later one, for sinks that version by position.
	base := st.lastMark
	at := base - 1
	bl := &sluice.Binlog{File: st.file}
	emitted := int64(0)
	for _, row := range w.rows {
		if drop {
			if p, ok := w.dirty[sluice.KeyString(t, row)]; ok && p >= w.pos {
				continue // a newer change of the key is in the stream
			}
		}
		emitted++
		ev := &sluice.Event{Op: sluice.OpRead, Table: t, After: row, Snapshot: snap,
			Pos: sluice.Position{LSN: at, TxLSN: at}, CommitTime: w.readAt, Binlog: bl, TxOrder: ord + emitted}
		if err := st.emit(ev); err != nil {
			return err
		}
	}
	seq := st.src.chunkSeq.Add(1)
	in.mu.Lock()
	before := w.job.emitted
	w.job.emitted += emitted
	done, est := w.job.emitted, w.job.estimate
	in.pending = append(in.pending, chunkAck{seq: seq, at: base, job: w.job, last: w.next, cols: keyColumns(t), rows: emitted, final: w.final})
	in.unacked.Store(true)
	in.mu.Unlock()
	st.src.incTotals.chunks.Add(1)
	if done/100000 != before/100000 {
		st.log.Info("incremental snapshot progress", zap.String("table", w.job.Table), zap.Int64("rows_done", done), zap.Int64("estimated_rows", est))
	}
	// The chunk's mark: confirmed once every sink has its rows.
	return st.emit(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: base,
		Resume: st.lastResume + chunkMarkSuffix + strconv.FormatUint(seq, 10)}})
}
