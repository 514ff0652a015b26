package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The databases of the Debezium comparisons (e2e_debezium_test.go): each
// source's fixtures loaded into a fresh database, and removed after.

// dbzPostgres prepares the PostgreSQL side: the database, the slot and
// publication sluice_<pipeline> (made by the daemon). lockName names the
// advisory lock that keeps two runs from sharing the names.
func dbzPostgres(t *testing.T, database, pipeline, lockName string) *dbzRun {
	dsn := testenv.Get(t, "SLUICE_TEST_PG_DSN")
	ctx := context.Background()
	// admin runs statements on a connection of its own each time: other
	// tests may restart the server between two modes.
	admin := func(t *testing.T, f func(*pgx.Conn) error) error {
		var err error
		for attempt := 0; attempt < 100; attempt++ {
			var c *pgx.Conn
			if c, err = pgx.Connect(ctx, dsn); err == nil {
				err = f(c)
				c.Close(ctx)
				if err == nil || !dbzIsRestart(err) {
					return err
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		return err
	}
	// One run at a time: the database, slot and topic names are fixed.
	// The lock is held by a connection of its own for the whole test
	// (and lost, harmlessly, if the server restarts).
	lock, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close(ctx) })
	if _, err := lock.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", lockName); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + database
	dbzDSN := u.String()
	slot := "sluice_" + pipeline
	drop := func(t *testing.T) {
		err := admin(t, func(c *pgx.Conn) error {
			testenv.DropSlot(t, c, slot)
			_, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+database+" WITH (FORCE)")
			return err
		})
		if err != nil {
			t.Errorf("drop database %s: %v", database, err)
		}
	}
	r := &dbzRun{} // prepare reads r.fixtures, which a test may change
	*r = dbzRun{
		source:   "postgres",
		fixtures: "postgres",
		drop:     drop,
		prepare: func(t *testing.T) dbzConn {
			drop(t)
			if err := admin(t, func(c *pgx.Conn) error {
				_, err := c.Exec(ctx, "CREATE DATABASE "+database)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			db, err := pgx.Connect(ctx, dbzDSN)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close(ctx) })
			run := func(stmt string) error {
				_, err := db.Exec(ctx, stmt, pgx.QueryExecModeSimpleProtocol)
				return err
			}
			dbzRunFixtures(t, run, r.fixtures, "schema.sql", "snapshot.sql")
			return run
		},
		sourceBlock: func() string {
			return fmt.Sprintf("type: postgres\ndsn: %q\ntables: all\nstatus_interval: 1s\ndrain_timeout: 20s\n", dbzDSN)
		},
	}
	return r
}

// dbzIsRestart reports whether err is PostgreSQL going away (an
// administrator's shutdown, a restart in progress, a closed connection).
func dbzIsRestart(err error) bool {
	s := err.Error()
	return strings.Contains(s, "57P01") || strings.Contains(s, "57P03") || strings.Contains(s, "conn closed") ||
		strings.Contains(s, "connection refused") || strings.Contains(s, "unexpected EOF")
}

// dbzMariaDB prepares the MariaDB side: database dbz. The test's
// account may not create databases (scripts/mariadb.sh grants it ALL on
// `sluice` only), so dbz is created over the server's unix socket as root,
// as scripts/debezium.sh does, with ALL on dbz granted to the account for
// the run.
func dbzMariaDB(t *testing.T) *dbzRun {
	dsn := testenv.Get(t, "SLUICE_TEST_MYSQL_DSN")
	m := regexp.MustCompile(`^([^:@]+):([^@]*)@tcp\(([^)]+)\)/`).FindStringSubmatch(dsn)
	if m == nil {
		t.Fatalf("SLUICE_TEST_MYSQL_DSN %q is not user:password@tcp(host:port)/db", dsn)
	}
	user, pass, addr := m[1], m[2], m[3]
	sock := os.Getenv("SLUICE_TEST_MYSQL_ROOT_SOCKET")
	if sock == "" {
		scratch := os.Getenv("SLUICE_SCRATCH")
		if scratch == "" {
			scratch = "/tmp/sluice-services"
		}
		sock = filepath.Join(scratch, "mariadb", "mariadb.sock")
	}
	ctx := context.Background()
	rootDB, err := sql.Open("mysql", "root@unix("+sock+")/?sql_log_bin=0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rootDB.Close() })
	root, err := rootDB.Conn(ctx)
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("MariaDB root over %s (set SLUICE_TEST_MYSQL_ROOT_SOCKET): %v", sock, err))
	}
	t.Cleanup(func() { root.Close() })
	var locked int
	if err := root.QueryRowContext(ctx, "SELECT GET_LOCK('sluice.TestDebeziumGolden', 600)").Scan(&locked); err != nil || locked != 1 {
		t.Fatalf("GET_LOCK: %v (%d)", err, locked)
	}
	host := "127.0.0.1"
	if h, _, ok := strings.Cut(addr, ":"); ok && h == "localhost" {
		host = "localhost"
	}
	account := fmt.Sprintf("'%s'@'%s'", user, host)
	drop := func(t *testing.T) {
		if _, err := root.ExecContext(ctx, "DROP DATABASE IF EXISTS "+dbzDatabase); err != nil {
			t.Errorf("drop database %s: %v", dbzDatabase, err)
		}
	}
	t.Cleanup(func() { root.ExecContext(ctx, "REVOKE ALL ON "+dbzDatabase+".* FROM "+account) })
	dbzDSN := fmt.Sprintf("%s:%s@tcp(%s)/%s", user, pass, addr, dbzDatabase)
	return &dbzRun{
		source:   "mariadb",
		fixtures: "mariadb",
		drop:     drop,
		prepare: func(t *testing.T) dbzConn {
			drop(t)
			for _, q := range []string{"CREATE DATABASE " + dbzDatabase, "GRANT ALL ON " + dbzDatabase + ".* TO " + account} {
				if _, err := root.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db, err := sql.Open("mysql", dbzDSN)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			run := func(stmt string) error {
				_, err := c.ExecContext(ctx, stmt)
				return err
			}
			dbzRunFixtures(t, run, "mariadb", "schema.sql", "snapshot.sql")
			return run
		},
		sourceBlock: func() string {
			return fmt.Sprintf("type: mysql\nflavor: mariadb\ndsn: %q\nheartbeat: 1s\ndrain_timeout: 20s\noffsets: {flush_interval: 100ms}\n", dbzDSN)
		},
	}
}

func dbzRunFixtures(t *testing.T, run dbzConn, source string, files ...string) {
	t.Helper()
	for _, f := range files {
		stmts, err := testenv.SQLStatements(filepath.Join(dbzFixtures, source, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stmts {
			if err := run(s); err != nil {
				t.Fatalf("%s: %s: %v", f, s, err)
			}
		}
	}
}
