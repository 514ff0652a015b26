package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// position is a place in the binlog: where a restart resumes.
type position struct {
	file  string
	pos   uint32
	gtids mysql.GTIDSet // nil when the server has no GTIDs
}

// fileSeq is the sequence number of a binlog file (mysql-bin.000042 →
// 42). With the offset it orders positions across files.
// eventQueue is how many binlog events the replication client decodes
// ahead of the pipeline.
const eventQueue = 256

func fileSeq(file string) uint64 {
	dot := strings.LastIndexByte(file, '.')
	n, _ := strconv.ParseUint(file[dot+1:], 10, 32)
	return n
}

// lsn numbers a position so that later positions have larger numbers.
func lsn(file string, pos uint32) uint64 { return fileSeq(file)<<32 | uint64(pos) }

// resume encodes a stream position as a mark's Resume token:
// "file\x00pos\x00gtids".
func (p position) resume() string {
	g := ""
	if p.gtids != nil {
		g = p.gtids.String()
	}
	return p.file + "\x00" + strconv.FormatUint(uint64(p.pos), 10) + "\x00" + g
}

// tx is the transaction being read.
type tx struct {
	open   bool
	gtid   string // "" without GTIDs
	start  uint64 // lsn of the transaction's first event
	binlog *sluice.Binlog
	order  int64
	seq    uint64 // counts transactions; a relation's table order belongs to one
	thread uint64
	// explicit is true inside BEGIN … COMMIT (MariaDB: a GTID event
	// without the standalone flag): statements there do not commit.
	explicit bool
}

// stream turns binlog events into change events.
type stream struct {
	src    *Source
	srv    *server
	conn   *client.Conn // for information-schema lookups on table maps
	emit   func(*sluice.Event) error
	log    *zap.Logger
	tables map[string]bool // captured db.table

	file  string
	gtids mysql.GTIDSet
	tx    tx

	rels     map[uint64]*relMap // by table id; nil relation for tables not captured
	refCache map[string]refinements

	lastMark uint64
}

type relMap struct {
	sig string
	rel *relation // nil when the table is not captured
}

func newStream(s *Source, srv *server, conn *client.Conn, tables []string, start position, emit func(*sluice.Event) error) *stream {
	st := &stream{src: s, srv: srv, conn: conn, emit: emit, log: s.log, tables: map[string]bool{},
		file: start.file, gtids: start.gtids, rels: map[uint64]*relMap{}, refCache: map[string]refinements{}}
	for _, t := range tables {
		st.tables[t] = true
	}
	return st
}

// syncer starts a binlog dump from start.
func (s *Source) syncer(srv *server, start position) (*replication.BinlogSyncer, *replication.BinlogStreamer, error) {
	cfg := replication.BinlogSyncerConfig{
		ServerID: s.cfg.ServerID, Flavor: srv.flavor,
		Host: s.dsn.Host, Port: s.dsn.Port, User: s.dsn.User, Password: s.dsn.Password,
		Charset:                 "utf8mb4",
		ParseTime:               false,
		TimestampStringLocation: time.UTC, // TIMESTAMP is an instant: render it in UTC
		HeartbeatPeriod:         s.cfg.Heartbeat,
		ReadTimeout:             3 * s.cfg.Heartbeat,
		DisableRetrySync:        true, // the pipeline restarts from the stored offset instead
		// go-mysql queues 10240 decoded events by default, ahead of the
		// pipeline's own bounded queue: with row events of a hundred rows
		// that is a million rows in memory. A short queue keeps the
		// reader busy and the pipeline's capacity the only real buffer.
		EventCacheCount: eventQueue,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	sy := replication.NewBinlogSyncer(cfg)
	var st *replication.BinlogStreamer
	var err error
	if start.gtids != nil {
		st, err = sy.StartSyncGTID(start.gtids)
	} else {
		st, err = sy.StartSync(mysql.Position{Name: start.file, Pos: start.pos})
	}
	if err != nil {
		sy.Close()
		return nil, nil, fmt.Errorf("mysql source: start binlog dump: %w", err)
	}
	return sy, st, nil
}

// run reads events until ctx ends or an error.
func (st *stream) run(ctx context.Context, bs *replication.BinlogStreamer) error {
	for {
		ev, err := bs.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return classifyDumpError(err)
		}
		if err := st.handle(ev); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// classifyDumpError turns the server's "purged" answer into a permanent
// error that says how to recover.
func classifyDumpError(err error) error {
	var me *mysql.MyError
	if errors.As(err, &me) && me.Code == mysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		return sluice.Permanent(fmt.Errorf("mysql source: the server cannot send the stored binlog position (%s); it was probably purged: "+
			"set snapshot.mode to when_needed to take a new snapshot, or delete the stored offset: %w", me.Message, err))
	}
	return fmt.Errorf("mysql source: binlog stream: %w", err)
}

func (st *stream) handle(ev *replication.BinlogEvent) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.file = string(e.NextLogName)
		return nil
	case *replication.MariadbGTIDEvent:
		st.begin(h, e.GTID.String(), 0)
		st.tx.explicit = !e.IsStandalone()
		return nil
	case *replication.GTIDEvent:
		u, err := uuid.FromBytes(e.SID)
		if err != nil {
			return fmt.Errorf("mysql source: GTID event: %w", err)
		}
		st.begin(h, u.String()+":"+strconv.FormatInt(e.GNO, 10), 0)
		return nil
	case *replication.QueryEvent:
		return st.query(h, e)
	case *replication.TableMapEvent:
		return st.tableMap(e)
	case *replication.RowsEvent:
		return st.rows(h, e)
	case *replication.XIDEvent:
		return st.commit(h)
	}
	if h.EventType == replication.HEARTBEAT_EVENT && !st.tx.open && h.LogPos > 0 {
		// Everything before the heartbeat's position was sent: let the
		// offset follow the server while no captured table changes.
		return st.mark(h.LogPos)
	}
	return nil
}

// begin opens a transaction at a GTID event (or BEGIN without GTIDs).
func (st *stream) begin(h *replication.EventHeader, gtid string, thread uint64) {
	start := h.LogPos - h.EventSize
	st.tx = tx{open: true, gtid: gtid, start: lsn(st.file, start), seq: st.tx.seq + 1, thread: thread}
}

func (st *stream) query(h *replication.EventHeader, e *replication.QueryEvent) error {
	q := strings.TrimSpace(string(e.Query))
	switch strings.ToUpper(q) {
	case "BEGIN", "XA START":
		if !st.tx.open || st.tx.order > 0 {
			st.begin(h, "", uint64(e.SlaveProxyID))
		} else {
			st.tx.thread = uint64(e.SlaveProxyID)
		}
		st.tx.explicit = true
		return nil
	case "COMMIT", "XA COMMIT":
		return st.commit(h)
	}
	// A DDL statement (or a statement logged as such): the tables it
	// names get new table maps; drop what was learned about them.
	if st.schemaChanged(string(e.Schema), q) && *st.src.cfg.SchemaChanges {
		if err := st.emitDDL(h, string(e.Schema), q, uint64(e.SlaveProxyID)); err != nil {
			return err
		}
	}
	if st.tx.open && st.tx.explicit {
		return nil // a statement inside a transaction
	}
	return st.commit(h)
}

// schemaChanged forgets what was learned about tables when a DDL
// statement runs, and reports whether the statement names a captured
// table.
func (st *stream) schemaChanged(db, q string) bool {
	lq := strings.ToLower(q)
	if !strings.HasPrefix(lq, "alter") && !strings.HasPrefix(lq, "create") && !strings.HasPrefix(lq, "drop") && !strings.HasPrefix(lq, "rename") && !strings.HasPrefix(lq, "truncate") {
		return false
	}
	clear(st.refCache)
	clear(st.rels)
	if !st.namesCaptured(db, q) {
		return false
	}
	st.log.Info("schema change", zap.String("db", db), zap.String("statement", truncate(q, 500)))
	return true
}

// namesCaptured reports whether a statement mentions a captured table,
// as db.table or as a bare name in its default database db.
func (st *stream) namesCaptured(db, q string) bool {
	words := strings.FieldsFunc(q, func(r rune) bool {
		return !(r == '_' || r == '.' || r == '$' || r == '`' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
	})
	for _, w := range words {
		w = strings.ReplaceAll(w, "`", "")
		if st.tables[w] || st.tables[db+"."+w] {
			return true
		}
	}
	return false
}

// emitDDL emits a schema change event for a DDL statement.
func (st *stream) emitDDL(h *replication.EventHeader, db, q string, thread uint64) error {
	start := st.tx.start
	if !st.tx.open {
		start = lsn(st.file, h.LogPos-h.EventSize)
	}
	txid := st.tx.gtid
	if txid == "" {
		txid = st.file + ":" + strconv.FormatUint(start&0xffffffff, 10)
	}
	b := &sluice.Binlog{ServerID: h.ServerID, File: st.file, GTID: st.tx.gtid, Thread: thread, TxID: txid}
	return st.emit(&sluice.Event{Op: sluice.OpSchemaChange, DDL: &sluice.DDL{Database: db, Statement: q},
		Pos:        sluice.Position{LSN: lsn(st.file, h.LogPos-h.EventSize), TxLSN: start},
		CommitTime: time.Unix(int64(h.Timestamp), 0), Binlog: b})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// commit ends the transaction at the event whose header is h and emits
// its mark: the position after it.
func (st *stream) commit(h *replication.EventHeader) error {
	if st.tx.gtid != "" && st.gtids != nil {
		if err := st.gtids.Update(st.tx.gtid); err != nil {
			return fmt.Errorf("mysql source: GTID %s: %w", st.tx.gtid, err)
		}
	}
	st.tx.open, st.tx.explicit = false, false
	st.tx.gtid = ""
	st.tx.order = 0
	st.tx.binlog = nil
	return st.mark(h.LogPos)
}

func (st *stream) mark(pos uint32) error {
	l := lsn(st.file, pos)
	if l <= st.lastMark {
		return nil
	}
	st.lastMark = l
	p := position{file: st.file, pos: pos, gtids: st.gtids}
	return st.emit(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: l, Resume: p.resume()}})
}

// tableMap records the description of a table id, rebuilding it only
// when the columns differ from the last map of that id.
func (st *stream) tableMap(e *replication.TableMapEvent) error {
	name := string(e.Schema) + "." + string(e.Table)
	sig := name + "\x00" + string(e.ColumnType) + "\x00" + strings.Join(e.ColumnNameString(), ",")
	if m := st.rels[e.TableID]; m != nil && m.sig == sig {
		return nil
	}
	m := &relMap{sig: sig}
	st.rels[e.TableID] = m
	if !st.tables[name] {
		return nil
	}
	ref, ok := st.refCache[name]
	if !ok {
		var err error
		if ref, err = refine(st.conn, string(e.Schema), string(e.Table)); err != nil {
			return err
		}
		st.refCache[name] = ref
	}
	rel, err := buildRelation(e, ref, func(id uint64) string { return st.srv.collations[id] })
	if err != nil {
		return sluice.Permanent(fmt.Errorf("mysql source: %w", err))
	}
	m.rel = rel
	st.log.Debug("table map", zap.String("table", name), zap.Int("columns", len(rel.table.Columns)))
	return nil
}

func (st *stream) rows(h *replication.EventHeader, e *replication.RowsEvent) error {
	m := st.rels[e.TableID]
	if m == nil || m.rel == nil {
		return nil
	}
	rel := m.rel
	if !st.tx.open { // a non-transactional engine without BEGIN
		st.begin(h, "", 0)
	}
	if st.tx.binlog == nil {
		txid := st.tx.gtid
		if txid == "" {
			txid = st.file + ":" + strconv.FormatUint(st.tx.start&0xffffffff, 10)
		}
		st.tx.binlog = &sluice.Binlog{ServerID: h.ServerID, File: st.file, GTID: st.tx.gtid, Thread: st.tx.thread, TxID: txid}
	}
	evPos := lsn(st.file, h.LogPos-h.EventSize)
	commitTime := time.Unix(int64(h.Timestamp), 0)
	mk := func(op sluice.Op, i int) *sluice.Event {
		st.tx.order++
		if rel.orderTx != st.tx.seq {
			rel.orderTx, rel.order = st.tx.seq, 0
		}
		rel.order++
		return &sluice.Event{Op: op, Table: rel.table, Pos: sluice.Position{LSN: evPos, TxLSN: st.tx.start},
			CommitTime: commitTime, TxOrder: st.tx.order, TableOrder: rel.order,
			Binlog: st.tx.binlog, Row: int32(i)}
	}
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		for i, r := range e.Rows {
			row, err := st.convert(rel, e, i, r)
			if err != nil {
				return err
			}
			ev := mk(sluice.OpCreate, i)
			ev.After = row
			if err := st.emit(ev); err != nil {
				return err
			}
		}
	case replication.EnumRowsEventTypeDelete:
		for i, r := range e.Rows {
			row, err := st.convert(rel, e, i, r)
			if err != nil {
				return err
			}
			ev := mk(sluice.OpDelete, i)
			ev.Before = row
			if err := st.emit(ev); err != nil {
				return err
			}
		}
	case replication.EnumRowsEventTypeUpdate:
		for i := 0; i+1 < len(e.Rows); i += 2 {
			old, err := st.convert(rel, e, i, e.Rows[i])
			if err != nil {
				return err
			}
			neu, err := st.convert(rel, e, i+1, e.Rows[i+1])
			if err != nil {
				return err
			}
			if keyChanged(rel.table, old, neu) {
				del := mk(sluice.OpDelete, i/2)
				del.Before, del.OtherKey = old, neu
				if err := st.emit(del); err != nil {
					return err
				}
				cre := mk(sluice.OpCreate, i/2)
				cre.After, cre.OtherKey = neu, old
				if err := st.emit(cre); err != nil {
					return err
				}
				continue
			}
			ev := mk(sluice.OpUpdate, i/2)
			ev.Before, ev.After = old, neu
			if err := st.emit(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// convert turns one decoded row image into a row; columns the image
// leaves out (binlog_row_image other than FULL) are KindMissing.
func (st *stream) convert(rel *relation, e *replication.RowsEvent, img int, r []any) (sluice.Row, error) {
	cols := rel.table.Columns
	if len(r) != len(cols) {
		return nil, fmt.Errorf("mysql source: %s.%s: row image has %d columns, table map %d", rel.table.DB, rel.table.Name, len(r), len(cols))
	}
	row := make(sluice.Row, len(cols))
	for i := range cols {
		v, err := rel.cols[i].fromBinlog(&cols[i], r[i])
		if err != nil {
			return nil, fmt.Errorf("mysql source: %s.%s column %s: %w", rel.table.DB, rel.table.Name, cols[i].Name, err)
		}
		row[i] = v
	}
	if img < len(e.SkippedColumns) {
		for _, i := range e.SkippedColumns[img] {
			if i < len(row) {
				row[i].Kind = sluice.KindMissing
			}
		}
	}
	return row, nil
}

func keyChanged(t *sluice.Table, old, neu sluice.Row) bool {
	for _, k := range t.Key {
		a, b := &old[k], &neu[k]
		if a.Kind == sluice.KindMissing || b.Kind == sluice.KindMissing {
			return false
		}
		if a.Kind != b.Kind || a.Int != b.Int || a.Float != b.Float || string(a.Bytes) != string(b.Bytes) {
			return true
		}
	}
	return false
}
