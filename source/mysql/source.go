package mysql

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
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

	// confirmed is the Resume token of the last mark the pipeline
	// delivered; the offset saver writes it to the store.
	confirmed atomic.Pointer[string]

	// streaming is true while the binlog dump runs: changes committed
	// from then on are read.
	streaming atomic.Bool

	// progress mirrors the snapshot's tables for SnapshotProgress; the
	// snapshot goroutine owns the offset it is copied from.
	progressMu sync.Mutex
	progress   []sluice.TableSnapshot
}

// SnapshotProgress reports the tables of this process's snapshot (nil
// when none ran), for the daemon's metrics.
func (s *Source) SnapshotProgress() []sluice.TableSnapshot {
	s.progressMu.Lock()
	defer s.progressMu.Unlock()
	return append([]sluice.TableSnapshot(nil), s.progress...)
}

// setProgress updates table i of the snapshot's progress with f.
func (s *Source) setProgress(i int, f func(*sluice.TableSnapshot)) {
	s.progressMu.Lock()
	defer s.progressMu.Unlock()
	if i >= 0 && i < len(s.progress) {
		f(&s.progress[i])
	}
}

var (
	_ source.Source           = (*Source)(nil)
	_ sluice.SnapshotReporter = (*Source)(nil)
)

// New builds a source from its decoded configuration (defaults filled in):
// it derives the server_id from the pipeline's name when the file leaves it
// out, and validates. It does no I/O.
func New(cfg Config, env source.Env) (*Source, error) {
	if cfg.ServerID == 0 {
		cfg.ServerID = defaultServerID(env.Pipeline)
	}
	if err := cfg.validate(env.Path); err != nil {
		return nil, err
	}
	d, err := parseDSN(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("%s.dsn: %v", env.Path, err)
	}
	if cfg.Password != "" {
		d.Password = cfg.Password
	}
	return &Source{cfg: cfg, dsn: d, log: env.Logger.With(zap.String("server", d.addr())), pipeline: env.Pipeline, stateDir: env.StateDir}, nil
}

// Connector implements source.Source.
func (s *Source) Connector() string { return "mysql" }

// Database implements source.Source.
func (s *Source) Database() string { return s.dsn.DB }

// Confirm implements sluice.Source: pos is a mark this source emitted;
// the runner confirms marks in the order they were emitted.
func (s *Source) Confirm(pos sluice.Position) {
	r := pos.Resume
	s.confirmed.Store(&r)
}

// connect opens a query connection with the session settings the value
// parsers rely on: UTF-8 results and TIMESTAMPs in UTC.
func (s *Source) connect(ctx context.Context) (*client.Conn, error) {
	c, err := client.ConnectWithContext(ctx, s.dsn.addr(), s.dsn.User, s.dsn.Password, s.dsn.DB, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("mysql source: connect to %s as %s: %w", s.dsn.addr(), s.dsn.User, err)
	}
	for _, q := range []string{"SET NAMES utf8mb4", "SET time_zone = '+00:00'"} {
		if _, err := c.Execute(q); err != nil {
			c.Close()
			return nil, fmt.Errorf("mysql source: %s: %w", q, err)
		}
	}
	return c, nil
}

// server is what the checks at start learn about the server.
type server struct {
	flavor     string // mysql.MySQLFlavor or mysql.MariaDBFlavor
	version    string
	serverID   uint32
	gtid       bool              // resume by GTID set
	collations map[uint64]string // collation id → character set
}

// checkServer verifies the preconditions of row-based capture and
// returns what it learned. Problems are permanent errors with the fix.
func (s *Source) checkServer(c *client.Conn) (*server, error) {
	srv := &server{collations: map[uint64]string{}}
	vars, err := globals(c, "version", "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "server_id", "gtid_mode")
	if err != nil {
		return nil, err
	}
	srv.version = vars["version"]
	switch {
	case s.cfg.Flavor != "":
		srv.flavor = s.cfg.Flavor
	case strings.Contains(strings.ToLower(srv.version), "mariadb"):
		srv.flavor = mysql.MariaDBFlavor
	default:
		srv.flavor = mysql.MySQLFlavor
	}
	var problems []string
	if v := vars["log_bin"]; v != "ON" && v != "1" {
		problems = append(problems, "the binary log is off (log_bin="+v+"): start the server with --log-bin")
	}
	if v := vars["binlog_format"]; v != "ROW" {
		problems = append(problems, "binlog_format is "+v+", not ROW: SET GLOBAL binlog_format = 'ROW' and set it in the server config")
	}
	if v := vars["binlog_row_image"]; v != "FULL" {
		problems = append(problems, "binlog_row_image is "+v+", not FULL: SET GLOBAL binlog_row_image = 'FULL' and set it in the server config")
	}
	if v := vars["binlog_row_metadata"]; v != "FULL" {
		problems = append(problems, "binlog_row_metadata is "+orUnset(v)+", not FULL: sluice reads column names and types from the binlog (MySQL 8.0.1+ or MariaDB 10.5+); SET GLOBAL binlog_row_metadata = 'FULL'")
	}
	if len(problems) > 0 {
		return nil, sluice.Permanent(fmt.Errorf("mysql source: %s", strings.Join(problems, "; ")))
	}
	var id uint64
	fmt.Sscan(vars["server_id"], &id)
	srv.serverID = uint32(id)
	if srv.serverID == s.cfg.ServerID {
		return nil, sluice.Permanent(fmt.Errorf("mysql source: server_id %d is the server's own: set a different source.server_id", id))
	}
	srv.gtid = srv.flavor == mysql.MariaDBFlavor || vars["gtid_mode"] == "ON"
	if err := s.checkPrivileges(c); err != nil {
		return nil, err
	}
	r, err := c.Execute("SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS")
	if err != nil {
		return nil, fmt.Errorf("mysql source: read collations: %w", err)
	}
	for i := 0; i < r.RowNumber(); i++ {
		id, _ := r.GetUint(i, 0)
		cs, _ := r.GetString(i, 1)
		srv.collations[id] = cs
	}
	return srv, nil
}

func orUnset(v string) string {
	if v == "" {
		return "unset (server too old)"
	}
	return v
}

// globals reads global variables by name; missing ones are "".
func globals(c *client.Conn, names ...string) (map[string]string, error) {
	r, err := c.Execute("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('" + strings.Join(names, "','") + "')")
	if err != nil {
		return nil, fmt.Errorf("mysql source: read server variables: %w", err)
	}
	out := map[string]string{}
	for i := 0; i < r.RowNumber(); i++ {
		k, _ := r.GetString(i, 0)
		v, _ := r.GetString(i, 1)
		out[k] = v
	}
	return out, nil
}

// checkPrivileges reads the grants of the current user and names every
// missing replication privilege at once.
func (s *Source) checkPrivileges(c *client.Conn) error {
	r, err := c.Execute("SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return fmt.Errorf("mysql source: read grants: %w", err)
	}
	var global []string
	for i := 0; i < r.RowNumber(); i++ {
		g, _ := r.GetString(i, 0)
		if strings.Contains(g, " ON *.* ") {
			global = append(global, strings.ToUpper(g))
		}
	}
	has := func(names ...string) bool {
		for _, g := range global {
			if strings.Contains(g, "ALL PRIVILEGES") {
				return true
			}
			for _, n := range names {
				if strings.Contains(g, n) {
					return true
				}
			}
		}
		return false
	}
	var missing []string
	if !has("REPLICATION SLAVE", "REPLICATION REPLICA") {
		missing = append(missing, "REPLICATION SLAVE")
	}
	if !has("REPLICATION CLIENT", "BINLOG MONITOR", "SUPER") {
		missing = append(missing, "REPLICATION CLIENT (MariaDB: BINLOG MONITOR)")
	}
	if len(missing) > 0 {
		return sluice.Permanent(fmt.Errorf("mysql source: user %s lacks %s: GRANT %s ON *.* TO the user (sluice also needs SELECT on the captured tables)",
			s.dsn.User, strings.Join(missing, " and "), strings.Join(missing, ", ")))
	}
	return nil
}

// resolveTables lists the captured tables as db.table and checks that
// each exists and is readable.
func (s *Source) resolveTables(c *client.Conn) ([]string, error) {
	var tables []string
	if len(s.cfg.Tables) == 0 {
		r, err := c.Execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", s.dsn.DB)
		if err != nil {
			return nil, fmt.Errorf("mysql source: list tables: %w", err)
		}
		for i := 0; i < r.RowNumber(); i++ {
			n, _ := r.GetString(i, 0)
			tables = append(tables, s.dsn.DB+"."+n)
		}
		return tables, nil
	}
	var missing []string
	for _, t := range s.cfg.Tables {
		db, name, _ := splitTable(t, s.dsn.DB)
		r, err := c.Execute("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", db, name)
		if err != nil {
			return nil, fmt.Errorf("mysql source: look up table %s.%s: %w", db, name, err)
		}
		if r.RowNumber() == 0 {
			missing = append(missing, db+"."+name)
			continue
		}
		if _, err := c.Execute("SELECT * FROM " + quoteTable(db, name) + " LIMIT 0"); err != nil {
			return nil, sluice.Permanent(fmt.Errorf("mysql source: cannot read %s.%s (GRANT SELECT to %s): %w", db, name, s.dsn.User, err))
		}
		tables = append(tables, db+"."+name)
	}
	if len(missing) > 0 {
		return nil, sluice.Permanent(fmt.Errorf("mysql source: captured tables do not exist: %s", strings.Join(missing, ", ")))
	}
	return tables, nil
}

// quoteIdent quotes a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

func quoteTable(db, name string) string { return quoteIdent(db) + "." + quoteIdent(name) }

// refine reads what the binlog does not say about a table: MariaDB's
// JSON columns are LONGTEXT with a json_valid() check constraint.
func refine(c *client.Conn, db, name string) (refinements, error) {
	ref := refinements{json: map[string]bool{}}
	r, err := c.Execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND DATA_TYPE = 'json'", db, name)
	if err != nil {
		return ref, fmt.Errorf("mysql source: columns of %s.%s: %w", db, name, err)
	}
	for i := 0; i < r.RowNumber(); i++ {
		n, _ := r.GetString(i, 0)
		ref.json[n] = true
	}
	r, err = c.Execute("SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?", db, name)
	if err != nil {
		return ref, nil // MySQL before 8.0.16 has no such view; MySQL JSON is a real type anyway
	}
	for i := 0; i < r.RowNumber(); i++ {
		cl, _ := r.GetString(i, 0)
		if col, ok := strings.CutPrefix(cl, "json_valid(`"); ok {
			if end := strings.Index(col, "`)"); end > 0 && end == len(col)-2 {
				ref.json[strings.ReplaceAll(col[:end], "``", "`")] = true
			}
		}
	}
	return ref, nil
}

// describe reads a table's columns from the information schema.
func describe(c *client.Conn, db, name string) (*relation, error) {
	r, err := c.Execute(`SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE,
		IFNULL(c.NUMERIC_PRECISION, 0), IFNULL(c.NUMERIC_SCALE, 0), IFNULL(c.DATETIME_PRECISION, 0),
		IFNULL((SELECT k.ORDINAL_POSITION FROM information_schema.KEY_COLUMN_USAGE k WHERE k.TABLE_SCHEMA = c.TABLE_SCHEMA
			AND k.TABLE_NAME = c.TABLE_NAME AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY'), 0)
		FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION`, db, name)
	if err != nil {
		return nil, fmt.Errorf("mysql source: describe %s.%s: %w", db, name, err)
	}
	cols := make([]schemaColumn, r.RowNumber())
	for i := range cols {
		sc := &cols[i]
		sc.name, _ = r.GetString(i, 0)
		sc.dataType, _ = r.GetString(i, 1)
		sc.columnType, _ = r.GetString(i, 2)
		n, _ := r.GetString(i, 3)
		sc.nullable = n == "YES"
		p, _ := r.GetInt(i, 4)
		sc.prec = int(p)
		sc2, _ := r.GetInt(i, 5)
		sc.scale = int(sc2)
		f, _ := r.GetInt(i, 6)
		sc.fsp = int(f)
		k, _ := r.GetInt(i, 7)
		sc.pkPos = int(k)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("mysql source: table %s.%s has no columns (dropped?)", db, name)
	}
	ref, err := refine(c, db, name)
	if err != nil {
		return nil, err
	}
	return relationFromSchema(db, name, cols, ref), nil
}

// offsetStore opens the configured store.
func (s *Source) openStore(ctx context.Context) (offsetStore, error) {
	if s.cfg.Offsets.Store == "kafka" {
		conn, err := kafkaconn.Opts(s.cfg.Offsets.TLS, s.cfg.Offsets.SASL)
		if err != nil {
			return nil, fmt.Errorf("mysql source: offsets.%w", err)
		}
		st, err := newKafkaStore(ctx, s.cfg.Offsets.Brokers, conn, s.cfg.Offsets.Topic, s.pipeline)
		if err != nil {
			return nil, fmt.Errorf("mysql source: %w", err)
		}
		return st, nil
	}
	return &fileStore{path: filepath.Join(s.stateDir, s.pipeline+".mysql.json")}, nil
}
