package postgres

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/source"
)

// stream is one replication session: it owns the replication connection
// and is used by one goroutine.
type stream struct {
	src  *Source
	conn *pgx.Conn // catalog queries
	repl *pgconn.PgConn
	sock *pacedConn // repl's socket; nil in tests that build streams by hand
	emit func(*sluice.Event) error
	log  *zap.Logger
	// startup is marked over once the server streams (source.Startup);
	// nil outside a Run.
	startup *source.Startup

	rels map[uint32]*relation
	snap *snapshotter // nil when no snapshot can run
	// dropMessages drops the logical messages that are not sluice's
	// own (messages: false). The session asks for messages either way:
	// the snapshot's watermarks are logical messages.
	dropMessages bool
	// spool holds streamed in-progress transactions (streamed.go); nil
	// unless the session streams them.
	spool *spool
	// finished: a blocking snapshot's save found the whole snapshot work
	// done, which snapshotStep reports (blocking.go).
	finished bool

	stopClock *source.StopClock // when run's context ended: bounds drain

	// The open transaction, between Begin and Commit.
	inTx       bool
	txID       uint64
	txLSN      uint64 // the commit LSN announced by Begin
	commitTime time.Time
	txOrder    int64
	txData     bool // the transaction carries more than sluice's own watermarks and state rows

	txSeq    uint64 // counts Begin messages; relations reset their table order on a new one
	polls    uint64 // maybeSendStatus calls
	idleWake bool   // the read deadline woke the loop
	// prevTxLSN, Debezium's lastCommitLsn (the first element of
	// source.sequence), is the commit LSN of the last transaction this
	// session decoded that carried more than sluice's own watermarks and
	// state rows (txData). Debezium sets it at every commit it streams and
	// keeps it in its offsets, so it writes null (0) from a start without
	// a commit in its offsets (after its snapshot) until its first
	// streamed commit; sluice's watermark and state transactions, which
	// Debezium's snapshot does not write, must not count. After a restart
	// Debezium has the last commit from its offsets; sluice keeps what it
	// has, nothing (the slot keeps the end of the confirmed commit, not its
	// LSN): the first transaction of a session writes null.
	prevTxLSN  uint64
	received   uint64 // highest WAL position received
	lastMark   uint64 // highest position emitted as a mark
	lastStatus time.Time
	// finishCancel ends the context under which a transaction in
	// progress at a stop request is read to its end (finishing).
	finishCancel context.CancelFunc
	sentFlush    uint64
	hb           heartbeatRecords // heartbeat_records (heartbeat_record.go)

	// Liveness: messages received, and since when the idle loop has seen
	// none (see checkSilence).
	heard       uint64
	heardAtWake uint64
	quietSince  time.Time
}

// silentPeriods is how many status intervals may pass without a message
// from the server before the connection is taken for dead. Idle status
// updates ask the server to answer, so a live server is never silent
// for a whole interval.
const silentPeriods = 3

func newStream(s *Source, conn *pgx.Conn, repl *pgconn.PgConn, emit func(*sluice.Event) error) *stream {
	return &stream{src: s, conn: conn, repl: repl, emit: emit, log: s.log,
		rels: map[uint32]*relation{}, sock: pacedOf(repl.Conn()), dropMessages: !s.cfg.Messages}
}

func (st *stream) run(ctx context.Context, start pglogrepl.LSN) error {
	s := st.src
	st.stopClock = source.NewStopClock(ctx)
	defer st.stopClock.Close()
	if c := s.confirmed.Load(); c < uint64(start) {
		s.confirmed.Store(uint64(start)) // the slot already confirmed up to here
	}
	st.sentFlush = s.confirmed.Load()
	if d := s.durable.Load(); d < uint64(start) {
		s.durable.Store(uint64(start)) // where the slot resumes
	}
	st.lastMark = uint64(start)
	args := []string{"proto_version '1'"}
	if s.cfg.Streaming && serverMajor(st.repl) >= 14 {
		args = []string{"proto_version '2'", "streaming 'on'"}
		st.spool = newSpool(filepath.Join(s.stateDir, "spool"))
		defer st.spool.close()
	}
	// pgoutput sends no logical message without messages 'true', and the
	// snapshot's watermarks are logical messages: without them no chunk
	// would ever be emitted. messages: false drops the others as they
	// arrive (handleMessage).
	args = append(args, fmt.Sprintf("publication_names '%s'", s.cfg.Publication), "messages 'true'")
	err := pglogrepl.StartReplication(ctx, st.repl, s.cfg.Slot, start, pglogrepl.StartReplicationOptions{PluginArgs: args})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55006" {
			return fmt.Errorf("postgres source: slot %s: %s: %w", s.cfg.Slot, pgErr.Message, ErrSlotInUse)
		}
		if isSlotInvalidated(err) {
			return slotLost(s.cfg.Slot)
		}
		return fmt.Errorf("postgres source: start replication on slot %s: %w", s.cfg.Slot, err)
	}
	st.startup.Over()
	s.log.Info("streaming", zap.String("from", start.String()), zap.String("publication", s.cfg.Publication),
		zap.Bool("in_progress_transactions", st.spool != nil))

	// Receive with context.Background(): pgconn then skips its context
	// watcher, whose set-up and tear-down cost ~8 allocations and a timer
	// per message. A read deadline wakes the loop at least once a second
	// (to report new confirmations); cancelling ctx moves it to the past.
	nc := st.repl.Conn()
	stopWake := context.AfterFunc(ctx, func() { nc.SetReadDeadline(time.Unix(1, 0)) })
	defer stopWake()
	defer nc.SetReadDeadline(time.Time{})
	nc.SetReadDeadline(time.Now().Add(time.Second))
	// wctx is the context of the work on what is read: ctx until a stop
	// request, then the one finishing makes.
	wctx := ctx
	defer func() {
		if st.finishCancel != nil {
			st.finishCancel()
		}
	}()
	for {
		if ctx.Err() == nil {
			if err := st.maybeSendStatus(ctx, false); err != nil {
				return err
			}
			if done, err := st.snapshotStep(ctx); err != nil || done {
				return err
			}
		}
		if ctx.Err() != nil {
			// finishing also sets the read deadline: a status update's
			// context watcher may have cleared the one set on
			// cancellation.
			if !st.finishing(ctx, &wctx) {
				return st.drain()
			}
		}
		msg, err := st.repl.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				if pgconn.Timeout(err) {
					continue // finishing decides whether to read on
				}
				return st.drain()
			}
			if pgconn.Timeout(err) {
				st.idleWake = true
				if err := st.checkSilence(time.Now()); err != nil {
					return err
				}
				nc.SetReadDeadline(time.Now().Add(time.Second))
				continue
			}
			return fmt.Errorf("postgres source: receive: %w", err)
		}
		st.heard++
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if err := st.handleCopyData(wctx, m.Data); err != nil {
				if ctx.Err() != nil {
					return st.drain()
				}
				return err
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("postgres source: server error: %w", pgconn.ErrorResponseToPgError(m))
		}
	}
}

// snapshotStep starts snapshot workers for queued jobs, surfaces their
// failures, and saves the progress the sinks have acknowledged. done is
// true when a snapshot-only run has finished.
func (st *stream) snapshotStep(ctx context.Context) (done bool, err error) {
	sn := st.snap
	if sn == nil {
		return false, nil
	}
	sn.startWorkers(ctx)
	// A blocking snapshot runs here, between transactions, while the
	// stream waits (blocking.go).
	if err := st.runBlocking(ctx); err != nil {
		return false, err
	}
	if st.conn != nil {
		sn.prune(ctx, st.conn)
	}
	select {
	case err := <-sn.errs:
		return false, err
	default:
	}
	finished, err := sn.persist(st.src.confirmed.Load())
	if err != nil {
		return false, err
	}
	finished, st.finished = finished || st.finished, false
	if finished && st.src.cfg.Snapshot.Mode == "initial_only" {
		st.log.Info("initial snapshot done; stopping (snapshot.mode initial_only)")
		if err := st.drain(); err != nil {
			return false, err
		}
		return true, sluice.ErrDone
	}
	return false, nil
}

// statusMinGap is the shortest time between two status updates that only
// report a new confirmed position.
const statusMinGap = 100 * time.Millisecond

// maybeSendStatus sends a standby status update when the confirmed
// position moved, when the status interval passed, or when forced.
func (st *stream) maybeSendStatus(ctx context.Context, force bool) error {
	flush := st.src.confirmed.Load()
	if !force {
		// Called once per message: look at the clock only every 256
		// messages or after the read deadline woke the loop (at least
		// once a second), and report a new confirmation at most every
		// 100 ms instead of after every acknowledged transaction.
		st.polls++
		if st.polls&255 != 0 && !st.idleWake {
			return nil
		}
		st.idleWake = false
		if err := st.heartbeatDue(); err != nil {
			return err
		}
		since := time.Since(st.lastStatus)
		if since < statusMinGap || flush == st.sentFlush && since < st.src.cfg.StatusInterval {
			return nil
		}
	}
	err := pglogrepl.SendStandbyStatusUpdate(ctx, st.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pglogrepl.LSN(flush),
		WALFlushPosition: pglogrepl.LSN(flush),
		WALApplyPosition: pglogrepl.LSN(flush),
		// A periodic update asks for a keepalive back, the liveness
		// signal checkSilence waits for; an answer to the server's own
		// request does not, or the two would ping-pong.
		ReplyRequested: !force,
	})
	if err != nil {
		return fmt.Errorf("postgres source: send status update: %w", err)
	}
	st.sentFlush, st.lastStatus = flush, time.Now()
	if flush > st.src.durable.Load() {
		st.src.durable.Store(flush) // only this goroutine writes it while streaming
	}
	return nil
}

// checkSilence runs when the read deadline woke an idle loop: it fails
// once no message arrived for silentPeriods status intervals, so a
// connection that went silent (a dead network drops nothing and resets
// nothing) restarts the pipeline instead of waiting for TCP to give up.
func (st *stream) checkSilence(now time.Time) error {
	if st.heard != st.heardAtWake || st.quietSince.IsZero() {
		st.heardAtWake, st.quietSince = st.heard, now
		return nil
	}
	if limit := silentPeriods * st.src.cfg.StatusInterval; now.Sub(st.quietSince) > limit {
		return fmt.Errorf("postgres source: no message from the server for %s although status updates ask for one: connection lost", limit)
	}
	return nil
}

func (st *stream) handleCopyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return fmt.Errorf("postgres source: %w", err)
		}
		if err := st.idleMark(uint64(pkm.ServerWALEnd)); err != nil {
			return err
		}
		if pkm.ReplyRequested {
			return st.maybeSendStatus(ctx, true)
		}
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return fmt.Errorf("postgres source: %w", err)
		}
		st.received = max(st.received, uint64(xld.WALStart))
		return st.handleWAL(ctx, xld)
	}
	return nil
}

// idleMark lets the checkpoint advance to the server's WAL end while no
// transaction is open: everything before it has been sent to us, so once
// what we emitted is delivered the slot may move past WAL that holds no
// change of ours.
func (st *stream) idleMark(walEnd uint64) error {
	if st.inTx || walEnd <= st.lastMark {
		return nil
	}
	st.lastMark = walEnd
	return st.emit(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: walEnd}})
}

func (st *stream) handleWAL(ctx context.Context, xld pglogrepl.XLogData) error {
	d := xld.WALData
	if len(d) == 0 {
		return nil
	}
	// Only a stream block's messages and its control messages go to
	// streamed: the test is inlined, the call is not.
	if sp := st.spool; sp != nil && (sp.cur != nil || streamControl(d[0])) {
		if handled, err := st.streamed(ctx, d, uint64(xld.WALStart), xld.ServerTime); handled {
			return err
		}
	}
	return st.handleMessage(ctx, d, uint64(xld.WALStart), xld.ServerTime)
}

// begin opens a transaction: commitLSN and the commit time are what its
// Begin message announces.
func (st *stream) begin(commitLSN uint64, at time.Time, xid uint32) {
	st.inTx = true
	st.txSeq++
	st.txLSN = commitLSN
	st.commitTime = at
	st.txID = uint64(xid)
	st.txOrder, st.txData = 0, false
}

// commit ends the open transaction with its mark: end is the end of its
// commit record, lsn where the Commit message was.
func (st *stream) commit(commitLSN, end, lsn uint64) error {
	st.inTx = false
	if st.txData {
		st.prevTxLSN = commitLSN
	}
	if st.snap != nil {
		st.snap.committed(end, uint32(st.txID))
	}
	if end > st.lastMark {
		st.lastMark = end
	}
	if err := st.emit(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{LSN: lsn, TxLSN: end}}); err != nil || !st.hb.due {
		return err
	}
	return st.emitHeartbeat()
}

// handleMessage decodes one pgoutput message that was at WAL position
// lsn, sent at serverTime.
func (st *stream) handleMessage(ctx context.Context, d []byte, lsn uint64, serverTime time.Time) error {
	switch pglogrepl.MessageType(d[0]) {
	case pglogrepl.MessageTypeInsert, pglogrepl.MessageTypeUpdate, pglogrepl.MessageTypeDelete:
		return st.handleRow(d, lsn)
	case pglogrepl.MessageTypeBegin:
		// Begin and Commit by hand: pglogrepl.Parse allocates a decoder
		// and a message for each.
		if len(d) < 21 {
			return fmt.Errorf("postgres source: Begin message of %d bytes at %s", len(d), pglogrepl.LSN(lsn))
		}
		st.begin(binary.BigEndian.Uint64(d[1:]), pgTime(int64(binary.BigEndian.Uint64(d[9:]))), binary.BigEndian.Uint32(d[17:]))
		return nil
	case pglogrepl.MessageTypeCommit:
		if len(d) < 26 {
			return fmt.Errorf("postgres source: Commit message of %d bytes at %s", len(d), pglogrepl.LSN(lsn))
		}
		return st.commit(binary.BigEndian.Uint64(d[2:]), binary.BigEndian.Uint64(d[10:]), lsn)
	}
	msg, err := parseMessage(d)
	if err != nil {
		return fmt.Errorf("postgres source: parse %q message at %s: %w", d[0], pglogrepl.LSN(lsn), err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		return st.handleRelation(ctx, m)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			rel, err := st.relation(id)
			if err != nil {
				return err
			}
			if rel.skip {
				continue
			}
			st.txData = true
			if st.snap != nil {
				// Every row a chunk in an open window read is gone.
				st.snap.truncated(id)
			}
			if err := st.emit(st.newEvent(sluice.OpTruncate, rel, lsn)); err != nil {
				return err
			}
		}
	case *pglogrepl.LogicalDecodingMessage:
		if m.Prefix == watermarkPrefix {
			return st.watermark(string(m.Content), uint64(m.LSN))
		}
		if st.dropMessages {
			return nil
		}
		ev := &sluice.Event{Op: sluice.OpMessage,
			// Content points into the connection's reused read buffer.
			Message: &sluice.Message{Transactional: m.Transactional, Prefix: m.Prefix, Content: bytes.Clone(m.Content)}}
		if m.Transactional && st.inTx {
			st.txData = true
			st.txOrder++
			ev.Pos = sluice.Position{LSN: uint64(m.LSN), TxLSN: st.txLSN, PrevTxLSN: st.prevTxLSN}
			ev.TxID, ev.TxOrder, ev.CommitTime = st.txID, st.txOrder, st.commitTime
		} else {
			ev.Pos = sluice.Position{LSN: uint64(m.LSN), TxLSN: uint64(m.LSN), PrevTxLSN: st.prevTxLSN}
			ev.CommitTime = serverTime
		}
		return st.emit(ev)
	}
	return nil
}

func (st *stream) relation(id uint32) (*relation, error) {
	rel := st.rels[id]
	if rel == nil {
		return nil, fmt.Errorf("postgres source: change for relation %d before its Relation message", id)
	}
	return rel, nil
}

// newEvent starts an event of the open transaction for rel.
func (st *stream) newEvent(op sluice.Op, rel *relation, lsn uint64) *sluice.Event {
	st.txOrder++
	if rel.orderTx != st.txSeq {
		rel.orderTx, rel.order = st.txSeq, 0
	}
	rel.order++
	return &sluice.Event{
		Op: op, Table: rel.table,
		Pos:        sluice.Position{LSN: lsn, TxLSN: st.txLSN, PrevTxLSN: st.prevTxLSN},
		CommitTime: st.commitTime,
		TxID:       st.txID,
		TxOrder:    st.txOrder,
		TableOrder: int64(rel.order),
	}
}

// handleRelation builds the table description a Relation message
// announces. It arrives before the first change of a table in a session
// and again after the table's columns change.
func (st *stream) handleRelation(ctx context.Context, m *pglogrepl.RelationMessage) error {
	st.src.cat.invalidate() // enum labels or domains may have changed too
	cols := make([]colSpec, len(m.Columns))
	for i, c := range m.Columns {
		cols[i] = colSpec{name: c.Name, oid: c.DataType, typmod: c.TypeModifier, ident: c.Flags&1 != 0}
	}
	rel, err := st.src.buildRelation(ctx, st.conn, m.RelationID, m.Namespace, m.RelationName, m.ReplicaIdentity, cols)
	if err != nil {
		return err
	}
	rel.signal = st.src.isSignalTable(tableName(m.Namespace, m.RelationName))
	rel.skip = st.src.isStateTable(tableName(m.Namespace, m.RelationName)) ||
		st.src.uncaptured(ctx, st.conn, m.RelationID, m.Namespace, m.RelationName)
	if old := st.rels[m.RelationID]; old != nil {
		// A schema change inside a transaction keeps counting its events.
		rel.order, rel.orderTx = old.order, old.orderTx
	}
	st.rels[m.RelationID] = rel
	st.log.Debug("relation", zap.String("table", m.Namespace+"."+m.RelationName), zap.Int("columns", len(rel.table.Columns)))
	return nil
}

// handleRow decodes Insert, Update and Delete messages straight from the
// wire buffer: pglogrepl's generic parser allocates per column, which
// this hot path avoids.
func (st *stream) handleRow(d []byte, lsn uint64) error {
	kind := d[0]
	if len(d) < 6 {
		return fmt.Errorf("postgres source: short %q message at %s", kind, pglogrepl.LSN(lsn))
	}
	rel, err := st.relation(binary.BigEndian.Uint32(d[1:5]))
	if err != nil {
		return err
	}
	if rel.skip {
		return nil // sluice's snapshot state, or a table not captured
	}
	st.txData = true
	p := d[5:]
	var oldKind byte
	var old, neu sluice.Row
	if (kind == 'U' || kind == 'D') && len(p) > 0 && (p[0] == 'K' || p[0] == 'O') {
		oldKind = p[0]
		if old, p, err = decodeTuple(rel, p[1:], oldKind == 'K'); err != nil {
			return fmt.Errorf("postgres source: %s.%s at %s: %w", rel.table.Schema, rel.table.Name, pglogrepl.LSN(lsn), err)
		}
	}
	if kind != 'D' {
		if len(p) == 0 || p[0] != 'N' {
			return fmt.Errorf("postgres source: %q message at %s has no new tuple", kind, pglogrepl.LSN(lsn))
		}
		if neu, _, err = decodeTuple(rel, p[1:], false); err != nil {
			return fmt.Errorf("postgres source: %s.%s at %s: %w", rel.table.Schema, rel.table.Name, pglogrepl.LSN(lsn), err)
		}
	}
	if rel.signal {
		if kind == 'I' {
			return st.handleSignal(rel, neu)
		}
		return nil // signal rows are requests, not data
	}
	if st.snap != nil {
		st.snap.touched(rel.table, old, neu)
	}
	switch kind {
	case 'I':
		ev := st.newEvent(sluice.OpCreate, rel, lsn)
		ev.After = neu
		return st.emit(ev)
	case 'D':
		ev := st.newEvent(sluice.OpDelete, rel, lsn)
		ev.Before = old
		return st.emit(ev)
	}
	// Update. An unchanged TOASTed column is not sent; the full old row
	// (REPLICA IDENTITY FULL) may still hold its value.
	if oldKind == 'O' {
		for i := range neu {
			if neu[i].Kind == sluice.KindUnchanged && i < len(old) && old[i].Kind == sluice.KindPresent {
				neu[i] = old[i]
			}
		}
	}
	if old != nil && sluice.KeyChanged(rel.table, old, neu) {
		// Debezium's shape of a primary-key change: delete of the old key
		// (carrying the new key) and create of the new (carrying the old).
		del := st.newEvent(sluice.OpDelete, rel, lsn)
		del.Before, del.OtherKey = old, neu
		if err := st.emit(del); err != nil {
			return err
		}
		cre := st.newEvent(sluice.OpCreate, rel, lsn)
		cre.After, cre.OtherKey = neu, old
		return st.emit(cre)
	}
	ev := st.newEvent(sluice.OpUpdate, rel, lsn)
	ev.Before, ev.After = old, neu
	return st.emit(ev)
}

// serverMajor is the server's major version from its server_version
// parameter ("15.14 (Debian …)"), or 0 when unknown.
func serverMajor(c *pgconn.PgConn) int {
	v := c.ParameterStatus("server_version")
	if i := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		v = v[:i]
	}
	n, _ := strconv.Atoi(v)
	return n
}
