package mysql

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/secret"
	"github.com/sluice-cdc/sluice/source"
)

func init() { source.Register("mysql", New, Config{}) }

// Source reads one MySQL or MariaDB server's binlog.
type Source struct {
	cfg      Config
	dsn      dsn
	log      *zap.Logger
	pipeline string
	stateDir string
	// tls is the client TLS configuration (nil: plaintext), read from
	// the tls block's files at the start of every Run.
	tls *tls.Config

	// confirmation is the last mark the pipeline delivered, its Resume
	// token and TxLSN: the offset saver writes it to the store. durable
	// is the TxLSN of the one last written to the offset store.
	confirmation atomic.Pointer[confirmation]
	durable      atomic.Uint64

	// streaming is true while the binlog dump runs: changes committed
	// from then on are read.
	streaming atomic.Bool

	// progress mirrors the snapshot's tables for SnapshotProgress; the
	// snapshot goroutine owns the offset it is copied from.
	progressMu sync.Mutex
	progress   []sluice.TableSnapshot

	// runStart is the Resume token of where the current run started (the
	// stored offset, or the stream's start), the needed position until
	// the pipeline confirms one; binlogRet is the binlog watcher's last
	// reading (retention.go).
	runStart atomic.Pointer[string]
	// seek is the position an exactly-once sink committed (SeekAfter),
	// taken by the next Run (seek.go).
	seek      atomic.Pointer[sluice.Position]
	binlogRet binlogRetention

	// snapStructs are the table structures the run's snapshot read, for
	// its stream (takeSnapStructs).
	snapStructs structures

	// signals counts the signal table's signals; inc runs the current
	// run's incremental snapshots (nil between runs), incTotals count
	// them since the source was built, and incHooks are tests' (nil).
	signals   *sluice.SignalCounter
	inc       atomic.Pointer[incremental]
	incTotals incTotals
	// chunkSeq numbers chunk marks across runs, so that a late
	// confirmation of an earlier run's mark never matches a chunk of a
	// later one (window.go).
	chunkSeq atomic.Uint64
	incHooks *incHooks
}

var (
	_ source.Source           = (*Source)(nil)
	_ sluice.SnapshotReporter = (*Source)(nil)

	_ sluice.BinlogRetentionReporter = (*Source)(nil)
)

// New builds a source from its decoded configuration (defaults filled in):
// it derives the server_id from the pipeline's name when the file leaves it
// out, and validates. It does no I/O.
func New(cfg Config, env source.Env) (*Source, error) {
	pw, pwErr := secret.Resolve(cfg.Password, cfg.PasswordFile, "password")
	if pwErr != nil {
		return nil, fmt.Errorf("%s.%w", env.Path, pwErr)
	}
	cfg.Password, cfg.PasswordFile = pw, ""
	if cfg.ServerID == 0 {
		cfg.ServerID = defaultServerID(env.Pipeline)
	}
	if err := cfg.validate(env.Path); err != nil {
		return nil, err
	}
	cfg.Tables = source.Listed(cfg.Tables) // nil: every table of the DSN's database
	d, err := parseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("%s.dsn: %v", env.Path, err)
	}
	if cfg.Password != "" {
		d.Password = string(cfg.Password)
	}
	return &Source{cfg: cfg, dsn: d, log: env.Logger.With(zap.String("server", d.addr())), pipeline: env.Pipeline, stateDir: env.StateDir,
		signals: env.Signals}, nil
}

// Connector implements source.Source: "mariadb" when flavor is
// mariadb, as Debezium's MariaDB connector names itself in
// source.connector and in its Connect schema names (the codec also writes
// MariaDB's JSON, a LONGTEXT, as a plain string for it); "mysql"
// otherwise. The encoder is built before any connection, so a detected
// flavor comes too late: Run warns when the server is MariaDB and the
// flavor was left to detection.
func (s *Source) Connector() string {
	if s.cfg.Flavor == mysql.MariaDBFlavor {
		return "mariadb"
	}
	return "mysql"
}

// Database implements source.Source.
func (s *Source) Database() string { return s.dsn.DB }

// DrainTimeout implements source.Source.
func (s *Source) DrainTimeout() time.Duration { return s.cfg.DrainTimeout }

// Confirm implements sluice.Source: pos is a mark this source emitted;
// the runner confirms marks in the order they were emitted.
func (s *Source) Confirm(pos sluice.Position) {
	if in := s.inc.Load(); in != nil {
		in.confirm(pos) // before the offset saver can see the position
	}
	s.confirmation.Store(&confirmation{resume: pos.Resume, tx: pos.TxLSN})
}

// confirmed is the Resume token of the last mark the pipeline delivered;
// nil before one.
func (s *Source) confirmed() *string {
	if c := s.confirmation.Load(); c != nil {
		return &c.resume
	}
	return nil
}

// confirmation is a confirmed position with its TxLSN, which the offset
// writer reports as durable once it stored it.
type confirmation struct {
	resume string
	tx     uint64
}

// Durable reports the TxLSN of the last confirmed position the offset
// store holds, where a restart resumes (sluice.DurableReporter); 0 until
// this process stored one.
func (s *Source) Durable() uint64 { return s.durable.Load() }

// Run implements sluice.Source: it checks the server, takes or resumes
// the initial snapshot when the mode asks for it, then streams the binlog
// from the stored position until ctx ends. A stop before the snapshot
// or the stream begins is a clean stop (source.Startup).
func (s *Source) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	var up source.Startup
	return up.Result(ctx, s.run(ctx, emit, &up))
}

// run is Run; it marks the end of the start-up in up.
func (s *Source) run(ctx context.Context, emit func(*sluice.Event) error, up *source.Startup) error {
	tc, err := s.cfg.TLS.config(s.dsn.Host)
	if err != nil {
		return sluice.Permanent(fmt.Errorf("mysql source: %w", err))
	}
	s.tls = tc
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	srv, err := s.checkServer(conn)
	if err != nil {
		return err
	}
	if srv.flavor == mysql.MariaDBFlavor && s.cfg.Flavor == "" {
		s.log.Warn("the server is MariaDB but source.flavor is not set: events name the mysql connector (source.connector, " +
			"io.debezium.connector.mysql.* schemas); set flavor: mariadb for what Debezium's MariaDB connector writes")
	}
	if err := s.ensureSignalTable(conn); err != nil {
		return err
	}
	tables, err := s.resolveTables(conn)
	if err != nil {
		return err
	}
	base, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	defer base.Close()
	off, err := base.Load(ctx)
	if err != nil {
		return fmt.Errorf("mysql source: %w", err)
	}
	identity := "mysql:" + srv.uuid
	if srv.uuid == "" { // MariaDB has no server_uuid
		identity = fmt.Sprintf("mariadb:%d", srv.serverID)
	}
	epoch := source.Epoch(identity, s.cfg.Epoch)
	if off == nil || off.sameServer(srv) {
		if off, err = s.seekOffset(ctx, base, off, srv, epoch); err != nil {
			return err
		}
	} else {
		s.seek.Store(nil) // of the other server: see below
	}
	mode := s.cfg.Snapshot.Mode
	var incState *incrementalState
	if off != nil {
		if err := sameServer(off, srv, mode); err != nil {
			return err
		}
		if off.sameServer(srv) {
			incState = off.Incremental
		}
		if !off.sameServer(srv) { // when_needed
			s.log.Warn("stored offset was written for another server; taking a new snapshot (snapshot.mode when_needed)",
				zap.Uint32("stored_server_id", off.ServerID), zap.Uint32("server_id", srv.serverID), zap.String("stored_server_uuid", off.ServerUUID), zap.String("server_uuid", srv.uuid))
			off = nil
		}
	}
	if mode == "initial_only" && off != nil && off.SnapshotDone && off.Snapshot == nil {
		s.log.Info("initial snapshot already done; nothing to do (snapshot.mode initial_only)")
		return sluice.ErrDone
	}
	snap := off != nil && off.Snapshot != nil // resume an interrupted snapshot
	if !snap {
		switch mode {
		case "initial", "initial_only":
			snap = off == nil || mode == "initial_only" && !off.SnapshotDone
		case "when_needed":
			snap = off == nil
		case "always":
			snap = true
		}
	}
	if off != nil && !snap {
		ok, err := positionAvailable(conn, off.File)
		if err != nil {
			return err
		}
		if !ok {
			if mode != "when_needed" {
				return sluice.Permanent(fmt.Errorf("mysql source: stored binlog file %s is no longer on the server (purged): "+
					"set snapshot.mode to when_needed to take a new snapshot, or delete the stored offset", off.File))
			}
			s.log.Warn("stored binlog position purged; taking a new snapshot (snapshot.mode when_needed)", zap.String("file", off.File))
			snap, off = true, nil
		}
	}

	inc := newIncremental(s, srv, incState)
	store := &incStore{offsetStore: base, in: inc}
	if off != nil {
		last := *off
		last.Incremental = nil
		store.last, store.version = &last, inc.version
	}
	inc.persist = store.resave
	// Tables that joined since the last start are snapshotted while the
	// stream goes on (newtables.go); the state is stored before the
	// stream starts, so a crash decides the same way again.
	inc.followTables(tables, !snap && off != nil && mode != "never" && s.cfg.Snapshot.NewTables == "incremental")
	if off != nil {
		if err := store.resave(ctx); err != nil {
			return fmt.Errorf("mysql source: %w", err)
		}
	}
	s.inc.Store(inc)
	defer s.inc.CompareAndSwap(inc, nil)

	// The offset saver fails the run (runCtx) when it cannot store the
	// offset for offsetGiveUp.
	runCtx, failRun := context.WithCancelCause(ctx)
	defer failRun(nil)
	if off != nil {
		r := position{file: off.File, pos: off.Pos}.resume()
		s.runStart.Store(&r)
	}
	watchCtx, stopWatch := context.WithCancel(runCtx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		s.watchBinlog(watchCtx, srv)
	}()
	defer func() {
		stopWatch()
		<-watchDone
	}()
	failed := func() error {
		if ctx.Err() == nil {
			return context.Cause(runCtx)
		}
		return nil
	}
	emit = source.WithEpoch(emit, epoch)
	w := &writer{src: s, srv: srv, emit: emit, stopClock: source.NewStopClock(ctx)}
	defer w.stopClock.Close()
	if off != nil {
		w.snapshotDone.Store(off.SnapshotDone)
	}
	saverDone := make(chan struct{})
	saverCtx, stopSaver := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(saverDone)
		w.saveLoop(saverCtx, store, failRun)
	}()
	defer func() {
		stopSaver()
		<-saverDone
		// Whatever ended the run, what the sinks acknowledged is safe to
		// store (a kill -9 is the only exit that skips this).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.save(ctx, store); err != nil {
			s.log.Warn("final offset write failed; the next start replays from the previous one", zap.Error(err))
		} else if o, err := w.offsetOf(w.saved); err == nil {
			s.log.Info("stopped", zap.String("file", o.File), zap.Uint32("pos", o.Pos), zap.String("gtids", o.GTIDs))
		}
	}()

	var start position
	if snap {
		up.Over()
		start, err = s.snapshot(runCtx, srv, tables, off, w, store)
		if err != nil {
			if runCtx.Err() != nil {
				if err := failed(); err != nil {
					return err
				}
				w.drain()
				return nil
			}
			return err
		}
		if mode == "initial_only" {
			s.log.Info("initial snapshot done; stopping (snapshot.mode initial_only)")
			w.drain()
			return sluice.ErrDone
		}
	} else if off != nil {
		start, err = offsetPosition(srv, off)
		if err != nil {
			return err
		}
	} else {
		start, err = currentPosition(conn, srv)
		if err != nil {
			return err
		}
		// Store the starting point now: a crash before the first
		// acknowledgement must resume here, not at a later binlog end.
		o := &offset{Version: 1, ServerID: srv.serverID, ServerUUID: srv.uuid, File: start.file, Pos: start.pos, GTIDs: gtidString(start.gtids), SnapshotDone: w.snapshotDone.Load()}
		if err := store.Save(ctx, o); err != nil {
			return fmt.Errorf("mysql source: %w", err)
		}
	}
	sy, bs, err := s.syncer(srv, start)
	if err != nil {
		return err
	}
	defer closeSyncer(sy, s.log)
	s.log.Info("streaming", zap.String("file", start.file), zap.Uint32("pos", start.pos), zap.String("gtids", gtidString(start.gtids)))
	startResume := start.resume()
	if s.confirmed() == nil {
		s.runStart.Store(&startResume)
	}
	st := newStream(s, srv, conn, tables, start, w.emitEvent)
	st.lastMark, st.lastResume = lsn(start.file, start.pos), startResume
	st.end, st.inc, st.signal = st.lastMark, inc, s.signalTable()
	// The snapshot worker reads chunks while the stream runs; its failure
	// (not a job's own: that fails the job) ends the run.
	workCtx, stopWork := context.WithCancel(runCtx)
	workDone := make(chan struct{})
	go func() {
		defer close(workDone)
		if err := inc.work(workCtx); err != nil && workCtx.Err() == nil {
			failRun(err)
		}
	}()
	defer func() {
		stopWork()
		<-workDone
	}()
	up.Over()
	s.streaming.Store(true)
	inc.streamer.Store(true)
	defer func() {
		inc.streamer.Store(false)
		s.streaming.Store(false)
	}()
	if err := st.run(runCtx, bs); err != nil {
		if err := failed(); err != nil {
			return err
		}
		return err
	}
	if err := failed(); err != nil {
		return err
	}
	w.drain()
	return nil
}

// sameServer refuses an offset stored for another server (another
// server_id, or another server_uuid where MySQL has one) unless
// snapshot.mode is when_needed, which then takes a new snapshot: its
// binlog file, position and GTIDs name places in another server's
// binlog, and streaming from them would skip or repeat changes silently.
// Offsets stored before sluice recorded the server have nothing to
// compare and are taken.
func sameServer(off *offset, srv *server, mode string) error {
	if off.sameServer(srv) || mode == "when_needed" {
		return nil
	}
	stored, here := fmt.Sprintf("server_id %d", off.ServerID), fmt.Sprintf("server_id %d", srv.serverID)
	if off.ServerID == srv.serverID {
		stored, here = "server_uuid "+off.ServerUUID, "server_uuid "+srv.uuid
	}
	return sluice.Permanent(fmt.Errorf("mysql source: the stored offset (binlog %s:%d) was written for %s, but this server has %s: "+
		"point the DSN at the server the offset belongs to; or, to start over on this one, delete the stored offset "+
		"or set snapshot.mode to when_needed (either takes a new snapshot). "+
		"A replica promoted in a failover is another server: its binlog positions differ", off.File, off.Pos, stored, here))
}

// SnapshotProgress reports the tables of this process's snapshot (nil
// when none ran), for the daemon's metrics.
func (s *Source) SnapshotProgress() []sluice.TableSnapshot {
	s.progressMu.Lock()
	out := append([]sluice.TableSnapshot(nil), s.progress...)
	s.progressMu.Unlock()
	if in := s.inc.Load(); in != nil {
		out = append(out, in.progress()...)
	}
	return out
}

// setProgress updates table i of the snapshot's progress with f.
func (s *Source) setProgress(i int, f func(*sluice.TableSnapshot)) {
	s.progressMu.Lock()
	defer s.progressMu.Unlock()
	if i >= 0 && i < len(s.progress) {
		f(&s.progress[i])
	}
}

// connect opens a query connection, over TLS when configured, with the
// session settings the value parsers rely on: UTF-8 results and
// TIMESTAMPs in UTC.
func (s *Source) connect(ctx context.Context) (*client.Conn, error) { return s.dial(ctx, s.tls) }

// dialConfigured opens a connection outside Run (a CLI verb, another
// goroutine): TLS comes from the configuration, not from s.tls, which
// Run sets and may not have set yet.
func (s *Source) dialConfigured(ctx context.Context) (*client.Conn, error) {
	tc, err := s.cfg.TLS.config(s.dsn.Host)
	if err != nil {
		return nil, fmt.Errorf("mysql source: %w", err)
	}
	return s.dial(ctx, tc)
}

// dial is connect with the TLS configuration tc (nil: plaintext), for
// callers that run outside Run (ReadTable), where s.tls is not set yet or
// is being set concurrently.
func (s *Source) dial(ctx context.Context, tc *tls.Config) (*client.Conn, error) {
	c, err := client.ConnectWithContext(ctx, s.dsn.addr(), s.dsn.User, s.dsn.Password, s.dsn.DB, 10*time.Second,
		func(c *client.Conn) error {
			if tc != nil {
				c.SetTLSConfig(tc)
			}
			return nil
		})
	if err != nil {
		return nil, classifyConnectError(fmt.Sprintf("connect to %s as %s", s.dsn.addr(), s.dsn.User), err)
	}
	for _, q := range []string{"SET NAMES utf8mb4", "SET time_zone = '+00:00'"} {
		if _, err := c.Execute(q); err != nil {
			c.Close()
			return nil, fmt.Errorf("mysql source: %s: %w", q, err)
		}
	}
	return c, nil
}

// queryString runs a query for one value: the first column of the first
// row as text, "" without rows.
func queryString(c *client.Conn, q string, args ...any) (string, error) {
	r, err := c.Execute(q, args...)
	if err != nil {
		return "", fmt.Errorf("mysql source: %s: %w", q, err)
	}
	if r.RowNumber() == 0 {
		return "", nil
	}
	v, err := r.GetString(0, 0)
	if err != nil {
		return "", fmt.Errorf("mysql source: %s: %w", q, err)
	}
	return v, nil
}

// quoteIdent quotes a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// quoteTable quotes db.name.
func quoteTable(db, name string) string { return quoteIdent(db) + "." + quoteIdent(name) }
