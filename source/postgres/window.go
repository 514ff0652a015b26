package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// A chunk's window, the stream's side of a snapshot: the watermarks a
// worker writes around its read, the keys the stream sees changed (or
// the table truncated) between them, and, at the high watermark, the
// chunk's rows the window did not touch emitted (steps 2 and 3 in
// snapshot.go).

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
	// or the chunk's changed (DDL) so the window's changes cannot be
	// matched with the chunk's rows.
	again bool
	// before lists the transactions (xids) the stream had decoded before
	// the low watermark without knowing them visible; set at the low
	// watermark.
	before []uint32
	from   []*string     // key text the chunk was read after (nil: the start)
	gen    uint64        // the job's generation when the chunk was read
	snap   *xidSnapshot  // the snapshot the chunk was read in
	rows   []sluice.Row  // the chunk, set before the high watermark is written
	read   time.Time     // when the chunk was read
	last   []*string     // key text of the chunk's last row
	final  bool          // the table has no rows after this chunk
	done   chan struct{} // closed once the stream emitted the chunk (or set again)
}

// emitWatermark writes a watermark into the WAL, a transactional logical
// decoding message the stream reads in commit order.
func emitWatermark(ctx context.Context, conn *pgx.Conn, content string) error {
	if _, err := conn.Exec(ctx, "SELECT pg_logical_emit_message(true, $1, $2)", watermarkPrefix, content); err != nil {
		return fmt.Errorf("postgres source: write snapshot watermark: %w", err)
	}
	return nil
}

// newID is a random watermark id.
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sameKey reports whether rows of a and b have comparable sluice.KeyStrings: the
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

// sameRelation reports whether rows read as a and as b have comparable
// keys: the same table (a table dropped and created again under its name
// is another one) with the same key.
func sameRelation(a, b *relation) bool {
	return a.table.ID == b.table.ID && sameKey(a.table, b.table)
}

// touched marks keys changed by a streamed event inside open windows of
// the event's table.
func (sn *snapshotter) touched(t *sluice.Table, old, neu sluice.Row) {
	if sn.nwin.Load() == 0 {
		return
	}
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
			w.dirty[sluice.KeyString(t, old)] = struct{}{}
		}
		if neu != nil {
			w.dirty[sluice.KeyString(t, neu)] = struct{}{}
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
	sn.nwin.Store(int32(len(sn.windows)))
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
	// The worker reads a chunk again, and the chunks it read after it
	// (of its generation) with it, so that the chunks of a table are
	// emitted, and their progress saved, in order with none skipped.
	if w.gen < w.job.againGen {
		w.again = true
	}
	if w.again {
		w.job.againGen = w.gen + 1
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
		if len(t.Key) > 0 && len(dirty) > 0 {
			if _, changed := dirty[sluice.KeyString(t, row)]; changed {
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
		// The chunk is emitted in the high watermark's transaction: its
		// commit LSN is the rows' TxLSN and its id their TxID, the
		// snapshot transaction's id Debezium writes into a read's txId.
		ev := &sluice.Event{Op: sluice.OpRead, Table: t, After: row, Snapshot: mark,
			Pos:        sluice.Position{LSN: lsn, TxLSN: st.txLSN, PrevTxLSN: st.prevTxLSN},
			CommitTime: w.read, TxID: st.txID, TxOrder: emitted}
		if err := st.emit(ev); err != nil {
			return err
		}
	}
	sn.pending = append(sn.pending, &progress{job: w.job, last: w.last, cols: chunkKeyColumns(t), rows: emitted, final: w.final})
	sn.mu.Lock()
	before := w.job.emitted
	w.job.emitted += emitted
	sn.chunkEmitted(w.job)
	done, estimate := w.job.emitted, w.job.estimate
	sn.mu.Unlock()
	if done/100000 != before/100000 {
		st.log.Info("snapshot progress", zap.String("table", w.job.Table), zap.Int64("rows_done", done), zap.Int64("estimated_rows", estimate))
	}
	close(w.done)
	return nil
}
