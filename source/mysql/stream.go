package mysql

import (
	"context"
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
	"github.com/sluice-cdc/sluice/source"
)

// eventQueue is how many binlog events the replication client decodes
// ahead of the pipeline.
const eventQueue = 256

// tx is the transaction being read.
type tx struct {
	open bool
	gtid string // "" without GTIDs
	// maria is the MariaDB GTID of the transaction (hasMaria), added to
	// the stream's set at commit without parsing gtid again.
	maria    mysql.MariadbGTID
	hasMaria bool
	start    uint64 // lsn of the transaction's first event
	binlog   *sluice.Binlog
	order    int64
	seq      uint64 // counts transactions; a relation's table order belongs to one
	thread   uint64
	// explicit is true inside BEGIN … COMMIT (MariaDB: a GTID event
	// without the standalone flag): statements there do not commit.
	explicit bool
	// xa marks a group that prepares an XA transaction (xa.go): its
	// events are held, not emitted; xid names it, resume is the position
	// before the group.
	xa     bool
	xid    string
	resume string
	held   []*sluice.Event
}

// stream turns binlog events into change events.
type stream struct {
	src    *Source
	srv    *server
	conn   *client.Conn // for information-schema lookups on table maps
	emit   func(*sluice.Event) error
	log    *zap.Logger
	tables map[string]bool // captured db.table

	file   string
	fileNo uint64 // fileSeq(file): positions are numbered per event without parsing the name
	gtids  mysql.GTIDSet
	tx     tx

	rels     map[uint64]*relMap // by table id; nil relation for tables not captured
	refCache map[string]refinements

	structs    structures        // table structures for tableChanges (ddlmodel.go)
	dbCharsets map[string]string // databases' default character sets, as read

	lastMark uint64
	buf      []byte       // scratch for formatting GTIDs and resume tokens
	imgs     []sluice.Row // scratch for a rows event's row images (images)
	// lastResume is the last mark's Resume token, and hb the heartbeat
	// records' state (heartbeat_records, heartbeat.go).
	lastResume string
	hb         time.Time

	xa xaState // prepared XA transactions (xa.go)

	// inc runs the incremental snapshots (nil in tests that build a bare
	// stream); end is the position after the last event read, which a
	// chunk waits for (window.go). signal is the signal table, db.table
	// ("" without one): its inserts are signals, not changes (signal.go).
	inc    *incremental
	end    uint64
	signal string

	// fde is the raw format description event of the binlog being read,
	// and crc whether its events end in a CRC32 checksum (tablemap.go).
	fde []byte
	crc bool
}

// newStream builds a stream that starts at start and captures tables
// (db.table).
func newStream(s *Source, srv *server, conn *client.Conn, tables []string, start position, emit func(*sluice.Event) error) *stream {
	st := &stream{src: s, srv: srv, conn: conn, emit: emit, log: s.log, tables: map[string]bool{},
		gtids: start.gtids, rels: map[uint64]*relMap{}, refCache: map[string]refinements{},
		structs: s.takeSnapStructs(), dbCharsets: map[string]string{}}
	st.setFile(start.file)
	for _, t := range tables {
		st.tables[t] = true
	}
	return st
}

// setFile moves to a binlog file (at the start, or on a rotate event).
func (st *stream) setFile(file string) { st.file, st.fileNo = file, fileSeq(file) }

// lsn numbers pos in the current binlog file, as lsn(st.file, pos).
func (st *stream) lsn(pos uint32) uint64 { return st.fileNo<<32 | uint64(pos) }

// at is the position of the event whose header is h.
func (st *stream) at(h *replication.EventHeader) uint64 { return st.lsn(h.LogPos - h.EventSize) }

// binlogOf is the binlog part of the source block for the open
// transaction (or a statement outside one) starting at start. MariaDB's
// thread is left 0 (null): Debezium's MariaDB connector writes thread
// null, its transactions opening with a GTID event instead of the BEGIN
// query event MySQL's connector takes the thread from.
func (st *stream) binlogOf(h *replication.EventHeader, start, thread uint64) *sluice.Binlog {
	if st.srv.flavor == mysql.MariaDBFlavor {
		thread = 0
	}
	txid := st.tx.gtid
	if txid == "" {
		txid = st.file + ":" + strconv.FormatUint(start&0xffffffff, 10)
	}
	return &sluice.Binlog{ServerID: h.ServerID, File: st.file, GTID: st.tx.gtid, Thread: thread, TxID: txid}
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
		// No ReadTimeout: go-mysql would set a socket deadline for every
		// packet (a sixth of the CPU of single-row transactions); the
		// stall guard (stall.go, started by run) watches for silence instead.
		DisableRetrySync: true, // the pipeline restarts from the stored offset instead
		// sluice tracks the GTID set itself; go-mysql would otherwise
		// clone its copy into every commit event.
		DiscardGTIDSet: true,
		// go-mysql queues 10240 decoded events by default, ahead of the
		// pipeline's own bounded queue: with row events of a hundred rows
		// that is a million rows in memory. A short queue keeps the
		// reader busy and the pipeline's capacity the only real buffer.
		EventCacheCount: eventQueue,
		// Row images are read by the stream, for captured tables only
		// (rowimage.go).
		RowsEventDecodeFunc: headerOnly,
		// Table maps are decoded whole only when they change (tablemap.go).
		TableMapOptionalMetaDecodeFunc: skipOptionalMeta,
		Logger:                         slog.New(slog.NewTextHandler(io.Discard, nil)),
		TLSConfig:                      s.tls, // nil: plaintext
	}
	// MariaDB takes a GTID start from the session (what go-mysql's
	// StartSyncGTID sends too) and then ignores the dump's file and
	// position. Started by position, go-mysql does not track the GTID set,
	// which it would clone at every transaction's GTID event (a twentieth
	// of the CPU of single-row transactions).
	mariaGTIDs := start.gtids != nil && srv.flavor == mysql.MariaDBFlavor
	if mariaGTIDs {
		state := start.gtids.String()
		cfg.Option = func(c *client.Conn) error { return mariaGTIDStart(c, state) }
	}
	sy := replication.NewBinlogSyncer(cfg)
	var st *replication.BinlogStreamer
	var err error
	switch {
	case mariaGTIDs:
		st, err = sy.StartSync(mysql.Position{Name: "", Pos: 4})
	case start.gtids != nil:
		st, err = sy.StartSyncGTID(start.gtids)
	default:
		st, err = sy.StartSync(mysql.Position{Name: start.file, Pos: start.pos})
	}
	if err != nil {
		sy.Close()
		return nil, nil, classifyConnectError("start binlog dump", err)
	}
	return sy, st, nil
}

// mariaGTIDStart makes the binlog dump of c start after the GTID state
// (a MariaDB GTID set), in GTID strict mode, as a MariaDB replica does.
func mariaGTIDStart(c *client.Conn, state string) error {
	if strings.ContainsFunc(state, func(r rune) bool { return r != ',' && r != '-' && (r < '0' || r > '9') }) {
		return fmt.Errorf("MariaDB GTID state %q", state)
	}
	for _, q := range []string{"SET @slave_connect_state='" + state + "'", "SET @slave_gtid_strict_mode=1"} {
		if _, err := c.Execute(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// closeTimeout bounds closing a binlog connection.
const closeTimeout = 5 * time.Second

// closeSyncer closes sy, giving up after closeTimeout: go-mysql's Close
// opens a second connection to KILL the dump thread, which on a dead
// network (the case the stall guard detects) could wait forever and keep
// the pipeline from restarting. An abandoned connection is left to the
// server's own timeouts.
func closeSyncer(sy *replication.BinlogSyncer, log *zap.Logger) {
	done := make(chan struct{})
	go func() {
		sy.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeTimeout):
		log.Warn("binlog connection did not close; abandoning it", zap.Duration("after", closeTimeout))
	}
}

// run reads events until ctx ends (then it returns nil) or an error:
// a dump error (classifyDumpError), the stall guard's, or one of handle.
func (st *stream) run(ctx context.Context, bs *replication.BinlogStreamer) error {
	var g stallGuard
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	t := time.NewTicker(st.src.cfg.Heartbeat)
	defer t.Stop()
	go g.watch(wctx, t.C, stallTicks, func() {
		cancel(fmt.Errorf("mysql source: no binlog event or heartbeat for %s: connection lost", stallTicks*st.src.cfg.Heartbeat))
	})
	if st.inc != nil {
		defer st.inc.stopWake()
	}
	stop := stopAtCommit{clock: source.NewStopClock(ctx), timeout: st.src.cfg.DrainTimeout}
	defer stop.close()
	for {
		// With incremental snapshots, the wait for the next event ends too
		// when a chunk is handed over, so an idle stream emits it at once.
		gctx := wctx
		var wk *wakeup
		if ctx.Err() != nil {
			if gctx = stop.finishing(ctx, st.tx.open); gctx == nil {
				return nil
			}
		} else if st.inc != nil {
			wk = st.inc.waitContext(wctx)
			gctx = wk.ctx
		}
		g.waiting.Store(true)
		ev, err := bs.GetEvent(gctx)
		g.waiting.Store(false)
		g.events.Add(1)
		if err != nil {
			if ctx.Err() != nil {
				if stop.ctx == nil {
					continue // the stop request ended the wait: finishing decides
				}
				return nil
			}
			if cause := context.Cause(wctx); cause != nil {
				return cause
			}
			if wk != nil && wk.ctx.Err() != nil && wctx.Err() == nil {
				st.inc.rearm(wctx, wk)
				if err := st.snapshotWork(ctx); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return err
				}
				continue
			}
			return classifyDumpError(err)
		}
		if err := st.handle(ev); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if h := ev.Header; h.LogPos > 0 && h.EventType != replication.ROTATE_EVENT {
			st.end = max(st.end, st.lsn(h.LogPos))
		}
		if st.inc != nil && ctx.Err() == nil && (st.inc.ready.Load() || st.inc.blocking.Load()) {
			if err := st.snapshotWork(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

// snapshotWork does the snapshot work due between events: it emits a
// handed-over incremental chunk, and runs blocking snapshots, outside a
// transaction.
func (st *stream) snapshotWork(ctx context.Context) error {
	if err := st.flushChunk(); err != nil {
		return err
	}
	if st.inc.blocking.Load() && !st.tx.open {
		return st.runBlocking(ctx)
	}
	return nil
}

// handle turns one binlog event into change events and marks.
func (st *stream) handle(ev *replication.BinlogEvent) error {
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.setFile(string(e.NextLogName))
		return nil
	case *replication.MariadbGTIDEvent:
		st.begin(h, string(appendMariaGTID(st.buf[:0], &e.GTID)), 0)
		st.tx.explicit = !e.IsStandalone()
		st.tx.maria, st.tx.hasMaria = e.GTID, true
		if e.Flags&mariaFlagPreparedXA != 0 {
			st.startXA()
		}
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
		return st.tableMap(ev.RawData, e.TableID)
	case *replication.FormatDescriptionEvent:
		st.format(ev.RawData, e)
		return nil
	case *replication.RowsEvent:
		return st.rows(h, e)
	case *replication.XIDEvent:
		return st.commit(h)
	case *replication.GenericEvent:
		if h.EventType == replication.XA_PREPARE_LOG_EVENT {
			return st.xaPrepare(h, e.Data)
		}
	}
	if h.EventType == replication.HEARTBEAT_EVENT && !st.tx.open && h.LogPos > 0 {
		// Everything before the heartbeat's position was sent: let the
		// offset follow the server while no captured table changes.
		if err := st.mark(h.LogPos); err != nil {
			return err
		}
		return st.maybeHeartbeat()
	}
	return nil
}

// begin opens a transaction at a GTID event (or BEGIN without GTIDs).
func (st *stream) begin(h *replication.EventHeader, gtid string, thread uint64) {
	st.xa.rows -= len(st.tx.held) // an XA group that never ended
	st.tx = tx{open: true, gtid: gtid, start: st.at(h), seq: st.tx.seq + 1, thread: thread}
}

// query handles a statement event: a transaction boundary, a DDL
// statement (ddl.go), or a statement that commits on its own.
func (st *stream) query(h *replication.EventHeader, e *replication.QueryEvent) error {
	q := strings.TrimSpace(string(e.Query))
	switch {
	case strings.EqualFold(q, "BEGIN"):
		if !st.tx.open || st.tx.order > 0 {
			st.begin(h, "", uint64(e.SlaveProxyID))
		} else {
			st.tx.thread = uint64(e.SlaveProxyID)
		}
		st.tx.explicit = true
		return nil
	case strings.EqualFold(q, "COMMIT"):
		return st.commit(h)
	}
	if ok, err := st.xaStatement(h, q, uint64(e.SlaveProxyID)); ok {
		return err
	}
	// A client's comments before the statement (/* ApplicationName=… */
	// TRUNCATE …) are in the binlog as sent; the statement starts after
	// them, for what follows and for the schema change event's text.
	q = skipComments(q)
	if err := st.truncated(h, string(e.Schema), q, uint64(e.SlaveProxyID)); err != nil {
		return err
	}
	// A DDL statement (or a statement logged as such): the tables it
	// names get new table maps; drop what was learned about them.
	if st.schemaChanged(string(e.Schema), q) {
		if st.inc != nil {
			st.inc.schemaChanged()
		}
		if st.src.cfg.SchemaChanges {
			if err := st.emitDDL(h, string(e.Schema), q, uint64(e.SlaveProxyID)); err != nil {
				return err
			}
		}
	}
	if st.tx.open && st.tx.explicit {
		return nil // a statement inside a transaction
	}
	return st.commit(h)
}

// commit ends the transaction at the event whose header is h and emits
// its mark: the position after it.
func (st *stream) commit(h *replication.EventHeader) error {
	if st.tx.gtid != "" && st.gtids != nil {
		var err error
		if set, ok := st.gtids.(*mysql.MariadbGTIDSet); ok && st.tx.hasMaria {
			err = addMariaGTID(set, &st.tx.maria)
		} else {
			err = st.gtids.Update(st.tx.gtid)
		}
		if err != nil {
			return fmt.Errorf("mysql source: GTID %s: %w", st.tx.gtid, err)
		}
	}
	st.tx.open, st.tx.explicit = false, false
	st.tx.gtid = ""
	st.tx.order = 0
	st.tx.binlog = nil
	st.tx.xa, st.tx.xid, st.tx.resume = false, "", ""
	st.xa.rows -= len(st.tx.held) // none: an XA group ends in xa.go
	st.tx.held = nil
	if err := st.mark(h.LogPos); err != nil {
		return err
	}
	return st.maybeHeartbeat()
}

// mark emits the position pos in the current file as a mark, unless the
// last one was at or after it. While a prepared XA transaction is pending,
// the mark resumes before it (xa.go).
func (st *stream) mark(pos uint32) error {
	l := st.lsn(pos)
	if l <= st.lastMark {
		return nil
	}
	st.lastMark = l
	resume := st.resumeHeld()
	if resume == "" {
		st.buf = position{file: st.file, pos: pos, gtids: st.gtids}.appendResume(st.buf[:0])
		resume = string(st.buf)
	}
	st.lastResume = resume
	return st.emit(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: l, Resume: resume}})
}

// rows emits a change event per row of a rows event of a captured table;
// an update that changes the key is a delete and a create.
func (st *stream) rows(h *replication.EventHeader, e *replication.RowsEvent) error {
	m := st.rels[e.TableID]
	if m == nil || m.rel == nil {
		return nil
	}
	rel := m.rel
	imgs, err := st.images(h, rel, e)
	if err != nil {
		return fmt.Errorf("mysql source: %s.%s: %w", rel.table.DB, rel.table.Name, err)
	}
	if m.signal {
		return st.signalRows(e, rel, imgs)
	}
	if !st.tx.open { // a non-transactional engine without BEGIN
		st.begin(h, "", 0)
	}
	if st.tx.binlog == nil {
		st.tx.binlog = st.binlogOf(h, st.tx.start, st.tx.thread)
	}
	evPos := st.at(h)
	commitTime := time.Unix(int64(h.Timestamp), 0)
	// An open window of an incremental snapshot records the keys changed,
	// where the changes are emitted: those of an XA group at its XA
	// COMMIT (release in xa.go), never for an XA ROLLBACK.
	window := st.inc != nil && !st.tx.xa && st.inc.active.Load()
	emit := st.emit
	if st.tx.xa {
		emit = st.hold // published at XA COMMIT (xa.go)
	}
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
	switch typ := e.Type(); typ {
	case replication.EnumRowsEventTypeInsert, replication.EnumRowsEventTypeDelete:
		for i, row := range imgs {
			if window {
				st.inc.touched(rel.table, evPos, row)
			}
			var ev *sluice.Event
			if typ == replication.EnumRowsEventTypeInsert {
				ev = mk(sluice.OpCreate, i)
				ev.After = row
			} else {
				ev = mk(sluice.OpDelete, i)
				ev.Before = row
			}
			if err := emit(ev); err != nil {
				return err
			}
		}
	case replication.EnumRowsEventTypeUpdate:
		for i := 0; i+1 < len(imgs); i += 2 {
			old, neu := imgs[i], imgs[i+1]
			if window {
				st.inc.touched(rel.table, evPos, old, neu)
			}
			if sluice.KeyChanged(rel.table, old, neu) {
				del := mk(sluice.OpDelete, i/2)
				del.Before, del.OtherKey = old, neu
				if err := emit(del); err != nil {
					return err
				}
				cre := mk(sluice.OpCreate, i/2)
				cre.After, cre.OtherKey = neu, old
				if err := emit(cre); err != nil {
					return err
				}
				continue
			}
			ev := mk(sluice.OpUpdate, i/2)
			ev.Before, ev.After = old, neu
			if err := emit(ev); err != nil {
				return err
			}
		}
	}
	return nil
}
