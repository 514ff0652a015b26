package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/source"
)

var _ sluice.TableReader = (*Source)(nil)

// ReadTable implements sluice.TableReader: it reads every row of a
// captured table ("db.table"; a bare name is in the DSN's database, as in
// the tables key) in key order, calling fn once per row.
//
// It is the initial snapshot's read of one table without the snapshot's
// events and offsets, so that the rows it gives are the rows the stream
// gives: the table is described from the information schema the way the
// snapshot describes it (describeTable, which matches what the binlog's
// table map gives: same columns, types and key), and each result row is
// converted by the snapshot's converter. A row read here therefore
// compares equal (sluice.Value.Equal, column by column) to the same row
// decoded from the binlog.
//
// It opens its own connection (the DSN's credentials and the tls block,
// as Run's connections), so it can be called before Run, which the
// pipeline does when a transform fills its state at start, and while Run
// runs: it shares no state with Run. The read runs in one transaction
// WITH CONSISTENT SNAPSHOT at REPEATABLE READ, READ ONLY where the server
// accepts it, so every chunk sees the same table state. Chunks are
// snapshot.chunk_size rows in key order (keyset pagination from the last
// key, newChunkQuery), and only one chunk is held in memory; fn is called
// after a chunk has been read, never while the server sends rows, so a
// slow fn does not stall a result the server is writing. A table without
// a primary key has nothing to page by: it is read in one pass, as the
// snapshot reads it, fn then being called as rows arrive.
//
// A table the source does not capture is refused with a permanent error
// (retrying cannot help: the configuration decides it), by the rules that
// choose the tables Run streams (resolveTables). ctx ends the read at
// once, also in the middle of a chunk: the connection is closed. An
// error of fn ends the read and is returned as it is; the read's own
// errors start with "mysql source: read table <table>:".
func (s *Source) ReadTable(ctx context.Context, table string, fn func(t *sluice.Table, row sluice.Row) error) error {
	db, name, ok := splitTable(table, s.dsn.DB)
	if !ok {
		return sluice.Permanent(readTableErr(table, errors.New(`not a table name: write it as db.table (quote a part holding a dot with backquotes)`)))
	}
	full := db + "." + name
	fail := func(err error) error { return readTableErr(full, err) }
	if !s.listsTable(db, name) {
		return sluice.Permanent(fail(fmt.Errorf("the source does not capture it (its tables: %s)", s.capturedDesc())))
	}
	// The TLS configuration is built here, not taken from s.tls: Run
	// sets that, and may not have run yet or may be setting it now.
	tc, err := s.cfg.TLS.config(s.dsn.Host)
	if err != nil {
		return sluice.Permanent(fail(err))
	}
	conn, err := s.dial(ctx, tc)
	if err != nil {
		return fail(err)
	}
	defer conn.Close()
	// The client library does not watch ctx while it waits for the
	// server: closing the connection ends that wait. It closes the
	// network connection, which is safe from another goroutine; the
	// client's Close also resets state the reading goroutine uses.
	nc := conn.Conn.Conn
	stopWatch := context.AfterFunc(ctx, func() { nc.Close() })
	defer stopWatch()
	// ctxErr prefers ctx's error to the broken connection it caused.
	ctxErr := func(err error) error {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		return fail(err)
	}

	if len(s.cfg.Tables) == 0 {
		// Every base table of the DSN's database is captured: those
		// Run lists when it starts (a view has no binlog events).
		got, err := queryString(conn, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND TABLE_TYPE = 'BASE TABLE'", db, name)
		if err != nil {
			return ctxErr(err)
		}
		if got != name { // compared as the stream compares names: exactly
			return sluice.Permanent(fail(fmt.Errorf("the source does not capture it: no base table of that name in database %s", s.dsn.DB)))
		}
	}
	mariadb, err := s.isMariaDB(conn)
	if err != nil {
		return ctxErr(err)
	}
	if err := beginReadSnapshot(conn); err != nil {
		return ctxErr(err)
	}
	// Described inside the transaction, as the snapshot does, so that the
	// definition is the one of the rows read (a concurrent ALTER makes
	// the reads fail with "table definition has changed" instead).
	rel, err := describeTable(conn, db, name, mariadb)
	if err != nil {
		return ctxErr(err)
	}
	if err := fn(rel.table, nil); err != nil { // the description, also of an empty table
		return err
	}
	if len(rel.table.Key) == 0 {
		return s.readKeyless(ctx, conn, rel, fn, ctxErr)
	}
	chunk := s.cfg.Snapshot.ChunkSize
	if chunk < 1 { // New refuses it; a Source built otherwise must not read unbounded
		chunk = source.DefaultChunkSize
	}
	q := newChunkQuery(conn, rel, db, name, chunk)
	defer q.close()
	var conv snapReader // its row method only converts
	rows := make([]sluice.Row, 0, min(chunk, 1024)+1)
	var last, next []keyValue
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		rows, next = rows[:0], next[:0]
		more := false
		err := q.read(last, func(fv []mysql.FieldValue) error {
			if len(rows) == chunk {
				more = true // one row more than a chunk: not the last chunk
				return nil
			}
			row, err := conv.row(rel, fv)
			if err != nil {
				return err
			}
			rows = append(rows, row)
			next = q.keyOf(fv, next[:0])
			return nil
		})
		if err != nil {
			return ctxErr(err)
		}
		for _, row := range rows {
			if err := ctx.Err(); err != nil {
				return fail(err)
			}
			if err := fn(rel.table, row); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		last, next = next, last
	}
}

// readKeyless reads a table without a key in one pass, calling fn as the
// rows arrive: there is no key to page by, and holding the table until
// its end would not bound memory. The server waits for sluice while fn
// runs, so the session's net_write_timeout is raised as the snapshot
// raises it.
func (s *Source) readKeyless(ctx context.Context, conn *client.Conn, rel *relation, fn func(*sluice.Table, sluice.Row) error, ctxErr func(error) error) error {
	set := fmt.Sprintf("SET SESSION net_write_timeout = %d", int(keylessWriteTimeout/time.Second))
	if _, err := conn.Execute(set); err != nil {
		return ctxErr(fmt.Errorf("%s: %w", set, err))
	}
	q := newChunkQuery(conn, rel, rel.table.DB, rel.table.Name, 0)
	defer q.close()
	var conv snapReader
	// fnErr keeps fn's error as it is: the client library may wrap
	// what the callback returns.
	var fnErr error
	err := q.read(nil, func(fv []mysql.FieldValue) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		row, err := conv.row(rel, fv)
		if err != nil {
			return err
		}
		if err := fn(rel.table, row); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return ctxErr(err)
	}
	return nil
}

// listsTable reports whether the tables key names db.name; with no
// tables key every table of the DSN's database may be captured, which
// ReadTable then checks on the server.
func (s *Source) listsTable(db, name string) bool {
	if len(s.cfg.Tables) == 0 {
		return db == s.dsn.DB
	}
	for _, t := range s.cfg.Tables {
		if d, n, ok := splitTable(t, s.dsn.DB); ok && d == db && n == name {
			return true
		}
	}
	return false
}

// capturedDesc names the captured tables for an error message.
func (s *Source) capturedDesc() string {
	if len(s.cfg.Tables) == 0 {
		return "every table of database " + s.dsn.DB
	}
	names := make([]string, 0, len(s.cfg.Tables))
	for _, t := range s.cfg.Tables {
		if d, n, ok := splitTable(t, s.dsn.DB); ok {
			names = append(names, d+"."+n)
		}
	}
	return strings.Join(names, ", ")
}

// isMariaDB tells how the server writes column defaults (describeTable):
// the configured flavor, else the server's version, as checkServer does.
func (s *Source) isMariaDB(c *client.Conn) (bool, error) {
	if s.cfg.Flavor != "" {
		return s.cfg.Flavor == mysql.MariaDBFlavor, nil
	}
	v, err := queryString(c, "SELECT VERSION()")
	if err != nil {
		return false, err
	}
	return strings.Contains(strings.ToLower(v), "mariadb"), nil
}

// beginReadSnapshot opens the read's transaction: REPEATABLE READ, which
// WITH CONSISTENT SNAPSHOT needs to take its view at once (every chunk
// then reads the same state), and READ ONLY, which spares InnoDB the
// transaction id; a server whose syntax lacks READ ONLY (before MySQL
// 5.6.5 or MariaDB 10.0) gets the plain statement. No lock and no binlog
// position are needed, unlike the snapshot's consistentSnapshot: the
// caller reconciles with the stream itself.
func beginReadSnapshot(c *client.Conn) error {
	const iso = "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"
	if _, err := c.Execute(iso); err != nil {
		return fmt.Errorf("%s: %w", iso, err)
	}
	_, err := c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
	var me *mysql.MyError
	if errors.As(err, &me) && me.Code == mysql.ER_PARSE_ERROR {
		_, err = c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
	}
	if err != nil {
		return fmt.Errorf("start the read transaction: %w", err)
	}
	return nil
}

// readTableErr gives err the context of the table read: one
// "mysql source:" prefix, the helpers' own dropped, and the table. err
// stays reachable (errors.Is, errors.As, sluice.IsPermanent).
func readTableErr(table string, err error) error { return &readTableError{table: table, err: err} }

type readTableError struct {
	table string
	err   error
}

func (e *readTableError) Error() string {
	return "mysql source: read table " + e.table + ": " + strings.TrimPrefix(e.err.Error(), "mysql source: ")
}

func (e *readTableError) Unwrap() error { return e.err }
