package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/internal/secret"
	"github.com/sluice-cdc/sluice/source"
)

// Config is the `source:` block of a pipeline with `type: postgres`.
type Config struct {
	// Type is "postgres".
	Type string `yaml:"type"`
	// DSN is a libpq connection URL or key=value string (required), e.g.
	// postgres://sluice@127.0.0.1:5432/shop. Debezium: database.hostname,
	// database.port, database.user, database.dbname.
	DSN string `yaml:"dsn"`
	// Password overrides the DSN's password, so the secret can come from
	// ${VAR}, SLUICE_PIPELINES_<NAME>_SOURCE_PASSWORD or, with
	// PasswordFile, a mounted secret file instead of the file.
	Password     secret.Secret `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
	// Slot is the logical replication slot (default sluice_<pipeline>).
	// Debezium: slot.name.
	Slot string `yaml:"slot"`
	// Publication is the pgoutput publication (default sluice_<pipeline>),
	// created when missing. Debezium: publication.name.
	Publication string `yaml:"publication"`
	// Tables lists the captured tables as schema.table or as patterns
	// over schema.table (shell-style globs such as public.* or
	// sales.order_?: tables_pattern.go), or is `all` (the default when
	// left out): every table, via a FOR ALL TABLES publication. An empty
	// list is an error. At every start the publication sluice manages is
	// made to hold exactly the listed and matched tables, and a table
	// that joined is snapshotted as snapshot.new_tables says
	// (tables_publication.go). Debezium: table.include.list.
	Tables []string `yaml:"tables"`
	// Messages captures pg_logical_emit_message() messages as op "m"
	// events (default true).
	Messages bool `yaml:"messages"`
	// Streaming has PostgreSQL 14+ send large transactions while they
	// run (pgoutput protocol 2) instead of spilling them on the server
	// and sending them after their commit; sluice spools them to
	// unlinked files under state_dir/spool and emits their events at the
	// commit, as without it (default true; older servers ignore it).
	Streaming bool `yaml:"streaming"`
	// Failover creates the slot as a failover slot (PostgreSQL 17+,
	// default false): a standby with sync_replication_slots = on keeps a
	// copy of it, so after a switch-over to that standby sluice resumes
	// from the copy, without a new snapshot. An existing slot is altered
	// to match at each start. failover.go.
	Failover bool `yaml:"failover"`
	// StatusInterval is how often a standby status update is sent even
	// when nothing changed (default 10s, 100ms to 10m); it must stay well
	// below the server's wal_sender_timeout. Debezium:
	// status.update.interval.ms.
	StatusInterval time.Duration `yaml:"status_interval"`
	// DrainTimeout bounds how long a shutdown waits for the sinks to
	// acknowledge what was read before the final confirmation (default
	// 30s, 100ms to 24h).
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// HeartbeatInterval, when set, runs HeartbeatActionQuery on the source
	// that often (default 0: off). Debezium: heartbeat.interval.ms.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// HeartbeatActionQuery is a statement run at each heartbeat, e.g. an
	// UPDATE of a one-row table in the publication: it makes the slot's
	// database write WAL, so the slot can confirm and release WAL when
	// other databases of the server write and this one does not.
	// Debezium: heartbeat.action.query.
	HeartbeatActionQuery string `yaml:"heartbeat_action_query"`
	// HeartbeatRecords emits a heartbeat record (sluice.OpHeartbeat) every
	// heartbeat_interval, idle or busy, at the first transaction boundary
	// after the interval passed: the Kafka sink writes it to
	// "<topic_prefix>.heartbeat" with the LSN it confirms, other sinks
	// skip it (default false; needs heartbeat_interval, the action query
	// is then optional). It is what Debezium's heartbeat.interval.ms
	// writes to its heartbeat topic; consumers see the pipeline alive
	// while the captured tables are quiet.
	HeartbeatRecords bool `yaml:"heartbeat_records"`
	// SlotCheckInterval is how often the WAL the slot retains is read for
	// the metrics and the warning (default 10s, 1s to 1h).
	SlotCheckInterval time.Duration `yaml:"slot_check_interval"`
	// WALWarnBytes logs a warning (and sets sluice_slot_wal_over_threshold)
	// when the slot retains more WAL than this (default 10 GiB; 0: never).
	WALWarnBytes int64 `yaml:"wal_warn_bytes"`
	// Snapshot configures the initial and ad-hoc snapshots.
	Snapshot SnapshotConfig `yaml:"snapshot"`
	// State configures where the snapshot state (state.go) is kept.
	State StateConfig `yaml:"state"`
	// Epoch is appended to the cluster's identity (system identifier and
	// timeline) in every event's Position.Epoch. Change it when the
	// database was restored in a way that identity does not show, so that
	// sinks ordering by position (Elasticsearch) see a new log instead of
	// dropping changes as stale. Default none.
	Epoch string `yaml:"epoch"`
	// SignalTable is a schema.table an operator inserts into to request
	// an incremental snapshot (Debezium: signal.data.collection). It is
	// created when missing and captured, but its rows are not emitted.
	// Default none (signals off).
	SignalTable string `yaml:"signal_table"`
}

// SnapshotConfig is the `snapshot:` block of the postgres source.
type SnapshotConfig struct {
	// Mode is initial (default: snapshot when the slot is new), never,
	// always (at every start), initial_only (snapshot, then stop), or
	// when_needed (whenever the slot has to be created). Debezium:
	// snapshot.mode.
	Mode string `yaml:"mode"`
	// ChunkSize is the rows read per chunk (default 4096, at most
	// 1000000). Debezium:
	// snapshot.fetch.size / incremental.snapshot.chunk.size.
	ChunkSize int `yaml:"chunk_size"`
	// Workers is how many tables are read at the same time (default 1,
	// at most 64).
	// Debezium: snapshot.max.threads.
	Workers int `yaml:"workers"`
	// NewTables says what a start does with a table that joined
	// source.tables since the last start (listed, or created and matched
	// by a pattern): incremental (default) queues an incremental
	// snapshot of it, so its rows arrive as op "r" while the stream of
	// every table goes on; none only streams its changes from now on.
	// Mode never snapshots nothing, new tables included; the first start
	// of a slot leaves them to the initial snapshot.
	NewTables string `yaml:"new_tables"`
}

// The values of snapshot.new_tables.
const (
	newTablesIncremental = "incremental"
	newTablesNone        = "none"
)

// StateConfig is the `state:` block: where the snapshot state lives, the
// work a replication slot cannot hold (which tables are still to read,
// how far each got, whether the initial snapshot finished). It must
// survive whatever the slot survives: see state.go.
type StateConfig struct {
	// Store is table (default: a row per slot in a table of the source
	// database, created when missing), kafka (a compacted topic) or file
	// (<state_dir>/<pipeline>.postgres.json only; safe only with a
	// persistent state_dir). Beside table and kafka the file is written
	// too, as a cache. Debezium: offset.storage.
	Store string `yaml:"store"`
	// Table is the table store's schema.table (default
	// public.sluice_state). Its rows are never captured.
	Table string `yaml:"table"`
	// Brokers are the Kafka bootstrap servers of the kafka store.
	Brokers []string `yaml:"brokers"`
	// Topic is the kafka store's topic (default sluice_offsets, which the
	// MySQL source's offsets may share), created compacted with one
	// partition when missing; the key is the pipeline name.
	Topic string `yaml:"topic"`
	// TLS and SASL secure the kafka store's connection: the kafka sink's
	// keys of the same names.
	TLS  kafkaconn.TLS  `yaml:"tls"`
	SASL kafkaconn.SASL `yaml:"sasl"`
}

// The state stores (StateConfig.Store).
const (
	storeTable = "table"
	storeKafka = "kafka"
	storeFile  = "file"
)

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// defaultName turns a pipeline name into a slot/publication name.
func defaultName(pipeline string) string {
	b := []byte("sluice_" + strings.ToLower(pipeline))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	return string(b)
}

// Defaults returns the source's defaults (config.Defaulter). The slot and
// publication names depend on the pipeline's name: New fills them.
func (Config) Defaults() Config {
	return Config{
		Messages:          true,
		Streaming:         true,
		StatusInterval:    10 * time.Second,
		DrainTimeout:      30 * time.Second,
		SlotCheckInterval: 10 * time.Second,
		WALWarnBytes:      10 << 30,
		Snapshot: SnapshotConfig{
			Mode:      source.DefaultSnapshotMode,
			ChunkSize: source.DefaultChunkSize,
			Workers:   1,
			NewTables: newTablesIncremental,
		},
		State: StateConfig{Store: storeTable, Table: "public.sluice_state", Topic: "sluice_offsets"},
	}
}

// validate returns one error per problem, each naming its key under path.
// Defaults are already filled in.
func (c *Config) validate(path string) error {
	var errs []error
	if c.DSN == "" {
		errs = append(errs, fmt.Errorf("%s.dsn: required (e.g. postgres://user@127.0.0.1:5432/db)", path))
	} else if _, err := pgconn.ParseConfig(c.DSN); err != nil {
		errs = append(errs, fmt.Errorf("%s.dsn: %s", path, redactDSNError(err)))
	}
	if !identRE.MatchString(c.Slot) {
		errs = append(errs, fmt.Errorf("%s.slot: %q must be 1-63 lower-case letters, digits or underscores", path, c.Slot))
	}
	if !identRE.MatchString(c.Publication) {
		errs = append(errs, fmt.Errorf("%s.publication: %q must be 1-63 lower-case letters, digits or underscores", path, c.Publication))
	}
	for i, t := range source.Listed(c.Tables) {
		if _, err := parseEntry(t); err != nil {
			errs = append(errs, fmt.Errorf("%s.tables[%d]: %q %w", path, i, t, err))
		}
	}
	if c.Snapshot.NewTables != newTablesIncremental && c.Snapshot.NewTables != newTablesNone {
		errs = append(errs, fmt.Errorf("%s.snapshot.new_tables: %q is not incremental or none", path, c.Snapshot.NewTables))
	}
	errs = config.Collect(errs,
		config.DurationIn(path+".status_interval", c.StatusInterval, 100*time.Millisecond, 10*time.Minute),
		config.DurationIn(path+".drain_timeout", c.DrainTimeout, 100*time.Millisecond, 24*time.Hour),
		config.DurationIn(path+".slot_check_interval", c.SlotCheckInterval, time.Second, time.Hour),
		heartbeatProblem(path, c.HeartbeatInterval, c.HeartbeatActionQuery, c.HeartbeatRecords),
		config.IntIn(path+".wal_warn_bytes", c.WALWarnBytes, 0, 1<<50),
		config.IntIn(path+".snapshot.workers", int64(c.Snapshot.Workers), 1, 64))
	errs = append(errs, source.CheckTables(path, c.Tables)...)
	errs = append(errs, source.CheckSnapshot(path, c.Snapshot.Mode, c.Snapshot.ChunkSize)...)
	if c.SignalTable != "" {
		if _, _, ok := splitTable(c.SignalTable); !ok {
			errs = append(errs, fmt.Errorf("%s.signal_table: %q is not schema.table", path, c.SignalTable))
		}
	}
	errs = append(errs, c.State.validate(path, c)...)
	return errors.Join(errs...)
}

func (sc *StateConfig) validate(path string, c *Config) []error {
	var errs []error
	switch sc.Store {
	case storeTable, storeFile:
	case storeKafka:
		if len(sc.Brokers) == 0 {
			errs = append(errs, fmt.Errorf("%s.state.brokers: required for the kafka store", path))
		}
	default:
		errs = append(errs, fmt.Errorf("%s.state.store: %q is not table, kafka or file", path, sc.Store))
	}
	if schema, name, ok := splitTable(sc.Table); !ok {
		errs = append(errs, fmt.Errorf("%s.state.table: %q is not schema.table", path, sc.Table))
	} else {
		full := tableName(schema, name)
		if c.SignalTable != "" && sameTable(c.SignalTable, full) {
			errs = append(errs, fmt.Errorf("%s.state.table: %s is the signal table too", path, full))
		}
		for i, t := range source.Listed(c.Tables) {
			if sameTable(t, full) {
				errs = append(errs, fmt.Errorf("%s.tables[%d]: %s is the state table (state.table), whose rows are never captured", path, i, t))
			}
		}
	}
	if sc.Topic == "" {
		errs = append(errs, fmt.Errorf("%s.state.topic: must not be empty", path))
	}
	for _, p := range kafkaconn.Validate(sc.TLS, sc.SASL) {
		errs = append(errs, fmt.Errorf("%s.state.%s: %s", path, p.Key, p.Msg))
	}
	return errs
}

// sameTable reports whether a and b name the same schema.table (a bare
// name is in public).
func sameTable(a, b string) bool {
	s1, t1, ok1 := splitTable(a)
	s2, t2, ok2 := splitTable(b)
	return ok1 && ok2 && s1 == s2 && t1 == t2
}

// redactDSNError keeps a DSN parse error free of the password, which
// pgconn may echo back.
func redactDSNError(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		inner := pe.Unwrap()
		var ue *url.Error
		if errors.As(inner, &ue) {
			inner = ue.Err // url.Error quotes the whole URL, password included
		}
		if inner != nil {
			return "cannot parse DSN: " + inner.Error()
		}
	}
	return "cannot parse DSN"
}
