package mysql

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestReadTable: ReadTable gives the rows of a captured table with the
// table description and values the stream gives for the same rows, both
// before Run (a source that never ran) and while Run streams.
func TestReadTable(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS rt_types", `CREATE TABLE rt_types (
		id int PRIMARY KEY,
		vc varchar(50) NOT NULL DEFAULT 'none',
		d decimal(12,3),
		dt datetime(3),
		ts timestamp(6) NULL,
		j json,
		n bigint NULL,
		e enum('small','medium','large'),
		vb varbinary(8),
		f double
	)`)
	h.dropAfter("rt_types")
	opts := map[string]any{"tables": []any{"rt_types"}, "snapshot": map[string]any{"mode": "never", "chunk_size": 2}}
	h.start(opts)
	h.streaming()
	h.exec(
		`INSERT INTO rt_types VALUES (3, 'Grüezi "q" 😀', -12.5, '2024-02-29 23:59:59.999', '2024-01-02 03:04:05.123456', '{"a": [1, 2.5], "b": null}', -9223372036854775808, 'large', 0x00ff, 1.5)`,
		`INSERT INTO rt_types (id) VALUES (1)`,
		`INSERT INTO rt_types VALUES (7, '', 0, '1970-01-01 00:00:00', NULL, '[]', 0, 'small', '', -0.25)`,
		`INSERT INTO rt_types VALUES (5, 'five', 999999999.999, '9999-12-31 23:59:59.999', '2038-01-19 03:14:07.999999', '"text"', 42, 'medium', 0x01020304, 1e300)`,
		`INSERT INTO rt_types VALUES (2, 'two', 0.001, '2000-01-01 00:00:00', '2000-01-01 00:00:00', '{"nested": {"x": [true, false]}}', NULL, NULL, NULL, NULL)`,
		`UPDATE rt_types SET vc = 'one', n = 1, e = 'small' WHERE id = 1`,
		`DELETE FROM rt_types WHERE id = 7`,
	)
	evs := h.wait(7)
	// The table's state as the stream tells it: the last image of each key.
	state := map[int64]sluice.Row{}
	var streamed *sluice.Table
	for _, ev := range evs {
		switch ev.Op {
		case sluice.OpCreate, sluice.OpUpdate:
			state[ev.After[0].Int] = ev.After
		case sluice.OpDelete:
			delete(state, ev.Before[0].Int)
		default:
			t.Fatalf("unexpected %s event", ev.Op)
		}
		streamed = ev.Table
	}
	check := func(t *testing.T, src *Source) {
		tab, rows := eventtest.ReadAll(t, src, "sluice.rt_types")
		if tab == nil {
			t.Fatal("ReadTable gave no rows")
		}
		eventtest.SameTable(t, tab, streamed)
		if len(rows) != len(state) {
			t.Fatalf("read %d rows, the stream says %d", len(rows), len(state))
		}
		want := []int64{1, 2, 3, 5}
		for i, row := range rows {
			id := row[0].Int
			if id != want[i] {
				t.Fatalf("row %d has id %d, want %d (key order)", i, id, want[i])
			}
			eventtest.SameRow(t, tab, fmt.Sprintf("id %d", id), row, state[id])
		}
	}
	t.Run("while running", func(t *testing.T) { check(t, h.src) })
	t.Run("before run", func(t *testing.T) { check(t, h.newSource(opts)) })
	t.Run("bare name", func(t *testing.T) {
		if _, rows := eventtest.ReadAll(t, h.newSource(opts), "rt_types"); len(rows) != len(state) {
			t.Fatalf("read %d rows, want %d", len(rows), len(state))
		}
	})
	// The stream still runs after the reads, and agrees with them.
	h.exec(`INSERT INTO rt_types VALUES (9, 'nine', 9, '2009-09-09 09:09:09', NULL, '{}', 9, 'large', 0x09, 9)`)
	evs = h.wait(8)
	if ev := evs[7]; ev.Op != sluice.OpCreate || ev.After[0].Int != 9 {
		t.Fatalf("after the reads the stream gave %s id %d, want c 9", ev.Op, ev.After[0].Int)
	}
	_, rows := eventtest.ReadAll(t, h.src, "sluice.rt_types")
	eventtest.SameRow(t, evs[7].Table, fmt.Sprintf("id %d", 9), rows[len(rows)-1], evs[7].After)
}

// TestReadTableRefused: tables the source does not capture are refused
// with a permanent error naming the table, by the rules that choose what
// Run streams: the tables key, or every base table of the DSN's database.
func TestReadTableRefused(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS rt_in", "DROP TABLE IF EXISTS rt_out", "DROP VIEW IF EXISTS rt_view",
		"CREATE TABLE rt_in (id int PRIMARY KEY)", "CREATE TABLE rt_out (id int PRIMARY KEY)",
		"CREATE VIEW rt_view AS SELECT id FROM rt_in", "INSERT INTO rt_in VALUES (1)")
	h.dropAfter("rt_in", "rt_out")
	t.Cleanup(func() { h.db.Execute("DROP VIEW IF EXISTS rt_view") })
	refused := func(t *testing.T, src *Source, table, want string) {
		t.Helper()
		ctx, cancel := contextTimeout(30 * time.Second)
		defer cancel()
		called := false
		err := src.ReadTable(ctx, table, func(*sluice.Table, sluice.Row) error { called = true; return nil })
		t.Logf("ReadTable(%s): %v", table, err)
		if err == nil || !sluice.IsPermanent(err) || !strings.Contains(err.Error(), want) ||
			!strings.HasPrefix(err.Error(), "mysql source: read table ") {
			t.Fatalf("ReadTable(%s) = %v, want a permanent error containing %q", table, err, want)
		}
		if called {
			t.Errorf("ReadTable(%s) called fn", table)
		}
	}
	listed := h.newSource(map[string]any{"tables": []any{"rt_in"}})
	t.Run("not listed", func(t *testing.T) {
		refused(t, listed, "sluice.rt_out", "read table sluice.rt_out: the source does not capture it")
	})
	t.Run("other database", func(t *testing.T) { refused(t, listed, "mysql.user", "does not capture") })
	t.Run("not a name", func(t *testing.T) { refused(t, listed, "a.b.c", "not a table name") })
	all := h.newSource(nil)
	t.Run("default other database", func(t *testing.T) { refused(t, all, "mysql.user", "does not capture") })
	t.Run("default view", func(t *testing.T) { refused(t, all, "sluice.rt_view", "no base table") })
	t.Run("default missing", func(t *testing.T) { refused(t, all, "sluice.rt_missing", "no base table") })
	t.Run("default captured", func(t *testing.T) {
		if _, rows := eventtest.ReadAll(t, all, "sluice.rt_in"); len(rows) != 1 {
			t.Fatalf("read %d rows of rt_in, want 1", len(rows))
		}
	})
}

// TestReadTableChunks: a table of many chunks comes back whole, in key
// order, with a two-column key whose first column is an ENUM (ordered by
// its labels' positions, not alphabetically); a table without a key is
// read in one pass.
func TestReadTableChunks(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS rt_chunk", "DROP TABLE IF EXISTS rt_nokey",
		"CREATE TABLE rt_chunk (g enum('z','y','x') NOT NULL, n int NOT NULL, v varchar(20), PRIMARY KEY (g, n))",
		"CREATE TABLE rt_nokey (a int, b varchar(10))",
		// Inserted out of key order.
		"INSERT INTO rt_chunk SELECT ELT(1 + seq % 3, 'x', 'z', 'y'), (seq * 37) % 101, CONCAT('v', seq) FROM seq_1_to_100",
		"INSERT INTO rt_nokey SELECT seq, CONCAT('b', seq) FROM seq_1_to_10")
	h.dropAfter("rt_chunk", "rt_nokey")
	src := h.newSource(map[string]any{"tables": []any{"rt_chunk", "rt_nokey"}, "snapshot": map[string]any{"mode": "never", "chunk_size": 7}})
	_, rows := eventtest.ReadAll(t, src, "sluice.rt_chunk")
	if len(rows) != 100 {
		t.Fatalf("read %d rows, want 100", len(rows))
	}
	rank := map[string]int{"z": 0, "y": 1, "x": 2}
	seen := map[string]bool{}
	for i, row := range rows {
		k := fmt.Sprintf("%s/%d", row[0].Bytes, row[1].Int)
		if seen[k] {
			t.Fatalf("row %d: key %s read twice", i, k)
		}
		seen[k] = true
		if i == 0 {
			continue
		}
		p := rows[i-1]
		pr, r := rank[string(p[0].Bytes)], rank[string(row[0].Bytes)]
		if pr > r || pr == r && p[1].Int >= row[1].Int {
			t.Fatalf("row %d: key %s/%d after %s/%d, not in key order", i, row[0].Bytes, row[1].Int, p[0].Bytes, p[1].Int)
		}
	}
	tab, rows := eventtest.ReadAll(t, src, "sluice.rt_nokey")
	if len(rows) != 10 || len(tab.Key) != 0 {
		t.Fatalf("keyless table: %d rows, key %v; want 10 rows, no key", len(rows), tab.Key)
	}
}

// TestReadTableStops: a cancelled ctx ends the read, between chunks or
// in the middle of one, with ctx's error; an error of fn ends it and is
// returned as it is.
func TestReadTableStops(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS rt_stop", "DROP TABLE IF EXISTS rt_stop_nokey",
		"CREATE TABLE rt_stop (id int PRIMARY KEY, v varchar(20))", "CREATE TABLE rt_stop_nokey (id int, v varchar(20))",
		"INSERT INTO rt_stop SELECT seq, CONCAT('v', seq) FROM seq_1_to_1000",
		"INSERT INTO rt_stop_nokey SELECT seq, CONCAT('v', seq) FROM seq_1_to_1000")
	h.dropAfter("rt_stop", "rt_stop_nokey")
	src := h.newSource(map[string]any{"tables": []any{"rt_stop", "rt_stop_nokey"}, "snapshot": map[string]any{"mode": "never", "chunk_size": 10}})
	for _, table := range []string{"sluice.rt_stop", "sluice.rt_stop_nokey"} {
		t.Run("cancel "+table, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			n := 0
			err := src.ReadTable(ctx, table, func(_ *sluice.Table, row sluice.Row) error {
				if row == nil {
					return nil
				}
				if n++; n == 15 {
					cancel()
				}
				return nil
			})
			if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "mysql source: read table "+table+": ") {
				t.Fatalf("ReadTable = %v, want context.Canceled with the table's context", err)
			}
			if n != 15 {
				t.Errorf("fn called %d times, want 15: the read must stop at once", n)
			}
		})
		t.Run("fn error "+table, func(t *testing.T) {
			boom := errors.New("boom")
			n := 0
			ctx, cancel := contextTimeout(30 * time.Second)
			defer cancel()
			err := src.ReadTable(ctx, table, func(_ *sluice.Table, row sluice.Row) error {
				if row == nil {
					return nil
				}
				if n++; n == 25 {
					return boom
				}
				return nil
			})
			if err != boom || n != 25 {
				t.Fatalf("ReadTable = %v after %d rows, want fn's error as it is after 25", err, n)
			}
		})
	}
	t.Run("cancelled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := src.ReadTable(ctx, "sluice.rt_stop", func(*sluice.Table, sluice.Row) error {
			t.Error("fn called with a cancelled ctx")
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ReadTable = %v, want context.Canceled", err)
		}
	})
	t.Run("deadline while the server sends", func(t *testing.T) {
		// A deadline that passes while fn holds a keyless read: the
		// next row is refused and the read ends with the deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := src.ReadTable(ctx, "sluice.rt_stop_nokey", func(_ *sluice.Table, row sluice.Row) error {
			if row == nil {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
			return nil
		})
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Fatalf("ReadTable = %v after %s, want the deadline soon after 200ms", err, time.Since(start))
		}
	})
	t.Run("deadline while the server waits", func(t *testing.T) {
		// Another session's table lock holds the read inside the server
		// (the client library does not watch ctx there).
		h.exec("LOCK TABLES rt_stop WRITE")
		defer h.exec("UNLOCK TABLES")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := src.ReadTable(ctx, "sluice.rt_stop", func(_ *sluice.Table, row sluice.Row) error {
			if row == nil {
				return nil
			}
			t.Error("fn called while the table is locked")
			return nil
		})
		t.Logf("ReadTable: %v after %s", err, time.Since(start))
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
			t.Fatalf("ReadTable = %v after %s, want the deadline soon after 300ms", err, time.Since(start))
		}
	})
}

// TestReadTableTLS: ReadTable connects with the tls block, before Run
// ever set up Run's TLS: the account used refuses plaintext.
func TestReadTableTLS(t *testing.T) {
	ca := testenv.Get(t, "SLUICE_TEST_MYSQL_CA_FILE")
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS rt_tls", "CREATE TABLE rt_tls (id int PRIMARY KEY)", "INSERT INTO rt_tls VALUES (1), (2)")
	h.dropAfter("rt_tls")
	d, err := parseDSN(h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	dsn := fmt.Sprintf("sluicetls:sluicetls@tcp(%s)/%s", d.addr(), d.DB)
	src := h.newSource(map[string]any{"dsn": dsn, "tables": []any{"rt_tls"}, "tls": map[string]any{"enabled": true, "ca_file": ca}})
	if _, rows := eventtest.ReadAll(t, src, "sluice.rt_tls"); len(rows) != 2 {
		t.Fatalf("read %d rows over TLS, want 2", len(rows))
	}
	plain := h.newSource(map[string]any{"dsn": dsn, "tables": []any{"rt_tls"}})
	ctx, cancel := contextTimeout(30 * time.Second)
	defer cancel()
	if err := plain.ReadTable(ctx, "sluice.rt_tls", func(*sluice.Table, sluice.Row) error { return nil }); err == nil {
		t.Fatal("ReadTable without TLS succeeded for an account that requires it")
	}
	bad := h.newSource(map[string]any{"dsn": dsn, "tables": []any{"rt_tls"}, "tls": map[string]any{"enabled": true, "ca_file": filepath.Join(t.TempDir(), "missing.pem")}})
	err = bad.ReadTable(ctx, "sluice.rt_tls", func(*sluice.Table, sluice.Row) error { return nil })
	if err == nil || !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "tls.ca_file") {
		t.Fatalf("ReadTable with a missing CA file = %v, want a permanent error naming tls.ca_file", err)
	}
}
