package mysql

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

const typesDDL = `CREATE TABLE types (
	id int PRIMARY KEY,
	ti tinyint, tiu tinyint unsigned, b1 tinyint(1), si smallint, siu smallint unsigned,
	mi mediumint, miu mediumint unsigned, i int, iu int unsigned, bi bigint, biu bigint unsigned,
	d decimal(20,6), dneg decimal(5,2), f float, dbl double,
	bit1 bit(1), bit12 bit(12),
	c char(5), vc varchar(50), t text,
	lat varchar(20) CHARACTER SET latin1, cyr varchar(20) CHARACTER SET cp1251, emoji varchar(20) CHARACTER SET utf8mb4,
	bn binary(4), vb varbinary(10), bl blob,
	e enum('small','medium','large'), st set('red','green','blue'),
	j json,
	dt date, tm time, tm6 time(6), dt0 datetime, dt3 datetime(3), dt6 datetime(6),
	ts timestamp NULL, ts6 timestamp(6) NULL,
	y year, g geometry, pt point
)`

// typeRows are inserted with the session in UTC+05:00: TIMESTAMPs must
// still come out as the same instants in UTC, DATETIMEs as written.
var typeRows = []string{
	`INSERT INTO types VALUES (1,
	-128, 255, 1, -32768, 65535, -8388608, 16777215, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615,
	12345678901234.567890, -0.05, 1.1, 3.141592653589793,
	b'1', b'101000000001',
	'ab', 'Grüezi "q"', 'text\nline', 'Grüezi', 'Привет', '😀',
	0x01020304, 0xdeadbeef, 'blob',
	'large', 'red,blue',
	'{"a": [1, 2.5], "b": null}',
	'2024-02-29', '-838:59:59', '12:34:56.789012', '2024-01-02 03:04:05', '1969-12-31 23:59:59.999', '9999-12-31 23:59:59.999999',
	'2024-01-02 08:04:05', '2038-01-19 08:14:07.999999',
	2024, ST_GeomFromText('LINESTRING(0 0,1 1)'), ST_GeomFromText('POINT(1 2)', 4326))`,
	`INSERT INTO types (id) VALUES (2)`,
	// Zero values; BINARY(4) 0x0100 is stored 0x01000000, which the binlog
	// logs without its trailing zeros.
	`INSERT INTO types (id, ti, dt, dt0, ts, tm, y, d, f, e, st, bn) VALUES (3, 0, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '00:00:00', 0, 0, -0.0, '', '', 0x0100)`,
	// Zero in a date (no NO_ZERO_IN_DATE in the session's sql_mode): the
	// snapshot reads a zero date, and so must the binlog after 1970 too.
	`INSERT INTO types (id, dt, dt0, dt6) VALUES (4, '2020-00-15', '2020-00-15 10:00:00', '2020-05-00 10:00:00.5')`,
}

// TestTypes: every MySQL type a streamed insert carries encodes to its
// golden form, and a snapshot read of the same row encodes identically;
// also from MariaDB's compressed row events (log_bin_compress), which
// go-mysql's decoder reads instead of the source's own (rowimage.go).
func TestTypes(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testTypes(t, false) })
	t.Run("compressed", func(t *testing.T) { testTypes(t, true) })
}

func testTypes(t *testing.T, compressed bool) {
	h := newHarness(t)
	h.exec("SET SESSION sql_mode = ''", "SET SESSION time_zone = '+05:00'", "DROP TABLE IF EXISTS types", typesDDL)
	h.dropAfter("types")
	h.exec(typeRows...)
	h.start(map[string]any{"tables": []any{"types"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 2}})
	reads := h.wait(len(typeRows))
	h.streaming()
	if compressed {
		h.compressBinlog()
	}
	from := h.binlogEnd()
	h.exec("INSERT INTO types SELECT id + 10, ti, tiu, b1, si, siu, mi, miu, i, iu, bi, biu, d, dneg, f, dbl, bit1, bit12, c, vc, t, lat, cyr, emoji, bn, vb, bl, e, st, j, dt, tm, tm6, dt0, dt3, dt6, ts, ts6, y, g, pt FROM types ORDER BY id")
	evs := h.wait(2 * len(typeRows))
	if got := h.rowsEventTypes(from); compressed != strings.Contains(got, "compressed") {
		t.Fatalf("rows events %s, compressed %v", got, compressed)
	}
	enc, err := codec.New(codec.Options{Name: "test", Connector: codec.ConnectorMySQL})
	if err != nil {
		t.Fatal(err)
	}
	var golden bytes.Buffer
	for i, r := range reads[:len(typeRows)] {
		s := evs[len(typeRows)+i]
		if r.Op != sluice.OpRead || s.Op != sluice.OpCreate {
			t.Fatalf("event %d: ops %s and %s, want r and c", i, r.Op, s.Op)
		}
		rj := string(enc.AppendRow(nil, r.Table, r.After))
		sj := string(enc.AppendRow(nil, s.Table, s.After))
		id := fmt.Sprint(r.After[0].Int)
		sj = strings.Replace(sj, fmt.Sprintf(`{"id":%d,`, s.After[0].Int), `{"id":`+id+`,`, 1)
		if rj != sj {
			t.Errorf("row %s: snapshot and binlog differ:\nsnapshot %s\nbinlog   %s", id, rj, sj)
		}
		golden.WriteString(sj + "\n")
	}
	// The Connect schema of the table, from both paths.
	schemaOf := func(ev *sluice.Event) string {
		e, _ := codec.New(codec.Options{Name: "test", Connector: codec.ConnectorMySQL, Schemas: true})
		var v struct {
			Schema json.RawMessage `json:"schema"`
		}
		if err := json.Unmarshal(e.AppendValue(nil, ev), &v); err != nil {
			t.Fatal(err)
		}
		return string(v.Schema)
	}
	if a, b := schemaOf(reads[0]), schemaOf(evs[len(typeRows)]); a != b {
		t.Errorf("snapshot and binlog schemas differ:\nsnapshot %s\nbinlog   %s", a, b)
	}
	golden.WriteString(schemaOf(evs[len(typeRows)]) + "\n")
	checkGolden(t, "types.txt", golden.Bytes())
}

// compressBinlog makes the server write compressed row events from now
// until the test ends (MariaDB's log_bin_compress, global).
func (h *harness) compressBinlog() {
	h.t.Helper()
	r, err := h.db.Execute("SELECT @@global.log_bin_compress, @@global.log_bin_compress_min_len")
	if err != nil {
		h.t.Fatal(err)
	}
	on, _ := r.GetInt(0, 0)
	minLen, _ := r.GetInt(0, 1)
	h.t.Cleanup(func() {
		h.db.Execute(fmt.Sprintf("SET GLOBAL log_bin_compress = %d", on))
		h.db.Execute(fmt.Sprintf("SET GLOBAL log_bin_compress_min_len = %d", minLen))
	})
	h.exec("SET GLOBAL log_bin_compress = ON", "SET GLOBAL log_bin_compress_min_len = 10")
}

// rowsEventTypes lists the types of the rows events the server wrote
// after binlog position from (binlogEnd), in the current binlog file.
func (h *harness) rowsEventTypes(from uint64) string {
	h.t.Helper()
	r, err := h.db.Execute("SHOW MASTER STATUS")
	if err != nil {
		h.t.Fatal(err)
	}
	file, _ := r.GetString(0, 0)
	r, err = h.db.Execute(fmt.Sprintf("SHOW BINLOG EVENTS IN '%s' FROM %d", file, uint32(from)))
	if err != nil {
		h.t.Fatal(err)
	}
	var types []string
	for i := range r.RowNumber() {
		typ, _ := r.GetString(i, 2)
		if strings.Contains(strings.ToLower(typ), "rows") {
			types = append(types, typ)
		}
	}
	return strings.ToLower(strings.Join(types, ","))
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("..", "..", "testdata", "golden", "mysql", name), got, *updateGolden)
}

// TestTransactions: single- and multi-statement transactions arrive in
// commit order with their order numbers, one transaction id each; a
// primary-key change is a delete and a create.
func TestTransactions(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS tx1", "DROP TABLE IF EXISTS tx2",
		"CREATE TABLE tx1 (id int PRIMARY KEY, v varchar(10))", "CREATE TABLE tx2 (id int PRIMARY KEY, n int)")
	h.dropAfter("tx1", "tx2")
	h.start(map[string]any{"tables": []any{"tx1", "tx2"}})
	h.streaming()
	h.exec("INSERT INTO tx1 VALUES (1, 'a')",
		"BEGIN", "INSERT INTO tx1 VALUES (2, 'b')", "INSERT INTO tx2 VALUES (1, 10)", "UPDATE tx1 SET v = 'bb' WHERE id = 2", "DELETE FROM tx1 WHERE id = 1", "COMMIT",
		"UPDATE tx2 SET id = 5 WHERE id = 1")
	evs := h.wait(7)
	type want struct {
		op     sluice.Op
		table  string
		order  int64
		tOrder int64
	}
	wants := []want{
		{sluice.OpCreate, "tx1", 1, 1},
		{sluice.OpCreate, "tx1", 1, 1}, {sluice.OpCreate, "tx2", 2, 1}, {sluice.OpUpdate, "tx1", 3, 2}, {sluice.OpDelete, "tx1", 4, 3},
		{sluice.OpDelete, "tx2", 1, 1}, {sluice.OpCreate, "tx2", 2, 2},
	}
	if len(evs) != len(wants) {
		t.Fatalf("%d events, want %d", len(evs), len(wants))
	}
	for i, w := range wants {
		ev := evs[i]
		if ev.Op != w.op || ev.Table.Name != w.table || ev.TxOrder != w.order || ev.TableOrder != w.tOrder {
			t.Errorf("event %d: %s %s order %d/%d, want %s %s %d/%d", i, ev.Op, ev.Table.Name, ev.TxOrder, ev.TableOrder, w.op, w.table, w.order, w.tOrder)
		}
		if ev.Binlog == nil || ev.Binlog.GTID == "" || ev.Binlog.TxID != ev.Binlog.GTID {
			t.Errorf("event %d: binlog %+v, want a GTID as transaction id", i, ev.Binlog)
		}
	}
	if evs[1].Binlog != evs[4].Binlog || evs[0].Binlog == evs[1].Binlog {
		t.Error("events of one transaction must share one transaction, and only those")
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Pos.TxLSN < evs[i-1].Pos.TxLSN {
			t.Errorf("event %d: transaction position %d before %d", i, evs[i].Pos.TxLSN, evs[i-1].Pos.TxLSN)
		}
	}
	if u := evs[3]; string(u.Before[1].Bytes) != "b" || string(u.After[1].Bytes) != "bb" {
		t.Errorf("update before/after: %q → %q", u.Before[1].Bytes, u.After[1].Bytes)
	}
	if d, c := evs[5], evs[6]; d.Before[0].Int != 1 || d.OtherKey[0].Int != 5 || c.After[0].Int != 5 || c.OtherKey[0].Int != 1 {
		t.Errorf("key change: delete %v/%v create %v/%v", d.Before, d.OtherKey, c.After, c.OtherKey)
	}
}

// TestAlterWhileStreaming: events before and after ALTER TABLE carry the
// columns of their time, also when a restart resumes before the ALTER.
func TestAlterWhileStreaming(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS alt", "CREATE TABLE alt (id int PRIMARY KEY, a varchar(10))")
	h.dropAfter("alt", "alt_other")
	h.start(map[string]any{"tables": []any{"alt"}})
	h.streaming()
	h.exec("INSERT INTO alt VALUES (1, 'x')")
	h.wait(1)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	offsets := filepath.Join(h.stateDir, h.name+".mysql.json")
	before, err := os.ReadFile(offsets)
	if err != nil {
		t.Fatal(err)
	}
	h.start(map[string]any{"tables": []any{"alt"}})
	h.streaming()
	h.exec("DROP TABLE IF EXISTS alt_other", "CREATE TABLE alt_other (id int PRIMARY KEY)", "ALTER TABLE alt_other ADD COLUMN z int",
		"ALTER TABLE alt ADD COLUMN b int DEFAULT 5", "INSERT INTO alt VALUES (2, 'y', 6)",
		"ALTER TABLE alt DROP COLUMN a", "INSERT INTO alt VALUES (3, 7)",
		"ALTER TABLE alt CHANGE b c bigint", "INSERT INTO alt VALUES (4, 8)")
	check := func(all []*sluice.Event) {
		t.Helper()
		var evs []*sluice.Event
		var ddl []string
		for _, ev := range all {
			if ev.Op == sluice.OpSchemaChange {
				ddl = append(ddl, ev.DDL.Database+": "+ev.DDL.Statement)
				continue
			}
			evs = append(evs, ev)
		}
		wantDDL := []string{"sluice: ALTER TABLE alt ADD COLUMN b int DEFAULT 5", "sluice: ALTER TABLE alt DROP COLUMN a", "sluice: ALTER TABLE alt CHANGE b c bigint"}
		if strings.Join(ddl, "\n") != strings.Join(wantDDL, "\n") {
			t.Errorf("schema change events:\n%s\nwant:\n%s", strings.Join(ddl, "\n"), strings.Join(wantDDL, "\n"))
		}
		if len(evs) != 3 {
			t.Fatalf("%d row events, want 3", len(evs))
		}
		want := []string{"id,a,b", "id,b", "id,c"}
		for i, w := range want {
			var names []string
			for _, c := range evs[i].Table.Columns {
				names = append(names, c.Name)
			}
			if got := strings.Join(names, ","); got != w {
				t.Errorf("insert %d: columns %s, want %s", i+2, got, w)
			}
			if evs[i].After[0].Int != int64(i+2) {
				t.Errorf("insert %d: id %d", i+2, evs[i].After[0].Int)
			}
		}
		if evs[0].After[2].Int != 6 || evs[1].After[1].Int != 7 || evs[2].After[1].Int != 8 {
			t.Errorf("values after the ALTERs: %v %v %v", evs[0].After, evs[1].After, evs[2].After)
		}
		if evs[2].Table.Columns[1].Type != sluice.TypeInt64 {
			t.Errorf("c is %s, want int64 after MODIFY to bigint", evs[2].Table.Columns[1].Type)
		}
	}
	check(h.wait(6))
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	// Resume from the offset stored before the ALTERs.
	if err := os.WriteFile(offsets, before, 0o644); err != nil {
		t.Fatal(err)
	}
	h.start(map[string]any{"tables": []any{"alt"}})
	check(h.wait(6))
}

// TestPreconditions: a server that cannot feed row capture, or a user
// without replication privileges, is a permanent error saying what to fix.
func TestPreconditions(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS pre", "CREATE TABLE pre (id int PRIMARY KEY)")
	h.dropAfter("pre")
	run := func(extra map[string]any) error {
		s := h.newSource(extra)
		ctx, cancel := contextTimeout(20 * time.Second)
		defer cancel()
		return s.Run(ctx, func(*sluice.Event) error { return nil })
	}
	for _, tc := range []struct{ variable, bad, good, want string }{
		{"binlog_format", "STATEMENT", "ROW", "binlog_format is STATEMENT, not ROW"},
		{"binlog_row_image", "MINIMAL", "FULL", "binlog_row_image is MINIMAL, not FULL"},
		{"binlog_row_metadata", "MINIMAL", "FULL", "binlog_row_metadata is MINIMAL, not FULL"},
	} {
		t.Run(tc.variable, func(t *testing.T) {
			h.exec(fmt.Sprintf("SET GLOBAL %s = '%s'", tc.variable, tc.bad))
			defer h.exec(fmt.Sprintf("SET GLOBAL %s = '%s'", tc.variable, tc.good))
			err := run(map[string]any{"tables": []any{"pre"}})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !sluice.IsPermanent(err) {
				t.Fatalf("got %v, want a permanent error containing %q", err, tc.want)
			}
		})
	}
	t.Run("privileges", func(t *testing.T) {
		dsn := testenv.Get(t, "SLUICE_TEST_MYSQL_NOPRIV_DSN")
		err := run(map[string]any{"dsn": dsn, "tables": []any{"pre"}})
		if err == nil || !strings.Contains(err.Error(), "lacks REPLICATION SLAVE and REPLICATION CLIENT") || !sluice.IsPermanent(err) {
			t.Fatalf("got %v, want the missing privileges named", err)
		}
	})
	t.Run("missing table", func(t *testing.T) {
		err := run(map[string]any{"tables": []any{"pre", "no_such_table"}})
		if err == nil || !strings.Contains(err.Error(), "sluice.no_such_table") || !sluice.IsPermanent(err) {
			t.Fatalf("got %v, want the missing table named", err)
		}
	})
	t.Run("purged position", func(t *testing.T) {
		o := &offset{Version: 1, File: "mysql-bin.999998", Pos: 4, GTIDs: ""}
		if err := (&fileStore{path: filepath.Join(h.stateDir, h.name+".mysql.json")}).Save(nil, o); err != nil {
			t.Fatal(err)
		}
		err := run(map[string]any{"tables": []any{"pre"}})
		if err == nil || !strings.Contains(err.Error(), "when_needed") || !sluice.IsPermanent(err) {
			t.Fatalf("got %v, want a purged-position error naming when_needed", err)
		}
	})
}

// TestSnapshotResume: a crash in the middle of the snapshot resumes at
// the last acknowledged chunk, and every row is read.
func TestSnapshotResume(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS snap", "CREATE TABLE snap (id int PRIMARY KEY, v varchar(20))",
		"INSERT INTO snap SELECT seq, CONCAT('row ', seq) FROM seq_1_to_1000")
	h.dropAfter("snap")
	opts := map[string]any{"tables": []any{"snap"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 100}}
	h.failAfter = 350
	h.start(opts)
	<-h.c.Done()
	if err := h.stop(); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	first := h.wait(0)
	h.failAfter = 0
	h.start(opts)
	h.streaming()
	second := h.wait(700)
	if len(second) != 700 {
		t.Fatalf("second run read %d rows, want 700 (1000 minus the 3 acknowledged chunks)", len(second))
	}
	seen := map[int64]bool{}
	for _, ev := range append(first[:300], second...) {
		if ev.Op != sluice.OpRead {
			t.Fatalf("unexpected %s event", ev.Op)
		}
		seen[ev.After[0].Int] = true
	}
	if len(seen) != 1000 {
		t.Fatalf("%d distinct rows read, want 1000", len(seen))
	}
	if second[0].After[0].Int != 301 || second[len(second)-1].Snapshot != sluice.SnapshotLast {
		t.Errorf("second run starts at id %d (want 301), ends with marker %q (want last)", second[0].After[0].Int, second[len(second)-1].Snapshot)
	}
	// The progress the metrics endpoint shows: all rows, counted across
	// the restart, and an estimate from information_schema.
	p := h.src.SnapshotProgress()
	if len(p) != 1 || p[0].Table != "sluice.snap" || p[0].Rows != 1000 || !p[0].Done || p[0].Estimated < 0 {
		t.Errorf("SnapshotProgress() = %+v, want sluice.snap with 1000 rows, done, an estimate", p)
	}
}

// TestSnapshotWhileWriting: rows changed while the snapshot reads end
// in the state the table has: the snapshot and the stream meet at one
// binlog position.
func TestSnapshotWhileWriting(t *testing.T) {
	h := newHarness(t)
	const n = 5000
	h.exec("DROP TABLE IF EXISTS snapw", "CREATE TABLE snapw (id int PRIMARY KEY, v bigint NOT NULL)",
		fmt.Sprintf("INSERT INTO snapw SELECT seq, 0 FROM seq_1_to_%d", n))
	h.dropAfter("snapw")
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		d, _ := parseDSN(h.dsn)
		c, err := connectPlain(d)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		defer c.Close()
		i := 0
		for ; ; i++ {
			select {
			case <-stop:
				done <- i
				return
			default:
			}
			id := (i*7919)%n + 1
			switch i % 10 {
			case 0:
				c.Execute(fmt.Sprintf("DELETE FROM snapw WHERE id = %d", id))
			case 1:
				c.Execute(fmt.Sprintf("INSERT INTO snapw VALUES (%d, 1000000) ON DUPLICATE KEY UPDATE v = v + 1", n+i))
			default:
				c.Execute(fmt.Sprintf("UPDATE snapw SET v = v + 1 WHERE id = %d", id))
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	h.start(map[string]any{"tables": []any{"snapw"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 250}})
	h.streaming()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	writes := <-done
	h.exec("INSERT INTO snapw VALUES (-1, 0)") // a sentinel after every write
	evs := h.c.WaitFor("the sentinel", func(evs []*sluice.Event) bool {
		last := len(evs) - 1
		return last >= 0 && evs[last].Op == sluice.OpCreate && evs[last].After[0].Int == -1
	})
	state := map[int64]int64{}
	reads := 0
	for _, ev := range evs {
		switch ev.Op {
		case sluice.OpRead, sluice.OpCreate, sluice.OpUpdate:
			state[ev.After[0].Int] = ev.After[1].Int
			if ev.Op == sluice.OpRead {
				reads++
			}
		case sluice.OpDelete:
			delete(state, ev.Before[0].Int)
		}
	}
	r, err := h.db.Execute("SELECT id, v FROM snapw")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes while snapshotting, %d reads, %d events", writes, reads, len(evs))
	table := map[int64]int64{}
	for i := 0; i < r.RowNumber(); i++ {
		id, _ := r.GetInt(i, 0)
		v, _ := r.GetInt(i, 1)
		table[id] = v
	}
	testenv.SameState(t, state, table)
}

// TestMariaDBServerChangeInDomain: transactions of one GTID domain
// written under two server ids (a switchover read through
// log_slave_updates, a replica's local write, SET SESSION server_id) leave
// a position of one GTID per domain, the last, which is all MariaDB's
// @slave_connect_state accepts: the restart resumes after it.
func TestMariaDBServerChangeInDomain(t *testing.T) {
	h := newHarness(t)
	r, err := h.db.Execute("SELECT VERSION() LIKE '%MariaDB%', @@GLOBAL.server_id")
	if err != nil {
		t.Fatal(err)
	}
	if maria, _ := r.GetInt(0, 0); maria != 1 {
		testenv.Missing(t, "MariaDB GTIDs only: the test server is not MariaDB")
	}
	sid, _ := r.GetUint(0, 1)
	h.exec("DROP TABLE IF EXISTS gtid_servers", "CREATE TABLE gtid_servers (id int PRIMARY KEY)")
	h.dropAfter("gtid_servers")
	opts := map[string]any{"tables": []any{"gtid_servers"}}
	h.start(opts)
	h.streaming()
	h.exec("INSERT INTO gtid_servers VALUES (1)",
		fmt.Sprintf("SET SESSION server_id = %d", sid+1000), "INSERT INTO gtid_servers VALUES (2)",
		"SET SESSION server_id = @@GLOBAL.server_id")
	if got := ids(h.wait(2)); got != "c1 c2" {
		t.Fatalf("first run: %s, want c1 c2", got)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	h.start(opts)
	h.streaming()
	h.exec("INSERT INTO gtid_servers VALUES (3)")
	if got := ids(h.wait(1)); got != "c3" {
		t.Fatalf("after the restart: %s, want c3", got)
	}
}
