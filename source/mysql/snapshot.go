package mysql

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// snapshot reads the captured tables inside one consistent-snapshot
// transaction, in key order and in chunks, emitting every row as op "r"
// and, after each chunk, a mark that stores the progress. It returns the
// position streaming starts from.
//
// A fresh snapshot starts streaming at the binlog position of its
// transaction, which it stores before it reads. A snapshot resumed after a crash reads the remaining rows
// in a new transaction (a later position) but keeps the first position:
// the stream then replays the changes between the two, each after the
// read of its row, so the final state of every key is still exact.
func (s *Source) snapshot(ctx context.Context, srv *server, tables []string, off *offset, w *writer, store offsetStore) (position, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return position{}, err
	}
	defer conn.Close()
	for _, q := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"} {
		if _, err := conn.Execute(q); err != nil {
			return position{}, fmt.Errorf("mysql source: %s: %w", q, err)
		}
	}
	snapPos, err := consistentSnapshot(conn, srv)
	if err != nil {
		return position{}, err
	}
	defer conn.Execute("ROLLBACK")

	var base offset
	if off != nil && off.Snapshot != nil {
		base = *off.clone() // resume: keep the first snapshot's stream position
		s.log.Info("resuming snapshot", zap.String("file", base.File), zap.Uint32("pos", base.Pos))
	} else {
		base = offset{Version: 1, ServerID: srv.serverID, ServerUUID: srv.uuid, File: snapPos.file, Pos: snapPos.pos, GTIDs: gtidString(snapPos.gtids),
			Snapshot: &snapshotState{}}
		for _, t := range tables {
			base.Snapshot.Tables = append(base.Snapshot.Tables, &tableProgress{Table: t})
		}
		s.log.Info("snapshot started", zap.String("file", base.File), zap.Uint32("pos", base.Pos), zap.Int("tables", len(tables)))
		// Stored before the first row: a crash before the sinks
		// acknowledged a chunk then resumes this snapshot, streaming from
		// its position, instead of taking a new one at a later position.
		// The new one would not see rows deleted in between, and the rows
		// this one already delivered would stay in consumers' state.
		if err := store.Save(ctx, &base); err != nil {
			return position{}, fmt.Errorf("mysql source: %w", err)
		}
	}
	start, err := offsetPosition(srv, &base)
	if err != nil {
		return position{}, err
	}
	if !srv.gtid {
		start.gtids = nil
	}
	// server_id 0: the rows were not read from the binlog, and Debezium
	// writes 0 for what its snapshot reads.
	rd := &snapReader{src: s, conn: conn, w: w, off: &base, started: false, mariadb: srv.flavor == mysql.MariaDBFlavor,
		binlog: &sluice.Binlog{File: snapPos.file},
		pos:    lsn(snapPos.file, snapPos.pos), readAt: time.Now()}
	progress := make([]sluice.TableSnapshot, len(base.Snapshot.Tables))
	for i, tp := range base.Snapshot.Tables {
		if tp.Rows > 0 || tp.Done {
			rd.started = true
		}
		progress[i] = sluice.TableSnapshot{Table: tp.Table, Rows: tp.Rows, Estimated: -1, Done: tp.Done}
	}
	s.progressMu.Lock()
	s.progress = progress
	s.progressMu.Unlock()
	if s.cfg.SchemaChanges {
		names := make([]string, len(base.Snapshot.Tables))
		for i, tp := range base.Snapshot.Tables {
			names[i] = tp.Table
		}
		ddls, err := rd.snapshotSchema(names)
		if err != nil {
			return position{}, err
		}
		// Not again on a resumed snapshot that delivered rows: its
		// schema change events went before them.
		if !rd.started {
			if err := rd.emitSnapshotSchema(ddls); err != nil {
				return position{}, err
			}
		}
	}
	last := -1
	for i, tp := range base.Snapshot.Tables {
		if !tp.Done {
			last = i
		}
	}
	for i, tp := range base.Snapshot.Tables {
		if !tp.Done {
			if err := rd.table(ctx, i, tp, i == last); err != nil {
				return position{}, err
			}
		}
		rd.before += tp.Rows
	}
	// The snapshot is complete: store the stream position from now on.
	w.snapshotDone.Store(true)
	if err := w.emitEvent(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: lsn(start.file, start.pos), Resume: start.resume()}}); err != nil {
		return position{}, err
	}
	s.log.Info("snapshot finished")
	return start, nil
}

// consistentSnapshot opens the snapshot transaction and returns the
// binlog position it is consistent with. MariaDB reports it without a
// lock; MySQL needs a global read lock held just long enough to read it.
func consistentSnapshot(c *client.Conn, srv *server) (position, error) {
	if srv.flavor == mysql.MariaDBFlavor {
		if _, err := c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return position{}, fmt.Errorf("mysql source: start snapshot transaction: %w", err)
		}
		r, err := c.Execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
		if err != nil {
			return position{}, fmt.Errorf("mysql source: read snapshot position: %w", err)
		}
		var p position
		for i := 0; i < r.RowNumber(); i++ {
			k, _ := r.GetString(i, 0)
			v, _ := r.GetString(i, 1)
			switch k {
			case "Binlog_snapshot_file":
				p.file = v
			case "Binlog_snapshot_position":
				n, _ := strconv.ParseUint(v, 10, 32)
				p.pos = uint32(n)
			}
		}
		if p.file == "" {
			return p, fmt.Errorf("mysql source: the server reported no binlog_snapshot_file")
		}
		g, err := queryString(c, "SELECT BINLOG_GTID_POS(?, ?)", p.file, p.pos)
		if err != nil {
			return p, err
		}
		if p.gtids, err = mysql.ParseGTIDSet(srv.flavor, g); err != nil {
			return p, fmt.Errorf("mysql source: GTID position %q: %w", g, err)
		}
		return p, nil
	}
	if _, err := c.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
		return position{}, fmt.Errorf("mysql source: FLUSH TABLES WITH READ LOCK (needs RELOAD): %w", err)
	}
	unlock := func() { c.Execute("UNLOCK TABLES") }
	if _, err := c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		unlock()
		return position{}, fmt.Errorf("mysql source: start snapshot transaction: %w", err)
	}
	p, err := currentPosition(c, srv)
	unlock()
	return p, err
}

// snapReader reads tables of one snapshot transaction.
type snapReader struct {
	src     *Source
	conn    *client.Conn
	w       *writer
	off     *offset
	started bool // a row of this snapshot was emitted (here or before a restart)
	binlog  *sluice.Binlog
	pos     uint64
	mariadb bool // the server is MariaDB (how it writes column defaults)
	readAt  time.Time
	// before is the number of rows the tables before the current one
	// gave the snapshot: the current table's rows are numbered after them.
	before int64
}

// Event ids. A sink identifies an event by its transaction position and
// its order in the transaction (codec.AppendEventID). The snapshot rows
// of one snapshot transaction share a position: the one just before the
// binlog position it is consistent with (Pos.TxLSN = that position - 1).
// Not that position itself: the stream's first transaction starts there
// and numbers its events from 1 too; no transaction starts a byte before
// it, where the previous one ends, and sinks that order by position
// (Elasticsearch's versions) still see the snapshot before every change
// after it. Their TxOrder is the row's ordinal in the snapshot: the rows of the
// tables before it (done tables keep their final count in the offset),
// then its rank in the table's key order, counted from the stored
// progress. Within one transaction that numbers every row once. A row read
// again after a crash keeps its ordinal, because the resumed table reads
// from the stored key and count in the same key order; it keeps its whole
// id when the new transaction's binlog position is the old one, that is
// when nothing was committed in between: the rows read are then the same
// rows. When something was committed, the re-read rows get the new
// position and so new ids: an insert or delete before a re-read row
// would shift the ordinals, and a reused id would make a consumer that
// drops repeated ids drop a row it never saw. A repeat under a new id is
// what at-least-once allows; a lost row is not.

// chunkQuery is the keyset pagination of one table, as two prepared
// statements: the first chunk, and the chunk after a key, whose
// parameters are the last key read. Parameters, not literals, so no key
// is ever parsed as SQL, whatever the session's sql_mode
// (NO_BACKSLASH_ESCAPES, ANSI_QUOTES) or the key's bytes.
type chunkQuery struct {
	conn        *client.Conn
	rel         *relation
	first, next string
	stmts       [2]*client.Stmt
	// nums holds, per key column, the result column with its number
	// (col+0) for ENUM and SET keys, -1 for others: those sort by the
	// label's index or the set's bits, not by the label, so their keys
	// are compared as numbers.
	nums []int
	// wargs are the parameters of a filter's condition (incremental
	// snapshots), after the key's.
	wargs []any
}

// newChunkQuery builds the statements reading chunk+1 rows (the extra row
// tells the last chunk from the others); chunk 0 reads the whole table in
// one pass, for tables without a key.
func newChunkQuery(c *client.Conn, rel *relation, db, name string, chunk int) *chunkQuery {
	return newFilteredChunkQuery(c, rel, db, name, chunk, nil)
}

// newFilteredChunkQuery is newChunkQuery reading only the rows flt
// matches (nil or empty: every row).
func newFilteredChunkQuery(c *client.Conn, rel *relation, db, name string, chunk int, flt *snapshotFilter) *chunkQuery {
	t := rel.table
	q := &chunkQuery{conn: c, rel: rel, nums: make([]int, len(t.Key))}
	sel := make([]string, len(t.Columns), len(t.Columns)+len(t.Key))
	for i, c := range t.Columns {
		sel[i] = quoteIdent(c.Name)
	}
	keys := make([]string, len(t.Key))
	params := make([]string, len(t.Key))
	for i, k := range t.Key {
		c := &t.Columns[k]
		keys[i] = quoteIdent(c.Name)
		q.nums[i] = -1
		params[i] = "?"
		switch rel.cols[k].kind {
		case kEnum, kSet:
			q.nums[i] = len(sel)
			sel = append(sel, quoteIdent(c.Name)+"+0")
		case kDecimal:
			// A string compared with a DECIMAL is compared as a double.
			params[i] = fmt.Sprintf("CAST(? AS DECIMAL(%d,%d))", c.Length, max(c.Scale, 0))
		}
	}
	from := "SELECT " + strings.Join(sel, ", ") + " FROM " + quoteTable(db, name)
	cond, wargs := flt.sql()
	q.wargs = wargs
	and, where := "", ""
	if cond != "" {
		and, where = " AND "+cond, " WHERE "+cond
	}
	if chunk == 0 {
		q.first = from + where
		return q
	}
	order := " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(chunk+1)
	q.first = from + where + order
	q.next = from + " WHERE (" + strings.Join(keys, ", ") + ") > (" + strings.Join(params, ", ") + ")" + and + order
	return q
}

// read runs the statement for the chunk after last (nil: the first
// chunk), calling f with every row.
func (q *chunkQuery) read(last []keyValue, f func([]mysql.FieldValue) error) error {
	i, text := 0, q.first
	var args []any
	if len(last) > 0 {
		i, text = 1, q.next
		args = make([]any, len(last))
		for j, kv := range last {
			v, err := kv.param()
			if err != nil {
				return sluice.Permanent(fmt.Errorf("stored snapshot key of %s.%s: %w (delete the stored offset to start the snapshot over)", q.rel.table.DB, q.rel.table.Name, err))
			}
			args[j] = v
		}
	}
	args = append(args, q.wargs...)
	if q.stmts[i] == nil {
		st, err := q.conn.Prepare(text)
		if err != nil {
			return err
		}
		q.stmts[i] = st
	}
	var result mysql.Result
	return q.stmts[i].ExecuteSelectStreaming(&result, f, nil, args...)
}

// close frees the prepared statements on the server.
func (q *chunkQuery) close() {
	for _, st := range q.stmts {
		if st != nil {
			st.Close()
		}
	}
}

// keyOf keeps the key of a result row as the offset stores it.
func (q *chunkQuery) keyOf(fv []mysql.FieldValue, dst []keyValue) []keyValue {
	for i, k := range q.rel.table.Key {
		f := &fv[k]
		if q.nums[i] >= 0 {
			f = &fv[q.nums[i]]
		}
		var kv keyValue
		switch f.Type {
		case mysql.FieldValueTypeSigned:
			kv.Text, kv.Type = strconv.FormatInt(f.AsInt64(), 10), keySigned
		case mysql.FieldValueTypeUnsigned:
			kv.Text, kv.Type = strconv.FormatUint(f.AsUint64(), 10), keyUnsigned
		case mysql.FieldValueTypeFloat:
			kv.Text, kv.Type = strconv.FormatFloat(f.AsFloat64(), 'g', -1, 64), keyFloat
		default:
			switch q.rel.cols[k].kind {
			case kBinary, kGeometry:
				kv.Text, kv.Hex = hex.EncodeToString(f.AsString()), true
			case kBit: // compared as the number it is
				var x uint64
				for _, c := range f.AsString() {
					x = x<<8 | uint64(c)
				}
				kv.Text, kv.Type = strconv.FormatUint(x, 10), keyUnsigned
			default:
				kv.Text = string(f.AsString())
			}
		}
		dst = append(dst, kv)
	}
	return dst
}

// row converts the table's columns of a result row (the ENUM and SET
// numbers after them are not part of it).
func (r *snapReader) row(rel *relation, fv []mysql.FieldValue) (sluice.Row, error) {
	return rowOf(rel, fv)
}

// rowOf converts the table's columns of a chunk query's result row.
func rowOf(rel *relation, fv []mysql.FieldValue) (sluice.Row, error) {
	cols := rel.table.Columns
	row := make(sluice.Row, len(cols))
	for i := range cols {
		v, err := rel.cols[i].fromField(&cols[i], &fv[i])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", cols[i].Name, err)
		}
		row[i] = v
	}
	return row, nil
}

// emitRow emits one snapshot row; n is its 1-based rank in the table (in
// this read), final tells the table's last row.
func (r *snapReader) emitRow(t *sluice.Table, row sluice.Row, n int64, firstOfTable, final, lastTable bool) error {
	mark := sluice.SnapshotTrue
	switch {
	case !r.started:
		mark = sluice.SnapshotFirst
	case lastTable && final:
		mark = sluice.SnapshotLast
	case final:
		mark = sluice.SnapshotLastInData
	case firstOfTable && n == 1:
		mark = sluice.SnapshotFirstInData
	}
	r.started = true
	return r.w.emitEvent(&sluice.Event{Op: sluice.OpRead, Table: t, After: row, Snapshot: mark,
		Pos: sluice.Position{LSN: r.pos, TxLSN: r.pos - 1}, CommitTime: r.readAt, Binlog: r.binlog,
		TxOrder: r.before + n})
}

// progress stores the table's progress after a chunk: a mark the sinks
// acknowledge once they have every row before it.
func (r *snapReader) progress(idx int, tp *tableProgress, rows int, lastKey []keyValue, final bool, est int64) error {
	before := tp.Rows
	tp.Rows += int64(rows)
	if len(lastKey) > 0 {
		tp.LastKey = append([]keyValue(nil), lastKey...)
	}
	tp.Done = final
	r.src.setProgress(idx, func(p *sluice.TableSnapshot) { p.Rows, p.Done = tp.Rows, final })
	if tp.Rows/100000 != before/100000 {
		r.src.log.Info("snapshot progress", zap.String("table", tp.Table), zap.Int64("rows_done", tp.Rows), zap.Int64("estimated_rows", est))
	}
	b, err := json.Marshal(r.off)
	if err != nil {
		return fmt.Errorf("mysql source: encode snapshot progress: %w", err)
	}
	return r.w.emitEvent(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: r.pos, Resume: string(b)}})
}

// table reads one table from its last acknowledged key.
func (r *snapReader) table(ctx context.Context, idx int, tp *tableProgress, lastTable bool) error {
	db, name, _ := strings.Cut(tp.Table, ".")
	rel, err := describeTable(r.conn, db, name, r.mariadb)
	if errors.Is(err, errTableGone) {
		// Listed, then dropped before this read: its rows as of the
		// snapshot position are gone with it (a DROP in the stream
		// follows), and one that was created after that position has
		// them in the stream. Retrying would fail again, forever.
		r.src.log.Warn("table dropped before the snapshot read it; skipped", zap.String("table", tp.Table))
		return r.progress(idx, tp, 0, nil, true, 0)
	}
	if err != nil {
		return err
	}
	t := rel.table
	var est int64
	if n, err := queryString(r.conn, "SELECT IFNULL(TABLE_ROWS, -1) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, name); err == nil {
		est, _ = strconv.ParseInt(n, 10, 64)
	}
	r.src.setProgress(idx, func(p *sluice.TableSnapshot) { p.Estimated = est })
	r.src.log.Info("snapshot of table started", zap.String("table", tp.Table), zap.Int64("estimated_rows", est), zap.Int64("rows_done", tp.Rows))
	if len(t.Key) == 0 {
		return r.keyless(ctx, idx, tp, lastTable, rel, est)
	}
	key := keyColumns(t)
	if len(tp.LastKey) > 0 && (len(tp.LastKey) != len(key) || tp.KeyColumns != nil && !slices.Equal(tp.KeyColumns, key)) {
		// The key changed since the saved progress (an ALTER while
		// sluice was stopped): WHERE (new key) > (old values) would
		// skip rows. Read the table again from its first row.
		r.src.log.Info("the table's key is not the one its saved snapshot progress was read in: reading it from the start",
			zap.String("table", tp.Table), zap.Strings("saved_key", tp.KeyColumns), zap.Strings("key", key))
		tp.Rows, tp.LastKey = 0, nil
	}
	tp.KeyColumns = key
	chunk := r.src.cfg.Snapshot.ChunkSize
	q := newChunkQuery(r.conn, rel, db, name, chunk)
	defer q.close()
	firstOfTable := tp.Rows == 0
	rows := make([]sluice.Row, 0, min(chunk, 1024)+1)
	var lastKey []keyValue
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows, lastKey = rows[:0], lastKey[:0]
		more := false
		err := q.read(tp.LastKey, func(fv []mysql.FieldValue) error {
			if len(rows) == chunk {
				more = true // one more exists: not the final chunk
				return nil
			}
			row, err := r.row(rel, fv)
			if err != nil {
				return err
			}
			rows = append(rows, row)
			lastKey = q.keyOf(fv, lastKey[:0])
			return nil
		})
		if err != nil {
			return fmt.Errorf("mysql source: snapshot of %s: %w", tp.Table, err)
		}
		final := !more
		for i, row := range rows {
			if err := r.emitRow(t, row, tp.Rows+int64(i)+1, firstOfTable, final && i == len(rows)-1, lastTable); err != nil {
				return err
			}
		}
		firstOfTable = firstOfTable && len(rows) == 0
		if err := r.progress(idx, tp, len(rows), lastKey, final, est); err != nil {
			return err
		}
		if final {
			r.src.log.Info("snapshot of table finished", zap.String("table", tp.Table), zap.Int64("rows", tp.Rows))
			return nil
		}
	}
}

// keylessWriteTimeout is the snapshot session's net_write_timeout while it
// reads a table without a key: the server waits that long for sluice to
// take the next rows, which it does only as fast as the pipeline takes
// them (backpressure), before it gives up on the connection.
const keylessWriteTimeout = 24 * time.Hour

// keyless reads a table without a key in one pass (nothing to page by),
// restarted from its first row after a crash. Rows go out as they arrive,
// one row behind to tell the last one: memory holds what the pipeline
// buffers, not the table.
func (r *snapReader) keyless(ctx context.Context, idx int, tp *tableProgress, lastTable bool, rel *relation, est int64) error {
	db, name, _ := strings.Cut(tp.Table, ".")
	tp.Rows, tp.LastKey = 0, nil
	q := newChunkQuery(r.conn, rel, db, name, 0)
	defer q.close()
	set := fmt.Sprintf("SET SESSION net_write_timeout = %d", int(keylessWriteTimeout/time.Second))
	if _, err := r.conn.Execute(set); err != nil {
		return fmt.Errorf("mysql source: %s: %w", set, err)
	}
	var held sluice.Row
	var n int64
	err := q.read(nil, func(fv []mysql.FieldValue) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		row, err := r.row(rel, fv)
		if err != nil {
			return err
		}
		if held != nil {
			n++
			if err := r.emitRow(rel.table, held, n, true, false, lastTable); err != nil {
				return err
			}
		}
		held = row
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("mysql source: snapshot of %s: %w", tp.Table, err)
	}
	if held != nil {
		n++
		if err := r.emitRow(rel.table, held, n, true, true, lastTable); err != nil {
			return err
		}
	}
	if err := r.progress(idx, tp, int(n), nil, true, est); err != nil {
		return err
	}
	r.src.log.Info("snapshot of table finished", zap.String("table", tp.Table), zap.Int64("rows", tp.Rows))
	return nil
}
