package mysql

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/source"
)

// Config is the `source:` block of a pipeline with `type: mysql`.
type Config struct {
	// Type is "mysql" (for MySQL and MariaDB alike).
	Type string `yaml:"type"`
	// DSN locates the server (required): user[:password]@tcp(host:port)/db
	// as the Go MySQL driver writes it, or mysql://user[:password]@host:port/db.
	// The database is the default for tables named without one.
	DSN string `yaml:"dsn"`
	// Password overrides the DSN's password, so the secret can come from
	// SLUICE_PIPELINES_<NAME>_SOURCE_PASSWORD instead of the file.
	Password string `yaml:"password"`
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
	// DrainTimeout bounds how long a shutdown waits for the sinks to
	// acknowledge what was read before the last offset is stored
	// (default 30s).
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// SchemaChanges emits every DDL statement that names a captured table
	// as a schema change event (Debezium: include.schema.changes); the
	// Kafka sink writes them to the topic named after the topic prefix.
	// Default true.
	SchemaChanges bool `yaml:"schema_changes"`
	// Offsets configures where the binlog position is stored.
	Offsets OffsetConfig `yaml:"offsets"`
	// Snapshot configures the initial snapshot.
	Snapshot SnapshotConfig `yaml:"snapshot"`
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
	// 1000000).
	ChunkSize int `yaml:"chunk_size"`
}

// dsn is a parsed connection string.
type dsn struct {
	User, Password, Host string
	Port                 uint16
	DB                   string
}

func (d dsn) addr() string { return net.JoinHostPort(d.Host, strconv.Itoa(int(d.Port))) }

// parseDSN accepts user[:pass]@tcp(host:port)/db[?…] and
// mysql://user[:pass]@host:port/db. Errors never contain the password.
func parseDSN(s string) (dsn, error) {
	var d dsn
	var hostport string
	if rest, ok := strings.CutPrefix(s, "mysql://"); ok {
		u, err := url.Parse("mysql://" + rest)
		if err != nil {
			return d, errors.New("cannot parse DSN as mysql://user:password@host:port/db")
		}
		d.User = u.User.Username()
		d.Password, _ = u.User.Password()
		hostport = u.Host
		d.DB = strings.TrimPrefix(u.Path, "/")
	} else {
		at := strings.LastIndex(s, "@")
		if at < 0 {
			return d, errors.New("DSN must look like user:password@tcp(host:port)/db")
		}
		cred, rest := s[:at], s[at+1:]
		d.User, d.Password, _ = strings.Cut(cred, ":")
		rest, ok := strings.CutPrefix(rest, "tcp(")
		if !ok {
			return d, errors.New("DSN must use tcp(host:port), e.g. user:password@tcp(127.0.0.1:3306)/db")
		}
		end := strings.Index(rest, ")")
		if end < 0 {
			return d, errors.New("DSN has an unclosed tcp(")
		}
		hostport = rest[:end]
		rest = strings.TrimPrefix(rest[end+1:], "/")
		d.DB, _, _ = strings.Cut(rest, "?")
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, "3306"
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
		Heartbeat:     5 * time.Second,
		DrainTimeout:  30 * time.Second,
		SchemaChanges: true,
		Offsets: OffsetConfig{
			Store:         "file",
			Topic:         "sluice_offsets",
			FlushInterval: time.Second,
		},
		Snapshot: SnapshotConfig{Mode: source.DefaultSnapshotMode, ChunkSize: source.DefaultChunkSize},
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
	}
	switch c.Flavor {
	case "", "mysql", "mariadb":
	default:
		errs = append(errs, fmt.Errorf("%s.flavor: %q is not mysql or mariadb", path, c.Flavor))
	}
	errs = config.Collect(errs,
		config.DurationIn(path+".heartbeat", c.Heartbeat, 100*time.Millisecond, time.Hour),
		config.DurationIn(path+".drain_timeout", c.DrainTimeout, 100*time.Millisecond, 24*time.Hour),
		config.DurationIn(path+".offsets.flush_interval", c.Offsets.FlushInterval, 10*time.Millisecond, time.Hour))
	errs = append(errs, source.CheckTables(path, c.Tables)...)
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
	return errors.Join(errs...)
}

// splitTable splits "db.table"; a bare name is in the default database.
func splitTable(s, defDB string) (db, table string, ok bool) {
	db, table, found := strings.Cut(s, ".")
	if !found {
		return defDB, s, defDB != "" && s != ""
	}
	return db, table, db != "" && table != "" && !strings.Contains(table, ".")
}
