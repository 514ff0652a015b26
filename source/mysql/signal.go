package mysql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Signals follow Debezium's signalling. An operator inserts a row into
// the signal table (source.signal_table), which the stream reads in the
// binlog, so the request is handled in order with the changes around it:
//
//	CREATE TABLE shop.sluice_signal (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data TEXT);
//	INSERT INTO shop.sluice_signal VALUES ('ad-hoc-1', 'execute-snapshot',
//	  '{"data-collections": ["shop.orders"], "type": "incremental",
//	    "additional-conditions": [{"data-collection": "shop.orders", "filter": "id > 1000"}]}');
//
// Other channels (a Kafka signal topic, the admin endpoint) hand signals
// to the running source through Signal (sluice.SignalReceiver). The
// signal table's rows are never emitted as changes nor snapshotted.
//
// A malformed or refused signal (unknown type, bad JSON, a table that is
// not captured, a filter that does not parse) is logged and counted,
// never fatal.

var (
	_ sluice.SignalWriter   = (*Source)(nil)
	_ sluice.SignalReceiver = (*Source)(nil)
)

// signalTable is the configured signal table as db.table, "" without one.
func (s *Source) signalTable() string {
	if s.cfg.SignalTable == "" {
		return ""
	}
	db, name, _ := splitTable(s.cfg.SignalTable, s.dsn.DB)
	return db + "." + name
}

// ensureSignalTable creates the signal table when it is configured and
// missing, with Debezium's columns. A user without CREATE gets an error
// naming the statement to run.
func (s *Source) ensureSignalTable(c *client.Conn) error {
	full := s.signalTable()
	if full == "" {
		return nil
	}
	db, name, _ := strings.Cut(full, ".")
	n, err := queryString(c, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, name)
	if err != nil {
		return err
	}
	if n != "0" {
		return nil
	}
	stmt := "CREATE TABLE IF NOT EXISTS " + quoteTable(db, name) + " (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data TEXT)"
	if _, err := c.Execute(stmt); err != nil {
		return sluice.Permanent(fmt.Errorf("mysql source: the signal table %s does not exist and cannot be created (%w): run %s; as a user that may", full, err, stmt))
	}
	s.log.Info("signal table created", zap.String("table", full))
	return nil
}

// checkCaptured refuses a table (db.table) the source does not capture:
// one source.tables does not list or, without a list, one outside the
// DSN's database; and the signal table. Snapshot requests may name only
// captured tables: a signal must not read into the sinks any table
// sluice's user can read.
func (s *Source) checkCaptured(table string) error {
	if sig := s.signalTable(); sig != "" && table == sig {
		return fmt.Errorf("mysql source: %s is the signal table: its rows are requests, not data", table)
	}
	if db, name, _ := strings.Cut(table, "."); !s.listsTable(db, name) {
		return fmt.Errorf("mysql source: %s is not captured: the source captures %s", table, s.capturedDesc())
	}
	return nil
}

// checkRequest checks one table of a snapshot request: a captured
// db.table with a primary key, and a filter of the grammar over its
// columns that the server accepts in the chunk query. It returns the
// table as db.table.
func (s *Source) checkRequest(c *client.Conn, mariadb bool, table, filter string) (string, error) {
	db, name, ok := splitTable(strings.TrimSpace(table), s.dsn.DB)
	if !ok {
		return table, fmt.Errorf("mysql source: %q is not db.table", table)
	}
	full := db + "." + name
	if err := s.checkCaptured(full); err != nil {
		return full, err
	}
	flt, err := parseFilter(filter)
	if err != nil {
		return full, fmt.Errorf("mysql source: snapshot of %s: %w", full, err)
	}
	if c == nil {
		return full, nil
	}
	rel, err := describeTable(c, db, name, mariadb)
	if err != nil {
		return full, err
	}
	if len(rel.table.Columns) == 0 {
		return full, fmt.Errorf("mysql source: snapshot of %s: the table does not exist", full)
	}
	if len(rel.table.Key) == 0 {
		return full, fmt.Errorf("mysql source: snapshot of %s: the table has no primary key, which incremental snapshots need", full)
	}
	if err := flt.bind(rel); err != nil {
		return full, fmt.Errorf("mysql source: snapshot of %s: %w", full, err)
	}
	// The chunk query itself, reading nothing: the filter must resolve
	// and its literals must be values the server takes.
	q := newFilteredChunkQuery(c, rel, db, name, 1, flt)
	defer q.close()
	err = q.read(nil, func([]mysql.FieldValue) error { return nil })
	if err != nil {
		return full, fmt.Errorf("mysql source: snapshot of %s where %q: %w", full, filter, err)
	}
	return full, nil
}

// WriteSignal checks sig as the running source would, then inserts it
// into the signal table, where the running source reads it in the
// binlog: the way to signal a source whose daemon does not answer on
// the admin endpoint. Nothing is written when a check fails. An empty ID
// gets a generated one.
func (s *Source) WriteSignal(ctx context.Context, sig sluice.Signal) error {
	if s.cfg.SignalTable == "" {
		return errors.New("mysql source: no signal_table configured: set source.signal_table to send signals through the database")
	}
	c, err := s.dialConfigured(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	mariadb, err := s.isMariaDB(c)
	if err != nil {
		return err
	}
	p, err := s.checkSignal(c, mariadb, sig)
	if err != nil {
		return err
	}
	if len(p.errs) > 0 {
		return sluice.Refused(errors.Join(p.errs...))
	}
	if err := s.ensureSignalTable(c); err != nil {
		return err
	}
	id := sig.ID
	if id == "" {
		id = sluice.NewSignalID()
	}
	var data any
	if sig.Data != "" {
		data = sig.Data
	}
	db, name, _ := strings.Cut(s.signalTable(), ".")
	if _, err := c.Execute("INSERT INTO "+quoteTable(db, name)+" (id, type, data) VALUES (?, ?, ?)", id, sig.Type, data); err != nil {
		return fmt.Errorf("mysql source: write the signal into %s: %w", s.signalTable(), err)
	}
	return nil
}

// signalPlan is a signal read and checked, ready to be carried out.
type signalPlan struct {
	kind string // execute-snapshot: incremental or blocking
	// execute-snapshot: a job per accepted table, and per refused table
	// a failed job with the reason, also in errs.
	jobs, refused []*incJob
	errs          []error
	tables        []string // stop-snapshot: db.table; none means every job
	message       string   // log
}

// checkSignal reads sig and checks what it says, the tables of an
// execute-snapshot through c, without acting on it. A malformed signal
// or one of an unknown type returns an error wrapping sluice.ErrRefused;
// an error of the connection is returned as is (the signal is offered
// again).
func (s *Source) checkSignal(c *client.Conn, mariadb bool, sig sluice.Signal) (*signalPlan, error) {
	p := &signalPlan{}
	switch sig.Type {
	case sluice.SignalLog:
		msg, err := sluice.ParseLogMessage(sig.Data)
		p.message = msg
		return p, err
	case sluice.SignalPauseSnapshot, sluice.SignalResumeSnapshot:
		return p, nil
	case sluice.SignalStopSnapshot:
		req, err := sluice.ParseSnapshotRequest(sig.Type, sig.Data)
		if err != nil {
			return nil, err
		}
		for _, t := range req.Tables {
			db, name, ok := splitTable(t, s.dsn.DB)
			if !ok {
				return nil, sluice.Refused(fmt.Errorf("mysql source: stop-snapshot: %q is not db.table", t))
			}
			p.tables = append(p.tables, db+"."+name)
		}
		return p, nil
	case sluice.SignalExecuteSnapshot:
		req, err := sluice.ParseSnapshotRequest(sig.Type, sig.Data)
		if err != nil {
			return nil, err
		}
		p.kind = req.Kind
		for _, t := range req.Tables {
			filter := conditionOf(req, t, s.dsn.DB)
			full, err := s.checkRequest(c, mariadb, t, filter)
			switch {
			case err == nil:
				p.jobs = append(p.jobs, &incJob{ID: sig.ID, Table: full, Filter: filter, Blocking: req.Kind == sluice.SnapshotKindBlocking})
			case isConnErr(err):
				return nil, err
			default:
				p.errs = append(p.errs, err)
				p.refused = append(p.refused, &incJob{ID: sig.ID, Table: full, Filter: filter, Failed: true, Error: err.Error()})
			}
		}
		return p, nil
	}
	return nil, sluice.Refused(fmt.Errorf("mysql source: unknown signal type %q", sig.Type))
}

// conditionOf is the filter a request gives table t, whichever way the
// request spells the table (with or without its database, quoted).
func conditionOf(req sluice.SnapshotRequest, t, defDB string) string {
	if f, ok := req.Conditions[t]; ok {
		return f
	}
	db, name, ok := splitTable(t, defDB)
	if !ok {
		return ""
	}
	for k, v := range req.Conditions {
		if d2, n2, ok := splitTable(k, defDB); ok && d2 == db && n2 == name {
			return v
		}
	}
	return ""
}

// Signal implements sluice.SignalReceiver: a signal from another channel
// (the Kafka signal topic, the admin endpoint), checked and acted on as
// one read from the signal table. An accepted execute-snapshot is stored
// in the offset before Signal returns.
func (s *Source) Signal(ctx context.Context, sig sluice.Signal) error {
	in := s.inc.Load()
	if in == nil || !in.streamer.Load() {
		return sluice.ErrNotRunning
	}
	tc := s.tls
	c, err := s.dial(ctx, tc)
	if err != nil {
		return err
	}
	defer c.Close()
	// The channel counts what it hands over; the source counts only its
	// own signal table's signals.
	if err := in.handle(c, sig, ""); err != nil {
		return err
	}
	if in.persist != nil {
		return in.persist(ctx)
	}
	return nil
}

// signalRows handles the rows of a rows event of the signal table: each
// insert is a signal; updates and deletes are ignored.
func (st *stream) signalRows(e *replication.RowsEvent, rel *relation, imgs []sluice.Row) error {
	if e.Type() != replication.EnumRowsEventTypeInsert || st.inc == nil {
		return nil
	}
	t := rel.table
	idx := func(n string) int {
		for i, c := range t.Columns {
			if strings.EqualFold(c.Name, n) {
				return i
			}
		}
		return -1
	}
	id, typ, data := idx("id"), idx("type"), idx("data")
	for _, row := range imgs {
		text := func(k int) string {
			if k < 0 || k >= len(row) {
				return ""
			}
			return string(row[k].Bytes)
		}
		sig := sluice.Signal{ID: text(id), Type: text(typ), Data: text(data)}
		err := st.inc.handle(st.conn, sig, sluice.ChannelSource)
		if err != nil && !errors.Is(err, sluice.ErrRefused) {
			return err
		}
	}
	return nil
}

// handle checks and acts on one signal; c checks snapshot requests
// against the database. A refused signal is logged, counted under
// channel ("": not counted) and returns an error wrapping
// sluice.ErrRefused.
func (in *incremental) handle(c *client.Conn, sig sluice.Signal, channel string) (err error) {
	defer func() {
		if err != nil && !errors.Is(err, sluice.ErrRefused) {
			return // not the signal's fault: not counted, the caller retries
		}
		if channel != "" {
			in.src.signals.Count(channel, sig.Type, err)
		}
		if err != nil {
			in.log.Warn("signal refused", zap.String("id", sig.ID), zap.String("type", sig.Type), zap.Error(err))
		}
	}()
	if in.seen(sig.ID) {
		in.log.Info("signal already handled", zap.String("id", sig.ID), zap.String("type", sig.Type))
		channel = ""
		return nil
	}
	p, err := in.src.checkSignal(c, in.srv.flavor == mysql.MariaDBFlavor, sig)
	if err != nil {
		return err
	}
	switch sig.Type {
	case sluice.SignalLog:
		in.log.Info("signal: "+p.message, zap.String("id", sig.ID))
		in.remember(sig.ID)
	case sluice.SignalPauseSnapshot, sluice.SignalResumeSnapshot:
		pause := sig.Type == sluice.SignalPauseSnapshot
		in.mu.Lock()
		in.st.Paused = pause
		in.paused.Store(pause)
		in.rememberLocked(sig.ID)
		in.changedLocked()
		in.mu.Unlock()
		in.log.Info("incremental snapshots "+map[bool]string{true: "paused", false: "resumed"}[pause], zap.String("id", sig.ID))
		if !pause {
			in.blocking.Store(true) // the stream looks for blocking jobs
			in.wakeStream()
		}
		in.poke()
	case sluice.SignalStopSnapshot:
		n := in.stop(p.tables, sig.ID)
		in.log.Info("incremental snapshots stopped", zap.String("id", sig.ID), zap.Strings("tables", p.tables), zap.Int("jobs", n))
	case sluice.SignalExecuteSnapshot:
		return in.execute(sig, p, channel == sluice.ChannelSource)
	}
	return nil
}

// execute queues the jobs of a checked execute-snapshot. Through another
// channel the request is refused as a whole when one of its tables is
// (nothing changes, the caller learns why). Read from the signal table
// (partial), whose writer learns nothing, the tables that pass are
// queued and each refused one is kept as a failed job, which the metrics
// show; the signal counts as refused when no table passed.
func (in *incremental) execute(sig sluice.Signal, p *signalPlan, partial bool) error {
	jobs, refused, errs := p.jobs, p.refused, p.errs
	in.mu.Lock()
	for _, j := range jobs {
		for _, o := range in.st.Jobs {
			if o.active() && !o.stopped && o.Table == j.Table {
				err := fmt.Errorf("mysql source: an incremental snapshot of %s is already queued or running (signal %s): stop it first", j.Table, o.ID)
				errs = append(errs, err)
				j.Failed, j.Error = true, err.Error()
			}
		}
	}
	if len(errs) > 0 && !partial {
		in.mu.Unlock()
		in.src.incTotals.failures.Add(int64(len(errs)))
		return sluice.Refused(errors.Join(errs...))
	}
	var queued []*incJob
	for _, j := range jobs {
		if j.Failed {
			refused = append(refused, j)
		} else {
			queued = append(queued, j)
		}
	}
	in.st.Jobs = append(in.st.Jobs, queued...)
	in.st.Jobs = append(in.st.Jobs, refused...)
	in.queued.Add(int64(len(queued)))
	in.src.incTotals.failures.Add(int64(len(refused)))
	in.trimLocked()
	in.rememberLocked(sig.ID)
	in.changedLocked()
	in.mu.Unlock()
	names := make([]string, len(queued))
	for i, j := range queued {
		names[i] = j.Table
	}
	if len(queued) > 0 {
		in.log.Info(p.kind+" snapshot requested", zap.String("id", sig.ID), zap.Strings("tables", names))
		if p.kind == sluice.SnapshotKindBlocking {
			in.blocking.Store(true)
			in.wakeStream()
		} else {
			in.poke()
		}
	}
	if len(queued) == 0 {
		return sluice.Refused(errors.Join(errs...))
	}
	for _, err := range errs {
		in.log.Warn("incremental snapshot of table refused", zap.String("id", sig.ID), zap.Error(err))
	}
	return nil
}

// isConnErr reports an error of the connection rather than of the
// request: the request is then not refused but tried again.
func isConnErr(err error) bool {
	var ne net.Error
	return errors.Is(err, mysql.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// stop removes the active jobs of tables (every table when none is
// named) from the state and returns how many.
func (in *incremental) stop(tables []string, id string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	keep := in.st.Jobs[:0]
	for _, j := range in.st.Jobs {
		if j.active() && (len(tables) == 0 || slices.Contains(tables, j.Table)) {
			j.stopped = true
			if j.running {
				j.running = false
				in.running.Add(-1)
			} else {
				in.queued.Add(-1)
			}
			n++
			continue
		}
		keep = append(keep, j)
	}
	clear(in.st.Jobs[len(keep):])
	in.st.Jobs = keep
	in.rememberLocked(id)
	in.changedLocked()
	return n
}

// seen reports whether the signal id was acted on already (a signal
// read again from the binlog after a restart).
func (in *incremental) seen(id string) bool {
	if id == "" {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Contains(in.st.Signals, id)
}

func (in *incremental) remember(id string) {
	in.mu.Lock()
	in.rememberLocked(id)
	in.changedLocked()
	in.mu.Unlock()
}

// rememberLocked records id among the latest signals; in.mu is held.
func (in *incremental) rememberLocked(id string) {
	if id == "" {
		return
	}
	in.st.Signals = append(in.st.Signals, id)
	if n := len(in.st.Signals) - maxSeenSignals; n > 0 {
		in.st.Signals = slices.Delete(in.st.Signals, 0, n)
	}
}
