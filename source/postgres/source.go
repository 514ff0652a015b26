package postgres

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/secret"
	"github.com/sluice-cdc/sluice/source"
)

func init() { source.Register("postgres", New, Config{}) }

// Source reads one database through one replication slot.
type Source struct {
	cfg      Config
	log      *zap.Logger
	pipeline string
	stateDir string
	connCf   *pgconn.Config // parsed DSN with the password applied

	cat  catalog                     // type descriptions, shared by the stream and snapshot workers
	snap atomic.Pointer[snapshotter] // the running snapshotter, for SnapshotProgress

	// confirmed is the highest position the pipeline has delivered; the
	// stream loop reports it to the server as the flush LSN.
	confirmed atomic.Uint64
	// seek is the position an exactly-once sink committed (SeekAfter),
	// taken by the next Run.
	seek atomic.Pointer[sluice.Position]
	// durable is the newest confirmed position the server's slot was
	// sent (a standby status update), or the slot's own at the start:
	// where a restart resumes (sluice.DurableReporter).
	durable atomic.Uint64

	plainOnce sync.Once // the plaintext warning is logged once
	ret       retention // the slot's WAL retention (retention.go)

	hooks *chunkHooks // given to the snapshotter; tests only

	jobTotals jobTotals // incremental snapshot jobs since the source was built (jobstats.go)

	signals *sluice.SignalCounter // counts the signal table's signals (signal_apply.go); nil counts nothing

	tableHooks *tableHooks // tests only

	standby atomic.Bool // the server of the current run is a standby (standby.go)
}

var (
	_ source.Source            = (*Source)(nil)
	_ sluice.SnapshotReporter  = (*Source)(nil)
	_ sluice.RetentionReporter = (*Source)(nil)
)

// New builds a source from its decoded configuration (defaults filled in):
// it derives the slot and publication names from the pipeline's when the
// file leaves them out, reads password_file, and validates. It does no
// network I/O.
func New(cfg Config, env source.Env) (*Source, error) {
	pw, pwErr := secret.Resolve(cfg.Password, cfg.PasswordFile, "password")
	if pwErr != nil {
		return nil, fmt.Errorf("%s.%w", env.Path, pwErr)
	}
	cfg.Password, cfg.PasswordFile = pw, ""
	if cfg.Slot == "" {
		cfg.Slot = defaultName(env.Pipeline)
	}
	if cfg.Publication == "" {
		cfg.Publication = defaultName(env.Pipeline)
	}
	if err := cfg.validate(env.Path); err != nil {
		return nil, err
	}
	cfg.Tables = source.Listed(cfg.Tables) // nil: every table
	cc, err := pgconn.ParseConfig(withTLSDefaults(cfg.DSN))
	if err != nil {
		return nil, fmt.Errorf("%s.dsn: %s", env.Path, redactDSNError(err))
	}
	if cfg.Password != "" {
		cc.Password = string(cfg.Password)
	}
	// The text forms the decoder parses depend on these session settings;
	// fix them instead of inheriting the server's or the role's defaults.
	for k, v := range map[string]string{
		"application_name":   "sluice",
		"timezone":           "UTC",
		"datestyle":          "ISO, MDY",
		"intervalstyle":      "postgres",
		"extra_float_digits": "3",
		"bytea_output":       "hex",
		"lc_monetary":        "C",
	} {
		cc.RuntimeParams[k] = v
	}
	return &Source{cfg: cfg, log: env.Logger.With(zap.String("slot", cfg.Slot)), connCf: cc, pipeline: env.Pipeline, stateDir: env.StateDir, signals: env.Signals}, nil
}

// Connector implements source.Source.
func (s *Source) Connector() string { return "postgresql" }

// Database implements source.Source.
func (s *Source) Database() string { return s.connCf.Database }

// DrainTimeout implements source.Source.
func (s *Source) DrainTimeout() time.Duration { return s.cfg.DrainTimeout }

// Confirm implements sluice.Source: pos is a mark this source emitted.
func (s *Source) Confirm(pos sluice.Position) {
	s.confirmBlocking(pos) // a blocking snapshot chunk's acknowledgement (blocking.go)
	for {
		cur := s.confirmed.Load()
		if pos.TxLSN <= cur || s.confirmed.CompareAndSwap(cur, pos.TxLSN) {
			return
		}
	}
}

// Durable reports the TxLSN a restart resumes after: the slot's
// confirmed position as last sent to the server. A crash of the server
// itself can take the slot back to its last checkpoint.
func (s *Source) Durable() uint64 { return s.durable.Load() }

// Run implements sluice.Source. A stop during the start-up, before the
// stream begins, is a clean stop (source.Startup).
func (s *Source) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	var up source.Startup
	return up.Result(ctx, s.run(ctx, emit, &up))
}

// run is Run; the stream marks the end of the start-up in up.
func (s *Source) run(ctx context.Context, emit func(*sluice.Event) error, up *source.Startup) error {
	conn, err := s.connect(ctx, false)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	if err := s.checkServer(ctx, conn); err != nil {
		return err
	}
	if err := s.checkStandby(ctx, conn); err != nil {
		return err
	}
	if err := s.ensureSignalTable(ctx, conn); err != nil {
		return err
	}
	captured, pub, err := s.openCaptured(ctx, conn)
	if err != nil {
		return err
	}
	keep, st, known, err := s.openState(ctx)
	if err != nil {
		return err
	}
	defer keep.close()
	exists, err := s.slotExists(ctx, conn)
	if err != nil {
		return err
	}
	if exists && !known {
		if err := s.stateUnknown(keep); err != nil {
			return err
		}
	}
	if err := s.planSnapshot(ctx, conn, keep, st, exists, known, captured); err != nil {
		return err
	}
	// The jobs of the tables that joined are saved before the publication
	// changes (tables_publication.go).
	if err := s.planTables(ctx, keep, st, pub, captured); err != nil {
		return err
	}
	if err := s.tableHook(func(h *tableHooks) func() error { return h.afterPlan }); err != nil {
		return err
	}
	if err := s.syncPublication(ctx, conn, pub, captured); err != nil {
		return err
	}
	if err := s.tableHook(func(h *tableHooks) func() error { return h.afterSync }); err != nil {
		return err
	}
	if s.cfg.Snapshot.Mode == "initial_only" && st.InitialDone && !st.pending() {
		s.log.Info("initial snapshot already done; nothing to do (snapshot.mode initial_only)")
		return sluice.ErrDone
	}
	repl, err := s.connect(ctx, true)
	if err != nil {
		return err
	}
	defer repl.Close(context.WithoutCancel(ctx))

	start, err := s.ensureSlot(ctx, conn, repl.PgConn())
	if err != nil {
		return err
	}
	// The slot watcher and the heartbeat run beside the stream, each on
	// a connection of its own, and end with it.
	sideCtx, stopSide := context.WithCancel(ctx)
	var side sync.WaitGroup
	side.Go(func() { s.watchRetention(sideCtx) })
	side.Go(func() { s.heartbeat(sideCtx) })
	defer func() { stopSide(); side.Wait() }()
	sys, err := pglogrepl.IdentifySystem(ctx, repl.PgConn())
	if err != nil {
		return fmt.Errorf("postgres source: identify system: %w", err)
	}
	epoch := source.Epoch(fmt.Sprintf("postgresql:%s:%d", sys.SystemID, sys.Timeline), s.cfg.Epoch)
	emit = source.WithEpoch(emit, epoch)
	start = s.seekStart(start, epoch)
	stream := newStream(s, conn, repl.PgConn(), emit)
	stream.startup = up
	// Always: signals may also come from a Kafka topic or the admin
	// endpoint. Idle, it costs an atomic load per decoded row and an
	// append per decoded transaction (the xids a chunk's visibility check
	// needs, pruned every pruneEvery with one query).
	stream.snap = newSnapshotter(s, st, keep)
	s.snap.Store(stream.snap)
	defer s.snap.Store(nil)
	return stream.run(ctx, start)
}

// SnapshotProgress reports the tables of the snapshot in progress (none
// when no snapshot runs), for logs and metrics.
func (s *Source) SnapshotProgress() []sluice.TableSnapshot {
	if sn := s.snap.Load(); sn != nil {
		return sn.progress()
	}
	return nil
}

// planSnapshot decides, before the slot exists, whether this start
// snapshots the tables, and records the decision in the state store
// first, so a crash right after creating the slot cannot skip the
// snapshot. A state not known before (known false) is recorded even when
// there is nothing to snapshot: a slot with a recorded state is one whose
// progress is known (state.go).
func (s *Source) planSnapshot(ctx context.Context, conn *pgx.Conn, keep *stateKeeper, st *state, slotExists, known bool, captured []string) error {
	if st.pending() {
		return nil // resume the snapshot a previous run started
	}
	var need bool
	switch s.cfg.Snapshot.Mode {
	case "initial":
		need = !slotExists && !st.InitialDone
	case "initial_only":
		need = !st.InitialDone
	case "when_needed":
		need = !slotExists
	case "always":
		need = true
	}
	if !need {
		if known {
			return nil
		}
		return keep.save(ctx, st)
	}
	tables, err := s.snapshotTables(ctx, conn, captured)
	if err != nil {
		return err
	}
	for _, t := range tables {
		st.Jobs = append(st.Jobs, &snapshotJob{Table: t})
	}
	s.log.Info("planned snapshot", zap.String("mode", s.cfg.Snapshot.Mode), zap.Strings("tables", tables))
	return keep.save(ctx, st)
}

// snapshotTables lists the captured tables: those source.tables names
// and matches (captured, from expandTables), or every table of the
// publication.
func (s *Source) snapshotTables(ctx context.Context, conn *pgx.Conn, captured []string) ([]string, error) {
	if captured != nil {
		return captured, nil
	}
	var out []string
	rows, err := conn.Query(ctx, "SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2", s.cfg.Publication)
	if err != nil {
		return nil, fmt.Errorf("postgres source: list tables of publication %s: %w", s.cfg.Publication, err)
	}
	for rows.Next() {
		var schema, name string
		if err := rows.Scan(&schema, &name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres source: list tables of publication %s: %w", s.cfg.Publication, err)
		}
		if t := tableName(schema, name); !s.isSignalTable(t) && !s.isStateTable(t) {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

// tableHook runs the test hook pick returns, if any.
func (s *Source) tableHook(pick func(*tableHooks) func() error) error {
	if s.tableHooks == nil {
		return nil
	}
	if f := pick(s.tableHooks); f != nil {
		return f()
	}
	return nil
}

// connect opens a normal or a replication connection.
func (s *Source) connect(ctx context.Context, replication bool) (*pgx.Conn, error) {
	cc := s.connCf.Copy()
	if replication {
		cc.RuntimeParams["replication"] = "database"
		dial := cc.DialFunc
		cc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return newPacedConn(c), nil
		}
	}
	pcfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	pcfg.Config = *cc
	if replication {
		// A replication connection speaks the simple protocol only.
		pcfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	}
	conn, err := pgx.ConnectConfig(ctx, pcfg)
	if err != nil {
		return nil, classifyConnectError(err, cc, replication)
	}
	s.warnPlaintext(conn)
	return conn, nil
}
