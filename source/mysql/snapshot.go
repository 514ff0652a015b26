package mysql

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
// transaction. A snapshot resumed after a crash reads the remaining rows
// in a new transaction (a later position) but keeps the first position:
// the stream then replays the changes between the two, each after the
// read of its row, so the final state of every key is still exact.
func (s *Source) snapshot(ctx context.Context, srv *server, tables []string, off *offset, w *writer) (position, error) {
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
		base = offset{Version: 1, ServerID: srv.serverID, File: snapPos.file, Pos: snapPos.pos, GTIDs: gtidString(snapPos.gtids),
			Snapshot: &snapshotState{}}
		for _, t := range tables {
			base.Snapshot.Tables = append(base.Snapshot.Tables, &tableProgress{Table: t})
		}
		s.log.Info("snapshot started", zap.String("file", base.File), zap.Uint32("pos", base.Pos), zap.Int("tables", len(tables)))
	}
	start, err := offsetPosition(srv, &base)
	if err != nil {
		return position{}, err
	}
	if !srv.gtid {
		start.gtids = nil
	}
	rd := &snapReader{src: s, conn: conn, w: w, off: &base, started: false,
		binlog: &sluice.Binlog{ServerID: srv.serverID, File: snapPos.file},
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
	last := -1
	for i, tp := range base.Snapshot.Tables {
		if !tp.Done {
			last = i
		}
	}
	for i, tp := range base.Snapshot.Tables {
		if tp.Done {
			continue
		}
		if err := rd.table(ctx, i, tp, i == last); err != nil {
			return position{}, err
		}
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
	readAt  time.Time
}

// table reads one table from its last acknowledged key.
func (r *snapReader) table(ctx context.Context, idx int, tp *tableProgress, lastTable bool) error {
	db, name, _ := strings.Cut(tp.Table, ".")
	rel, err := describeTable(r.conn, db, name)
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
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = quoteIdent(c.Name)
	}
	keys := make([]string, len(t.Key))
	for i, k := range t.Key {
		keys[i] = quoteIdent(t.Columns[k].Name)
	}
	chunk := r.src.cfg.Snapshot.ChunkSize
	if len(t.Key) == 0 {
		// No key to page by: one pass, restarted from the first row after
		// a crash (documented).
		tp.Rows, tp.LastKey = 0, nil
		chunk = 0
	}
	firstOfTable := tp.Rows == 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		q := "SELECT " + strings.Join(cols, ", ") + " FROM " + quoteTable(db, name)
		if len(tp.LastKey) > 0 {
			lits := make([]string, len(tp.LastKey))
			for i, kv := range tp.LastKey {
				lits[i] = kv.literal()
			}
			q += " WHERE (" + strings.Join(keys, ", ") + ") > (" + strings.Join(lits, ", ") + ")"
		}
		if chunk > 0 {
			q += " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(chunk+1)
		}
		var rows []sluice.Row
		var lastKey []keyValue
		var result mysql.Result
		err := r.conn.ExecuteSelectStreaming(q, &result, func(fv []mysql.FieldValue) error {
			if chunk > 0 && len(rows) == chunk {
				rows = append(rows, nil) // one more exists: not the final chunk
				return nil
			}
			row := make(sluice.Row, len(fv))
			for i := range fv {
				v, err := rel.cols[i].fromField(&t.Columns[i], &fv[i])
				if err != nil {
					return fmt.Errorf("column %s: %w", t.Columns[i].Name, err)
				}
				row[i] = v
			}
			rows = append(rows, row)
			if chunk > 0 {
				lastKey = keyOf(rel, fv, lastKey[:0])
			}
			return nil
		}, nil)
		if err != nil {
			return fmt.Errorf("mysql source: snapshot of %s: %w", tp.Table, err)
		}
		final := chunk == 0 || len(rows) <= chunk
		if !final {
			rows = rows[:chunk]
		}
		for i, row := range rows {
			mark := sluice.SnapshotTrue
			switch {
			case !r.started:
				mark = sluice.SnapshotFirst
			case lastTable && final && i == len(rows)-1:
				mark = sluice.SnapshotLast
			case final && i == len(rows)-1:
				mark = sluice.SnapshotLastInData
			case firstOfTable && i == 0:
				mark = sluice.SnapshotFirstInData
			}
			r.started = true
			ev := &sluice.Event{Op: sluice.OpRead, Table: t, After: row, Snapshot: mark,
				Pos: sluice.Position{LSN: r.pos, TxLSN: r.pos}, CommitTime: r.readAt, Binlog: r.binlog}
			if err := r.w.emitEvent(ev); err != nil {
				return err
			}
		}
		firstOfTable = firstOfTable && len(rows) == 0
		before := tp.Rows
		tp.Rows += int64(len(rows))
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
		if err := r.w.emitEvent(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: r.pos, Resume: string(b)}}); err != nil {
			return err
		}
		if final {
			r.src.log.Info("snapshot of table finished", zap.String("table", tp.Table), zap.Int64("rows", tp.Rows))
			return nil
		}
	}
}

// keyOf keeps the text of the key columns of a result row.
func keyOf(rel *relation, fv []mysql.FieldValue, dst []keyValue) []keyValue {
	for _, k := range rel.table.Key {
		f := &fv[k]
		var kv keyValue
		switch f.Type {
		case mysql.FieldValueTypeSigned:
			kv.Text = strconv.FormatInt(f.AsInt64(), 10)
		case mysql.FieldValueTypeUnsigned:
			kv.Text = strconv.FormatUint(f.AsUint64(), 10)
		case mysql.FieldValueTypeFloat:
			kv.Text = strconv.FormatFloat(f.AsFloat64(), 'g', -1, 64)
		default:
			if rel.cols[k].kind == kBinary {
				kv.Text, kv.Hex = hex.EncodeToString(f.AsString()), true
			} else {
				kv.Text = string(f.AsString())
			}
		}
		dst = append(dst, kv)
	}
	return dst
}

// literal is the SQL literal of a stored key value.
func (kv keyValue) literal() string {
	if kv.Hex {
		return "X'" + kv.Text + "'"
	}
	return "'" + mysql.Escape(kv.Text) + "'"
}
