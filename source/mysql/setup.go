package mysql

import (
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
)

// server is what the checks at start learn about the server.
type server struct {
	flavor     string // mysql.MySQLFlavor or mysql.MariaDBFlavor
	version    string
	serverID   uint32
	uuid       string            // MySQL's server_uuid; "" on MariaDB
	gtid       bool              // resume by GTID set
	collations map[uint64]string // collation id → character set
}

// checkServer verifies the preconditions of row-based capture and
// returns what it learned. Problems are permanent errors with the fix.
func (s *Source) checkServer(c *client.Conn) (*server, error) {
	srv := &server{collations: map[uint64]string{}}
	vars, err := globals(c, "version", "log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata", "server_id", "server_uuid", "gtid_mode")
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
	srv.uuid = vars["server_uuid"]
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
		sig := s.signalTable()
		for i := 0; i < r.RowNumber(); i++ {
			n, _ := r.GetString(i, 0)
			if t := s.dsn.DB + "." + n; t != sig { // signals are not data
				tables = append(tables, t)
			}
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
