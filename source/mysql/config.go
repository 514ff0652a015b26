package mysql

import (
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/internal/secret"
	"github.com/sluice-cdc/sluice/internal/tlsconf"
	"github.com/sluice-cdc/sluice/source"
)

// Config is the `source:` block of a pipeline with `type: mysql`.
type Config struct {
	// Type is "mysql" (for MySQL and MariaDB alike).
	Type string `yaml:"type"`
	// DSN locates the server (required): user[:password]@tcp(host:port)/db
	// as the Go MySQL driver writes it, or mysql://user[:password]@host:port/db.
	// The database is the default for tables named without one. Parameters
	// (?…) are refused: sluice would ignore them (TLS is the tls block).
	DSN string `yaml:"dsn"`
	// Password overrides the DSN's password, so the secret can come from
	// ${VAR}, SLUICE_PIPELINES_<NAME>_SOURCE_PASSWORD or, with
	// PasswordFile, a mounted secret file instead of the file.
	Password     secret.Secret `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
	// Flavor is mysql or mariadb (default: detected from the server).
	Flavor string `yaml:"flavor"`
	// ServerID is the replica server_id sluice registers with; it must
	// differ from every other server and replica of the topology
	// (default: derived from the pipeline name, 1000000 to 1999999999).
	// Debezium: database.server.id.
	ServerID uint32 `yaml:"server_id"`
	// Tables lists the captured tables as db.table, or table in the DSN's
	// database (default: every table of the DSN's database).
	// Debezium: table.include.list.
	Tables []string `yaml:"tables"`
	// Heartbeat is the binlog heartbeat period the server is asked for;
	// a silent connection is declared dead after three (default 5s,
	// 100ms to 1h).
	Heartbeat time.Duration `yaml:"heartbeat"`
	// HeartbeatInterval and HeartbeatRecords emit a heartbeat record
	// (sluice.OpHeartbeat) every heartbeat_interval, idle or busy, at the
	// first transaction boundary after the interval passed, with the
	// binlog file, position and GTID set a restart would resume from:
	// the Kafka sink writes it to "<topic_prefix>.heartbeat", other sinks
	// skip it. Debezium: heartbeat.interval.ms. heartbeat_records needs
	// heartbeat_interval (100ms to 24h) and the other way round (MySQL
	// has no heartbeat action query); default off. While idle, the
	// server's binlog heartbeat (the heartbeat key) wakes the stream, so
	// a record is at most that much late.
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	HeartbeatRecords  bool          `yaml:"heartbeat_records"`
	// DrainTimeout bounds how long a shutdown waits for the sinks to
	// acknowledge what was read before the last offset is stored
	// (default 30s).
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// SchemaChanges emits every DDL statement that names a captured table
	// as a schema change event (Debezium: include.schema.changes), and
	// makes the snapshot start with Debezium's (SET character_set_server,
	// DROP TABLE IF EXISTS, DROP/CREATE DATABASE, USE, CREATE TABLE per
	// table); the Kafka sink writes them to the topic named after the
	// topic prefix. Default true.
	SchemaChanges bool `yaml:"schema_changes"`
	// XAMaxRows bounds the rows of prepared XA transactions held in
	// memory until their XA COMMIT or XA ROLLBACK is read (default
	// 100000, 1 to 10000000); more stops the pipeline with an error.
	XAMaxRows int `yaml:"xa_max_rows"`
	// BinlogCheckInterval is how often the server's binlogs are compared
	// with the position sluice needs, for the sluice_binlog_* metrics and
	// the binlog_warn_bytes warning (default 10s, 1s to 1h). PostgreSQL's
	// equivalent is slot_check_interval.
	BinlogCheckInterval time.Duration `yaml:"binlog_check_interval"`
	// BinlogWarnBytes logs a warning (and sets
	// sluice_binlog_over_threshold) while the needed position is more
	// than this many bytes of binlog behind the server's head: the sinks
	// are behind, and the server may purge the needed file before they
	// catch up (default 10 GiB, 0: off). PostgreSQL's equivalent is
	// wal_warn_bytes.
	BinlogWarnBytes int64 `yaml:"binlog_warn_bytes"`
	// Epoch is appended to the server's identity (MySQL: server_uuid;
	// MariaDB: server_id) in every event's Position.Epoch. Change it after
	// RESET MASTER or a restore onto the same server, so that sinks
	// ordering by position (Elasticsearch) see a new log instead of
	// dropping changes as stale. Default none.
	Epoch string `yaml:"epoch"`
	// SignalTable is the signal table, db.table (or table in the DSN's
	// database), with Debezium's columns: id VARCHAR(64) PRIMARY KEY,
	// type VARCHAR(32) NOT NULL, data TEXT. Created when missing if the
	// user may (otherwise the start fails naming the statement to run).
	// The stream reads its inserts as signals, in binlog order with the
	// changes around them, whether or not tables lists it; its rows are
	// never emitted nor snapshotted, and it may not be one of tables.
	// Signals: execute-snapshot (incremental, or blocking: the stream
	// waits while the tables are read), stop-snapshot, pause-snapshot,
	// resume-snapshot, log. `sluice snapshot` writes its signals here
	// when no daemon answers on the admin endpoint. Default none: no
	// signal table (signals can still come from the daemon's other
	// channels). Debezium: signal.data.collection.
	SignalTable string `yaml:"signal_table"`
	// Offsets configures where the binlog position is stored.
	Offsets OffsetConfig `yaml:"offsets"`
	// Snapshot configures the initial snapshot.
	Snapshot SnapshotConfig `yaml:"snapshot"`
	// TLS secures the query and the binlog connections (default off).
	TLS TLSConfig `yaml:"tls"`
}

// OffsetConfig is the `offsets:` block. Debezium: offset.storage.
type OffsetConfig struct {
	// Store is file (default: <state_dir>/<pipeline>.mysql.json, written
	// atomically) or kafka (a compacted topic, for deployments without
	// a persistent disk).
	Store string `yaml:"store"`
	// Brokers are the Kafka bootstrap servers of the kafka store.
	Brokers []string `yaml:"brokers"`
	// Topic is the kafka store's topic (default sluice_offsets), created
	// compacted with one partition when missing; the key is the
	// pipeline name.
	Topic string `yaml:"topic"`
	// FlushInterval is how often an acknowledged position is written
	// (default 1s, 10ms to 1h); a crash replays at most this much. The last position
	// is always written on shutdown.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// TLS and SASL secure the kafka store's connection: the kafka sink's
	// keys of the same names.
	TLS  kafkaconn.TLS  `yaml:"tls"`
	SASL kafkaconn.SASL `yaml:"sasl"`
}

// SnapshotConfig is the `snapshot:` block.
type SnapshotConfig struct {
	// Mode is initial (default: snapshot when no offset is stored),
	// never, always (at every start), initial_only (snapshot, then stop)
	// or when_needed (when no offset is stored or the server purged the
	// stored position). Debezium: snapshot.mode.
	Mode string `yaml:"mode"`
	// ChunkSize is the rows read per chunk (default 4096, at most
	// 1000000), by the initial snapshot and by incremental snapshots
	// alike. An incremental chunk is read in a consistent snapshot
	// transaction of its own: on MySQL (not MariaDB) each takes a brief
	// FLUSH TABLES WITH READ LOCK to read its binlog position, which
	// needs the RELOAD privilege.
	ChunkSize int `yaml:"chunk_size"`
	// NewTables says what a start does with a table that joined the
	// captured tables since the last start (added to `tables`, or created
	// in the database when `tables` is left out): incremental (default)
	// queues an incremental snapshot of it while the stream goes on, none
	// streams its changes only. Mode never snapshots no new table.
	NewTables string `yaml:"new_tables"`
}

// TLSConfig is the `tls:` block: TLS for both connections sluice opens to
// the server, the query connection (checks, snapshots) and the binlog
// connection, with the keys of the kafka sink's tls block. Debezium:
// database.ssl.mode (enabled is verify_identity; with insecure_skip_verify
// it is required), database.ssl.truststore, database.ssl.keystore.
type TLSConfig struct {
	// Enabled turns TLS on. Default false. The other keys need it. A
	// server without TLS is then refused, never used in plaintext.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the CAs that sign the server's certificate.
	// Default: the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and key, for
	// accounts created with REQUIRE X509; both or neither. Default none.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name checked in the server's certificate.
	// Default: the DSN's host (an IP address is checked against the
	// certificate's IP addresses).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate: encrypted but
	// not authenticated. Default false; for tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// validate returns the problems of the block under path.
func (t TLSConfig) validate(path string) []error {
	var errs []error
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		errs = append(errs, fmt.Errorf("%s.tls.enabled: tls settings are given but tls.enabled is false", path))
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		errs = append(errs, fmt.Errorf("%s.tls: cert_file and key_file must be given together", path))
	}
	return errs
}

// config reads the PEM files and returns the client configuration for
// host, or nil when TLS is off. Errors name the key.
func (t TLSConfig) config(host string) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	name := t.ServerName
	if name == "" {
		name = host
	}
	return tlsconf.Build(tlsconf.Files{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile,
		ServerName: name, InsecureSkipVerify: t.InsecureSkipVerify})
}

// dsn is a parsed connection string.
type dsn struct {
	User, Password, Host string
	Port                 uint16
	DB                   string
}

func (d dsn) addr() string { return net.JoinHostPort(d.Host, strconv.Itoa(int(d.Port))) }

// parseDSN accepts the Go MySQL driver's form,
// user[:password]@tcp(host[:port])/db (parsed by the driver's ParseDSN),
// and the URL form mysql://user[:password]@host[:port]/db. The port
// defaults to 3306. Parameters (?…) are refused, each named: sluice would
// ignore them, and a DSN that asks for something sluice does not do must
// not look as if it did. TLS in particular is the source's tls block, not
// the driver's tls= parameter. Errors never contain the password.
func parseDSN(s string) (dsn, error) {
	var d dsn
	var hostport, query string
	if rest, ok := strings.CutPrefix(s, "mysql://"); ok {
		u, err := url.Parse("mysql://" + rest)
		if err != nil {
			return d, errors.New("cannot parse DSN as mysql://user:password@host:port/db")
		}
		d.User = u.User.Username()
		d.Password, _ = u.User.Password()
		hostport = u.Host
		d.DB = strings.TrimPrefix(u.Path, "/")
		query = u.RawQuery
		if _, port, err := net.SplitHostPort(hostport); err != nil || port == "" {
			hostport = strings.TrimSuffix(hostport, ":")
			if strings.Contains(hostport, ":") && !strings.HasPrefix(hostport, "[") {
				return d, fmt.Errorf("DSN address %q is not host:port", hostport)
			}
			hostport = net.JoinHostPort(strings.Trim(hostport, "[]"), "3306")
		}
	} else {
		// The driver splits at the last slash: the parameters follow it.
		if slash := strings.LastIndexByte(s, '/'); slash >= 0 {
			if q := strings.IndexByte(s[slash:], '?'); q >= 0 {
				s, query = s[:slash+q], s[slash+q+1:]
			}
		}
		c, err := driver.ParseDSN(s)
		switch {
		case err != nil && !strings.Contains(s, "@"):
			return d, errors.New("DSN must look like user:password@tcp(host:port)/db")
		case err != nil && strings.Contains(err.Error(), "unknown"):
			return d, errors.New("DSN must use tcp(host:port), e.g. user:password@tcp(127.0.0.1:3306)/db")
		case err != nil:
			return d, fmt.Errorf("DSN: %v", err) // the driver's messages hold no password
		case c.Net != "tcp":
			return d, fmt.Errorf("DSN network %q is not supported: use tcp(host:port)", c.Net)
		}
		d.User, d.Password, d.DB, hostport = c.User, c.Passwd, c.DBName, c.Addr
	}
	if err := refuseParams(query); err != nil {
		return d, err
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return d, fmt.Errorf("DSN address %q is not host:port", hostport)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || host == "" {
		return d, fmt.Errorf("DSN address %q is not host:port", hostport)
	}
	d.Host, d.Port = host, uint16(p)
	if d.User == "" {
		return d, errors.New("DSN has no user")
	}
	return d, nil
}

// refuseParams names the parameters of a DSN's query string: sluice uses
// none of them.
func refuseParams(query string) error {
	if query == "" {
		return nil
	}
	var names []string
	tlsGiven := false
	for kv := range strings.SplitSeq(query, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if k == "" {
			continue
		}
		if k == "tls" {
			tlsGiven = true
		}
		names = append(names, k)
	}
	if len(names) == 0 {
		return nil
	}
	msg := fmt.Sprintf("DSN parameters are not used by sluice, remove them: %s", strings.Join(names, ", "))
	if len(names) == 1 {
		msg = fmt.Sprintf("DSN parameter %s is not used by sluice, remove it", names[0])
	}
	if tlsGiven {
		msg += " (TLS is configured with the source's tls block: tls.enabled, tls.ca_file, tls.server_name, …)"
	}
	return errors.New(msg)
}

// defaultServerID spreads pipelines over a range real topologies rarely
// use, so two sluice pipelines on one server do not collide.
func defaultServerID(pipeline string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(pipeline))
	return 1_000_000 + h.Sum32()%1_999_000_000
}

// Defaults returns the source's defaults (config.Defaulter). The server_id
// depends on the pipeline's name: New fills it.
func (Config) Defaults() Config {
	return Config{
		Heartbeat:           5 * time.Second,
		DrainTimeout:        30 * time.Second,
		SchemaChanges:       true,
		XAMaxRows:           100_000,
		BinlogCheckInterval: 10 * time.Second,
		BinlogWarnBytes:     10 << 30,
		Offsets: OffsetConfig{
			Store:         "file",
			Topic:         "sluice_offsets",
			FlushInterval: time.Second,
		},
		Snapshot: SnapshotConfig{Mode: source.DefaultSnapshotMode, ChunkSize: source.DefaultChunkSize, NewTables: "incremental"},
	}
}

// validate returns one error per problem, each naming its key under path.
// Defaults are already filled in.
func (c *Config) validate(path string) error {
	var errs []error
	if c.DSN == "" {
		errs = append(errs, fmt.Errorf("%s.dsn: required (e.g. user@tcp(127.0.0.1:3306)/db)", path))
	} else if d, err := parseDSN(c.DSN); err != nil {
		errs = append(errs, fmt.Errorf("%s.dsn: %v", path, err))
	} else {
		for i, t := range source.Listed(c.Tables) {
			if _, _, ok := splitTable(t, d.DB); !ok {
				errs = append(errs, fmt.Errorf("%s.tables[%d]: %q is not db.table (or table with a database in the DSN)", path, i, t))
			}
		}
		if source.Listed(c.Tables) == nil && d.DB == "" {
			errs = append(errs, fmt.Errorf("%s.tables: required when the DSN names no database", path))
		}
		if c.SignalTable != "" {
			sdb, sname, ok := splitTable(c.SignalTable, d.DB)
			if !ok {
				errs = append(errs, fmt.Errorf("%s.signal_table: %q is not db.table (or table with a database in the DSN)", path, c.SignalTable))
			}
			for i, t := range source.Listed(c.Tables) {
				if tdb, tname, tok := splitTable(t, d.DB); ok && tok && tdb == sdb && tname == sname {
					errs = append(errs, fmt.Errorf("%s.tables[%d]: %s is the signal_table: its rows are signals, not data; leave it out of tables", path, i, t))
				}
			}
		}
	}
	switch c.Flavor {
	case "", "mysql", "mariadb":
	default:
		errs = append(errs, fmt.Errorf("%s.flavor: %q is not mysql or mariadb", path, c.Flavor))
	}
	errs = config.Collect(errs,
		config.DurationIn(path+".heartbeat", c.Heartbeat, 100*time.Millisecond, time.Hour),
		config.DurationIn(path+".drain_timeout", c.DrainTimeout, 100*time.Millisecond, 24*time.Hour),
		config.DurationIn(path+".offsets.flush_interval", c.Offsets.FlushInterval, 10*time.Millisecond, time.Hour),
		config.IntIn(path+".xa_max_rows", int64(c.XAMaxRows), 1, 10_000_000),
		config.DurationIn(path+".binlog_check_interval", c.BinlogCheckInterval, time.Second, time.Hour),
		config.IntIn(path+".binlog_warn_bytes", c.BinlogWarnBytes, 0, 1<<50))
	errs = append(errs, source.CheckTables(path, c.Tables)...)
	errs = append(errs, heartbeatProblem(path, c.HeartbeatInterval, c.HeartbeatRecords)...)
	switch c.Offsets.Store {
	case "file":
	case "kafka":
		if len(c.Offsets.Brokers) == 0 {
			errs = append(errs, fmt.Errorf("%s.offsets.brokers: required for the kafka store", path))
		}
	default:
		errs = append(errs, fmt.Errorf("%s.offsets.store: %q is not file or kafka", path, c.Offsets.Store))
	}
	for _, p := range kafkaconn.Validate(c.Offsets.TLS, c.Offsets.SASL) {
		errs = append(errs, fmt.Errorf("%s.offsets.%s: %s", path, p.Key, p.Msg))
	}
	if c.Offsets.Topic == "" {
		errs = append(errs, fmt.Errorf("%s.offsets.topic: must not be empty", path))
	}
	errs = append(errs, source.CheckSnapshot(path, c.Snapshot.Mode, c.Snapshot.ChunkSize)...)
	if c.Snapshot.NewTables != "incremental" && c.Snapshot.NewTables != "none" {
		errs = append(errs, fmt.Errorf("%s.snapshot.new_tables: %q is not incremental or none", path, c.Snapshot.NewTables))
	}
	errs = append(errs, c.TLS.validate(path)...)
	return errors.Join(errs...)
}

// splitTable splits "db.table"; a bare name is in the default database.
// A part holding a dot or a backquote is quoted as MySQL quotes
// identifiers: `db`.`order.lines`, a backquote inside doubled.
func splitTable(s, defDB string) (db, table string, ok bool) {
	first, rest, ok := cutIdent(s)
	if !ok {
		return "", "", false
	}
	if rest == "" {
		return defDB, first, defDB != ""
	}
	if rest[0] != '.' {
		return "", "", false
	}
	second, rest, ok := cutIdent(rest[1:])
	if !ok || rest != "" {
		return "", "", false
	}
	return first, second, true
}

// cutIdent reads one name part from the start of s: a backquoted
// identifier, or the text up to the next dot.
func cutIdent(s string) (part, rest string, ok bool) {
	if s == "" {
		return "", "", false
	}
	if s[0] != '`' {
		i := strings.IndexByte(s, '.')
		if i < 0 {
			i = len(s)
		}
		return s[:i], s[i:], i > 0 && !strings.Contains(s[:i], "`")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '`' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), s[i+1:], b.Len() > 0
	}
	return "", "", false // no closing backquote
}
