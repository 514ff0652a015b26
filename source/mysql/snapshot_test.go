package mysql

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// dropAfter drops the tables when the test ends.
func (h *harness) dropAfter(tables ...string) {
	h.t.Cleanup(func() {
		for _, t := range tables {
			h.db.Execute("DROP TABLE IF EXISTS " + t)
		}
	})
}

// eventID is the sluice.event.id header the sinks give ev.
func eventID(ev *sluice.Event) string { return string(codec.AppendEventID(nil, ev)) }

// TestSnapshotEventIDs: every snapshot row has its own event id (consumers
// that drop repeated ids would otherwise keep one row per snapshot), across
// tables and across a resumed snapshot; a row read again after the crash
// keeps its ordinal, and its whole id when the resumed snapshot reads the
// same binlog position (nothing was committed in between); an id never
// names two different rows.
func TestSnapshotEventIDs(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS snapid_a", "DROP TABLE IF EXISTS snapid_b",
		"CREATE TABLE snapid_a (id int PRIMARY KEY, v varchar(20))", "CREATE TABLE snapid_b (id int PRIMARY KEY, v varchar(20))",
		"INSERT INTO snapid_a SELECT seq, CONCAT('a', seq) FROM seq_1_to_300",
		"INSERT INTO snapid_b SELECT seq, CONCAT('b', seq) FROM seq_1_to_500")
	h.dropAfter("snapid_a", "snapid_b")
	opts := map[string]any{"tables": []any{"snapid_a", "snapid_b"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 100}}
	// A crash at the 451st row: snapid_a and the first chunk of snapid_b
	// are acknowledged, rows 101-150 of snapid_b were emitted but not.
	h.failAfter = 450
	h.start(opts)
	<-h.c.Done()
	if err := h.stop(); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	first := h.c.Events()
	h.failAfter = 0
	h.start(opts)
	h.streaming()
	second := h.wait(400)

	rowOf := func(ev *sluice.Event) string { return fmt.Sprintf("%s:%d", ev.Table.Name, ev.After[0].Int) }
	owner := map[string]string{} // id → the row it names
	for run, evs := range [][]*sluice.Event{first, second} {
		seen := map[string]bool{}
		for _, ev := range evs {
			id := eventID(ev)
			if seen[id] {
				t.Fatalf("run %d: event id %s given to two rows (%s and another)", run+1, id, rowOf(ev))
			}
			seen[id] = true
			if o, ok := owner[id]; ok && o != rowOf(ev) {
				t.Fatalf("event id %s names %s in one run and %s in another", id, o, rowOf(ev))
			}
			owner[id] = rowOf(ev)
		}
	}
	if len(first) != 450 || len(second) != 400 {
		t.Fatalf("runs read %d and %d rows, want 450 and 400", len(first), len(second))
	}
	// Rows 101-150 of snapid_b were read by both runs.
	sameView := first[0].Pos.TxLSN == second[0].Pos.TxLSN
	for i := range 50 {
		a, b := first[400+i], second[i]
		if rowOf(a) != rowOf(b) {
			t.Fatalf("re-read row %d: %s, first read %s", i, rowOf(b), rowOf(a))
		}
		if a.TxOrder != b.TxOrder {
			t.Errorf("%s: ordinal %d when read again, %d the first time", rowOf(b), b.TxOrder, a.TxOrder)
		}
		if sameView && eventID(a) != eventID(b) {
			t.Errorf("%s: id %s when read again at the same binlog position, %s the first time", rowOf(b), eventID(b), eventID(a))
		}
	}
	t.Logf("resumed snapshot at the first one's position: %v (ids %s … %s)", sameView, eventID(second[0]), eventID(second[len(second)-1]))
	if o := second[len(second)-1].TxOrder; o != 800 {
		t.Errorf("the last row of the snapshot has ordinal %d, want 800", o)
	}
	// The stream starts at the first snapshot's position: the first
	// transaction after it starts there, and its events are numbered
	// from 1 too. Their ids must not be the snapshot rows'.
	h.exec("INSERT INTO snapid_a VALUES (1001, 'c'), (1002, 'c')")
	for _, ev := range h.wait(402)[400:] {
		if o, ok := owner[eventID(ev)]; ok {
			t.Errorf("streamed insert of %s has the id %s of the snapshot row %s", rowOf(ev), eventID(ev), o)
		}
	}
}

// TestSnapshotKeylessTableStreams: a table without a key is read in one
// pass whose rows go out while the server still sends the rest, so memory
// holds what the pipeline buffers, not the table: when the first row
// waits in emit, the server is still busy with the SELECT.
func TestSnapshotKeylessTableStreams(t *testing.T) {
	h := newHarness(t)
	const n = 20000 // 80 MB: more than the loopback socket buffers hold
	h.exec("DROP TABLE IF EXISTS snapnokey", "CREATE TABLE snapnokey (n int NOT NULL, pad varchar(4000) NOT NULL)",
		"SET SESSION sql_log_bin = 0", // the rows need not fill the binlog
		fmt.Sprintf("INSERT INTO snapnokey SELECT seq, REPEAT('x', 4000) FROM seq_1_to_%d", n),
		"SET SESSION sql_log_bin = 1")
	h.dropAfter("snapnokey")
	block, first := make(chan struct{}), make(chan struct{})
	released := false
	release := func() {
		if !released {
			released = true
			close(block)
		}
	}
	defer release()
	blocked := false
	h.start(map[string]any{"tables": []any{"snapnokey"}, "snapshot": map[string]any{"mode": "initial"}},
		testenv.Reject(func(ev *sluice.Event) error {
			if ev.Op == sluice.OpRead && !blocked {
				blocked = true
				close(first)
				<-block
			}
			return nil
		}))
	select {
	case <-first:
	case <-time.After(testenv.WaitLimit):
		t.Fatal("no snapshot row")
	}
	r, err := h.db.Execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND INFO LIKE '%snapnokey%'")
	if err != nil {
		t.Fatal(err)
	}
	if busy, _ := r.GetInt(0, 0); busy == 0 {
		t.Errorf("the first row was emitted after the server had sent the whole table: it was read into memory")
	}
	release()
	evs := h.wait(n)
	if len(evs) != n || evs[n-1].Snapshot != sluice.SnapshotLast || evs[0].Snapshot != sluice.SnapshotFirst {
		t.Fatalf("%d rows, markers %s … %s; want %d, first … last", len(evs), evs[0].Snapshot, evs[len(evs)-1].Snapshot, n)
	}
	seen := map[int64]bool{}
	for _, ev := range evs {
		seen[ev.After[0].Int] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct rows, want %d", len(seen), n)
	}
}

// withGlobalSQLMode runs the test's next source under the global sql_mode
// plus mode: a session takes the global mode when it connects. The global
// mode is restored as soon as start returns and at the end of the test.
func (h *harness) withGlobalSQLMode(mode string, start func()) {
	h.t.Helper()
	r, err := h.db.Execute("SELECT @@GLOBAL.sql_mode")
	if err != nil {
		h.t.Fatal(err)
	}
	orig, _ := r.GetString(0, 0)
	restore := func() {
		if _, err := h.db.Execute("SET GLOBAL sql_mode = ?", orig); err != nil {
			h.t.Errorf("restore sql_mode: %v", err)
		}
	}
	h.t.Cleanup(restore)
	if _, err := h.db.Execute("SET GLOBAL sql_mode = ?", orig+","+mode); err != nil {
		h.t.Fatal(err)
	}
	start()
	restore()
}

// TestSnapshotKeysAreParameters: the keyset pagination passes the last
// key as a statement parameter, so keys holding quotes and backslashes
// page right whatever the session's sql_mode (NO_BACKSLASH_ESCAPES makes
// a backslash an ordinary character in string literals).
func TestSnapshotKeysAreParameters(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS snapesc", "DROP TABLE IF EXISTS snapescbin",
		"CREATE TABLE snapesc (k varchar(20) PRIMARY KEY, v int)", "CREATE TABLE snapescbin (k varbinary(8) PRIMARY KEY)")
	h.dropAfter("snapesc", "snapescbin")
	keys := []string{`a'b`, `a\b`, `a\'b`, `b\`, `it''s`, `plain`, `z\\'`, `'`, `\`}
	for i, k := range keys {
		if _, err := h.db.Execute("INSERT INTO snapesc VALUES (?, ?)", k, i); err != nil {
			t.Fatal(err)
		}
	}
	bins := [][]byte{{0}, {'\''}, {'\\'}, {'\\', '\''}, {0xff, 0}, {0xff}}
	for _, k := range bins {
		if _, err := h.db.Execute("INSERT INTO snapescbin VALUES (?)", k); err != nil {
			t.Fatal(err)
		}
	}
	h.withGlobalSQLMode("NO_BACKSLASH_ESCAPES", func() {
		h.start(map[string]any{"tables": []any{"snapesc", "snapescbin"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 1}})
		h.c.Wait(1) // the snapshot's connection is open
	})
	evs := h.wait(len(keys) + len(bins))
	r, err := h.db.Execute("SELECT k FROM snapesc ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for i := 0; i < r.RowNumber(); i++ {
		k, _ := r.GetString(i, 0)
		want = append(want, k)
	}
	r, err = h.db.Execute("SELECT k FROM snapescbin ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < r.RowNumber(); i++ {
		k, _ := r.GetString(i, 0)
		want = append(want, fmt.Sprintf("%x", k))
	}
	for _, ev := range evs {
		if ev.Op != sluice.OpRead {
			continue
		}
		if ev.Table.Name == "snapescbin" {
			got = append(got, fmt.Sprintf("%x", ev.After[0].Bytes))
		} else {
			got = append(got, string(ev.After[0].Bytes))
		}
	}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("snapshot read\n %s\nwant (ORDER BY k)\n %s", strings.Join(got, " | "), strings.Join(want, " | "))
	}
}

// TestSnapshotEnumAndSetKeys: ENUM and SET columns sort by their number
// (the ENUM's label index, the SET's bits), not by their labels, so the
// keyset pagination compares numbers too: every row is read once, in the
// order ORDER BY gives, with label orders that differ from the
// alphabetical one, alone and in a composite key.
func TestSnapshotEnumAndSetKeys(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS snapenum", "DROP TABLE IF EXISTS snapset",
		"CREATE TABLE snapenum (k enum('zebra','apple','mango') PRIMARY KEY, v int)",
		"INSERT INTO snapenum VALUES ('mango', 3), ('apple', 2), ('zebra', 1)",
		"CREATE TABLE snapset (k set('b','a','c') NOT NULL, n int NOT NULL, PRIMARY KEY (k, n))",
		"INSERT INTO snapset VALUES ('a,c', 2), ('c', 1), ('a', 1), ('b', 2), ('b', 1), ('a,b', 1)")
	h.dropAfter("snapenum", "snapset")
	h.start(map[string]any{"tables": []any{"snapenum", "snapset"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 1}})
	evs := h.wait(9)
	var got []string
	for _, ev := range evs {
		if ev.Table.Name == "snapenum" {
			got = append(got, string(ev.After[0].Bytes))
		} else {
			got = append(got, fmt.Sprintf("%s/%d", ev.After[0].Bytes, ev.After[1].Int))
		}
	}
	want := "zebra apple mango b/1 b/2 a/1 b,a/1 c/1 a,c/2"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("snapshot read %s\nwant (ORDER BY k) %s", g, want)
	}
}

// TestTruncateDuringResumedSnapshot: a snapshot resumed after a crash
// reads the rest of a table in a new transaction, and the stream then
// replays what happened since the first snapshot's position. A TRUNCATE
// in between must reach consumers as a truncate, so the rows read before
// the crash do not stay: the folded stream equals the table.
func TestTruncateDuringResumedSnapshot(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS snaptrunc", "CREATE TABLE snaptrunc (id int PRIMARY KEY, v int)",
		"INSERT INTO snaptrunc SELECT seq, 0 FROM seq_1_to_500")
	h.dropAfter("snaptrunc")
	opts := map[string]any{"tables": []any{"snaptrunc"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 100}}
	h.failAfter = 250
	h.start(opts)
	<-h.c.Done()
	if err := h.stop(); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	first := h.c.Events()
	h.exec("UPDATE snaptrunc SET v = 1 WHERE id = 7", "TRUNCATE TABLE snaptrunc",
		"INSERT INTO snaptrunc VALUES (1000, 1), (1001, 1)", "UPDATE snaptrunc SET v = 2 WHERE id = 1001")
	h.failAfter = 0
	h.start(opts)
	h.streaming()
	h.exec("INSERT INTO snaptrunc VALUES (-1, 0)") // a sentinel after everything
	second := h.c.WaitFor("the sentinel", func(evs []*sluice.Event) bool {
		last := len(evs) - 1
		return last >= 0 && evs[last].Op == sluice.OpCreate && evs[last].After[0].Int == -1
	})
	state := map[int64]int64{}
	truncates := 0
	for _, ev := range append(first, second...) {
		switch ev.Op {
		case sluice.OpRead, sluice.OpCreate, sluice.OpUpdate:
			state[ev.After[0].Int] = ev.After[1].Int
		case sluice.OpDelete:
			delete(state, ev.Before[0].Int)
		case sluice.OpTruncate:
			truncates++
			if ev.Table == nil || ev.Table.DB != "sluice" || ev.Table.Name != "snaptrunc" || ev.Binlog == nil {
				t.Errorf("truncate event of %+v, binlog %+v; want sluice.snaptrunc with its binlog position", ev.Table, ev.Binlog)
			}
			clear(state)
		}
	}
	if truncates != 1 {
		t.Errorf("%d truncate events, want 1", truncates)
	}
	testenv.SameState(t, state, map[int64]int64{1000: 1, 1001: 2, -1: 0})
}

// TestSnapshotCrashBeforeFirstChunk: a crash before the sinks acknowledged
// the first chunk resumes the same snapshot (its start is stored before
// its first row), streaming from its position, instead of taking a new
// one at a later position: rows the first attempt delivered and that were
// deleted in between get their deletes, none stays in the folded state.
func TestSnapshotCrashBeforeFirstChunk(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS snapcrash", "CREATE TABLE snapcrash (id int PRIMARY KEY, v int)",
		"INSERT INTO snapcrash SELECT seq, 0 FROM seq_1_to_300")
	h.dropAfter("snapcrash")
	opts := map[string]any{"tables": []any{"snapcrash"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 100}}
	h.failAfter = 50 // within the first chunk: nothing acknowledged
	h.start(opts)
	<-h.c.Done()
	if err := h.stop(); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	first := h.c.Events()
	h.exec("DELETE FROM snapcrash WHERE id <= 10", "UPDATE snapcrash SET v = 1 WHERE id = 20")
	h.failAfter = 0
	h.start(opts)
	h.streaming()
	h.exec("INSERT INTO snapcrash VALUES (-1, 0)") // a sentinel after everything
	second := h.c.WaitFor("the sentinel", func(evs []*sluice.Event) bool {
		last := len(evs) - 1
		return last >= 0 && evs[last].Op == sluice.OpCreate && evs[last].After[0].Int == -1
	})
	state := map[int64]int64{}
	for _, ev := range append(first, second...) {
		switch ev.Op {
		case sluice.OpRead, sluice.OpCreate, sluice.OpUpdate:
			state[ev.After[0].Int] = ev.After[1].Int
		case sluice.OpDelete:
			delete(state, ev.Before[0].Int)
		}
	}
	want := map[int64]int64{-1: 0}
	for id := int64(11); id <= 300; id++ {
		want[id] = 0
	}
	want[20] = 1
	testenv.SameState(t, state, want)
}

// TestSnapshotTableDroppedMidway: a table listed for the snapshot and
// dropped before the snapshot read it (here between a crash and the
// resumed snapshot; in the field between the listing and the read) is
// skipped with a warning, not retried forever: the other tables finish
// and the stream starts. Capture is database-wide, so the next start no
// longer lists the dropped table.
func TestSnapshotTableDroppedMidway(t *testing.T) {
	h := newHarness(t)
	const db = "sluice_snapgone"
	h.exec("DROP DATABASE IF EXISTS "+db, "CREATE DATABASE "+db,
		"CREATE TABLE "+db+".a (id int PRIMARY KEY, v int)", "INSERT INTO "+db+".a SELECT seq, 0 FROM seq_1_to_300",
		"CREATE TABLE "+db+".b (id int PRIMARY KEY, v int)", "INSERT INTO "+db+".b SELECT seq, 0 FROM seq_1_to_10")
	t.Cleanup(func() { h.db.Execute("DROP DATABASE IF EXISTS " + db) })
	d, err := parseDSN(h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	opts := map[string]any{"dsn": fmt.Sprintf("%s:%s@tcp(%s)/%s", d.User, d.Password, d.addr(), db), "snapshot": map[string]any{"mode": "initial", "chunk_size": 100}}
	h.failAfter = 150 // in a's second chunk: its first is acknowledged
	h.start(opts)
	<-h.c.Done()
	if err := h.stop(); !errors.Is(err, errCrash) {
		t.Fatalf("first run: %v, want the simulated crash", err)
	}
	first := h.c.Events()
	h.exec("DROP TABLE " + db + ".b")
	h.failAfter = 0
	h.start(opts)
	h.streaming()
	h.exec("INSERT INTO " + db + ".a VALUES (-1, 0)") // a sentinel after everything
	second := h.c.WaitFor("the sentinel", func(evs []*sluice.Event) bool {
		last := len(evs) - 1
		return last >= 0 && evs[last].Op == sluice.OpCreate && evs[last].After[0].Int == -1
	})
	state := map[int64]int64{}
	for _, ev := range append(first, second...) {
		if ev.Table != nil && ev.Table.Name != "a" {
			continue
		}
		switch ev.Op {
		case sluice.OpRead, sluice.OpCreate, sluice.OpUpdate:
			state[ev.After[0].Int] = ev.After[1].Int
		}
	}
	want := map[int64]int64{-1: 0}
	for id := int64(1); id <= 300; id++ {
		want[id] = 0
	}
	testenv.SameState(t, state, want)
}
