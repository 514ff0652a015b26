package mysql

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"

	"github.com/sluice-cdc/sluice"
)

// xaConn opens a second connection for XA transactions and rolls back
// the given XIDs at the end of the test, whatever happened: a prepared XA
// transaction outlives its connection and would hold its locks.
func (h *harness) xaConn(xids ...string) *client.Conn {
	h.t.Helper()
	d, err := parseDSN(h.dsn)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := connectPlain(d)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		c.Close()
		for _, x := range xids {
			h.db.Execute("XA ROLLBACK '" + x + "'") // fails when already ended
		}
	})
	return c
}

func execOn(t *testing.T, c *client.Conn, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := c.Execute(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// ids lists the first column of the events' rows.
func ids(evs []*sluice.Event) string {
	var out []string
	for _, ev := range evs {
		row := ev.After
		if row == nil {
			row = ev.Before
		}
		out = append(out, fmt.Sprintf("%s%d", ev.Op, row[0].Int))
	}
	return strings.Join(out, " ")
}

// TestXARollbackIsNotPublished: MariaDB (and MySQL) write an XA
// transaction to the binlog when it is prepared, before anyone knows
// whether it will commit. Its rows are published at XA COMMIT, never
// after XA ROLLBACK; one-phase XA commits are ordinary transactions.
func TestXARollbackIsNotPublished(t *testing.T) {
	h := newHarness(t)
	x := fmt.Sprintf("sluice_xa_%d", time.Now().UnixNano())
	h.exec("DROP TABLE IF EXISTS xa_t", "CREATE TABLE xa_t (id int PRIMARY KEY, v int)")
	h.dropAfter("xa_t")
	xc := h.xaConn(x+"1", x+"2", x+"3")
	h.start(map[string]any{"tables": []any{"xa_t"}})
	h.streaming()
	execOn(t, xc, "XA START '"+x+"1'", "INSERT INTO xa_t VALUES (1, 1), (2, 2)", "XA END '"+x+"1'", "XA PREPARE '"+x+"1'")
	h.exec("INSERT INTO xa_t VALUES (10, 10)") // commits while x1 is prepared
	execOn(t, xc, "XA ROLLBACK '"+x+"1'",
		"XA START '"+x+"2'", "INSERT INTO xa_t VALUES (3, 3)", "XA END '"+x+"2'", "XA PREPARE '"+x+"2'")
	h.exec("INSERT INTO xa_t VALUES (11, 11)")
	execOn(t, xc, "XA COMMIT '"+x+"2'",
		"XA START '"+x+"3'", "UPDATE xa_t SET v = 4 WHERE id = 3", "XA END '"+x+"3'", "XA COMMIT '"+x+"3' ONE PHASE")
	h.exec("INSERT INTO xa_t VALUES (12, 12)")
	evs := h.wait(5)
	if got, want := ids(evs), "c10 c11 c3 u3 c12"; got != want {
		t.Errorf("events %s, want %s (the rolled back rows 1 and 2 never, the prepared row 3 at its commit)", got, want)
	}
}

// TestXAPreparedSurvivesRestart: rows of an XA transaction prepared before
// a restart and committed after it are published: the stored offset does
// not pass a prepared transaction until its outcome is read, so a restart
// reads its rows again.
func TestXAPreparedSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	x := fmt.Sprintf("sluice_xa_%d", time.Now().UnixNano())
	h.exec("DROP TABLE IF EXISTS xa_r", "CREATE TABLE xa_r (id int PRIMARY KEY, v int)")
	h.dropAfter("xa_r")
	xc := h.xaConn(x)
	h.start(map[string]any{"tables": []any{"xa_r"}})
	h.streaming()
	execOn(t, xc, "XA START '"+x+"'", "INSERT INTO xa_r VALUES (1, 1)", "XA END '"+x+"'", "XA PREPARE '"+x+"'")
	h.exec("INSERT INTO xa_r VALUES (2, 2)")
	first := h.wait(1)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	execOn(t, xc, "XA COMMIT '"+x+"'")
	h.start(map[string]any{"tables": []any{"xa_r"}})
	h.streaming()
	h.exec("INSERT INTO xa_r VALUES (3, 3)")
	second := h.wait(2)
	if got := ids(first); got != "c2" {
		t.Errorf("before the restart: %s, want c2 (row 1 is only prepared)", got)
	}
	if got := ids(second); !strings.HasSuffix(got, "c1 c3") {
		t.Errorf("after the restart and XA COMMIT: %s, want … c1 c3 (row 2 may repeat)", got)
	}
}

// xaPrepareEvent is an XA_PREPARE_LOG_EVENT for gtrid with format id 1.
func xaPrepareEvent(pos, size uint32, gtrid string, onePhase bool) *replication.BinlogEvent {
	b := make([]byte, 13, 13+len(gtrid))
	if onePhase {
		b[0] = 1
	}
	binary.LittleEndian.PutUint32(b[1:], 1)
	binary.LittleEndian.PutUint32(b[5:], uint32(len(gtrid)))
	b = append(b, gtrid...)
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.XA_PREPARE_LOG_EVENT, LogPos: pos, EventSize: size, ServerID: 1},
		Event: &replication.GenericEvent{Data: b}}
}

// TestXAMySQLFlavor: MySQL's XA groups (XA START in a query event, no
// MariaDB flags): while a prepared transaction is pending, every mark
// resumes before its group; its XA COMMIT (or a one-phase XA_PREPARE)
// ends that; the held resume position is the group's start with the GTID
// set before it.
func TestXAMySQLFlavor(t *testing.T) {
	sid := uuid.MustParse(serverUUID)
	marks := feed(t, mysql.MySQLFlavor, serverUUID+":1-5",
		at(0, 0, &replication.RotateEvent{Position: 4, NextLogName: []byte("mysql-bin.000009")}),
		at(200, 65, &replication.GTIDEvent{SID: sid[:], GNO: 6}), // the XA group starts at 135
		at(260, 60, &replication.QueryEvent{Query: []byte("XA START X'7831',X'',1")}),
		at(320, 60, &replication.QueryEvent{Query: []byte("XA END X'7831',X'',1")}),
		xaPrepareEvent(360, 40, "x1", false),
		at(425, 65, &replication.GTIDEvent{SID: sid[:], GNO: 7}),
		at(480, 55, &replication.QueryEvent{Query: []byte("BEGIN")}),
		at(511, 31, &replication.XIDEvent{XID: 78}),
		at(576, 65, &replication.GTIDEvent{SID: sid[:], GNO: 8}),
		at(650, 74, &replication.QueryEvent{Query: []byte("XA COMMIT X'7831',X'',1")}),
		at(715, 65, &replication.GTIDEvent{SID: sid[:], GNO: 9}), // one phase
		at(775, 60, &replication.QueryEvent{Query: []byte("XA START X'7832',X'',1")}),
		at(835, 60, &replication.QueryEvent{Query: []byte("XA END X'7832',X'',1")}),
		xaPrepareEvent(875, 40, "x2", true),
	)
	held := "mysql-bin.000009\x00135\x00" + serverUUID + ":1-5"
	want := []string{
		held, // after the prepare: resume before it
		held, // a transaction while it is pending
		"mysql-bin.000009\x00650\x00" + serverUUID + ":1-8",
		"mysql-bin.000009\x00875\x00" + serverUUID + ":1-9",
	}
	if len(marks) != len(want) {
		t.Fatalf("%d marks, want %d: %+v", len(marks), len(want), marks)
	}
	for i, w := range want {
		if marks[i].Resume != w {
			t.Errorf("mark %d resumes at %q, want %q", i, marks[i].Resume, w)
		}
		if i > 0 && marks[i].TxLSN <= marks[i-1].TxLSN {
			t.Errorf("mark %d at %d after %d: marks must still grow", i, marks[i].TxLSN, marks[i-1].TxLSN)
		}
	}
}

// xaRig is a MySQL-flavored stream with a table shop.orders (id INT key,
// v INT, table id 1) and an incremental snapshot job on it, fed binlog
// events at consecutive positions: the XA checks of the snapshot windows
// that need no server.
type xaRig struct {
	t   *testing.T
	in  *incremental
	st  *stream
	w   *window
	pos uint32 // end of the last event fed
	got []*sluice.Event
	p   *replication.BinlogParser
	gno int64
}

func newXARig(t *testing.T) *xaRig {
	x := &xaRig{t: t, in: newBareIncremental(t, "orders"), pos: 4, gno: 5,
		p: fzParser(replication.UPDATE_ROWS_EVENTv2, nil)}
	set, err := mysql.ParseGTIDSet(mysql.MySQLFlavor, serverUUID+":1-5")
	if err != nil {
		t.Fatal(err)
	}
	x.st = newStream(x.in.src, &server{flavor: mysql.MySQLFlavor, gtid: true}, nil, nil, position{file: "mysql-bin.000001", pos: 4, gtids: set},
		func(ev *sluice.Event) error { x.got = append(x.got, ev); return nil })
	x.st.inc = x.in
	tbl := &sluice.Table{DB: "shop", Name: "orders", Key: []int{0},
		Columns: []sluice.Column{{Name: "id", Type: sluice.TypeInt32, Key: true}, {Name: "v", Type: sluice.TypeInt32}}}
	x.st.rels[1] = &relMap{rel: &relation{table: tbl, cols: []colInfo{{kind: kInt}, {kind: kInt}}}}
	// A table map of two INT columns, for the parser to decode rows.
	tm := append([]byte{1, 0, 0, 0, 0, 0, 0, 0, 4}, "shop\x00\x06orders\x00"...)
	if _, err := x.p.Parse(fzEvent(replication.TABLE_MAP_EVENT, append(tm, 2, mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_LONG, 0, 0))); err != nil {
		t.Fatal(err)
	}
	job := &incJob{Table: "shop.orders", running: true}
	x.in.st.Jobs = []*incJob{job}
	return x
}

// put places ev after the last event fed, size bytes long.
func (x *xaRig) put(size uint32, ev *replication.BinlogEvent) *replication.BinlogEvent {
	x.pos += size
	ev.Header.LogPos, ev.Header.EventSize = x.pos, size
	return ev
}

func (x *xaRig) query(q string) *replication.BinlogEvent {
	return x.put(60, at(0, 0, &replication.QueryEvent{Query: []byte(q)}))
}

func (x *xaRig) gtid() *replication.BinlogEvent {
	x.gno++
	sid := uuid.MustParse(serverUUID)
	return x.put(65, at(0, 0, &replication.GTIDEvent{SID: sid[:], GNO: x.gno}))
}

// update is the rows event of UPDATE orders SET v = to WHERE id = 5 (v
// was from), decoded as go-mysql decodes it.
func (x *xaRig) update(from, to int32) *replication.BinlogEvent {
	body := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 3, 3}
	for _, v := range []int32{from, to} {
		body = binary.LittleEndian.AppendUint32(append(body, 0), 5)
		body = binary.LittleEndian.AppendUint32(body, uint32(v))
	}
	ev, err := x.p.Parse(fzEvent(replication.UPDATE_ROWS_EVENTv2, body))
	if err != nil {
		x.t.Fatal(err)
	}
	return x.put(40, ev)
}

// prepared is the group of an XA transaction xid (x'…' of gtrid, as the
// server writes it) that updates row 5 from v 1 to 2, prepared or, with
// onePhase, committed in one phase.
func (x *xaRig) prepared(gtrid string, onePhase bool) []*replication.BinlogEvent {
	xid := "X'" + hex.EncodeToString([]byte(gtrid)) + "',X'',1"
	return []*replication.BinlogEvent{x.gtid(), x.query("XA START " + xid), x.update(1, 2), x.query("XA END " + xid),
		x.put(40, xaPrepareEvent(0, 0, gtrid, onePhase))}
}

// outcome is the group of XA COMMIT (or XA ROLLBACK: stmt) of gtrid.
func (x *xaRig) outcome(stmt, gtrid string) []*replication.BinlogEvent {
	return []*replication.BinlogEvent{x.gtid(), x.query(stmt + " X'" + hex.EncodeToString([]byte(gtrid)) + "',X'',1")}
}

// handle reads events as the stream's run does.
func (x *xaRig) handle(groups ...[]*replication.BinlogEvent) {
	x.t.Helper()
	for _, g := range groups {
		for _, ev := range g {
			if err := x.st.handle(ev); err != nil {
				x.t.Fatal(err)
			}
			x.st.end = max(x.st.end, x.st.lsn(ev.Header.LogPos))
		}
	}
}

// open opens a chunk's window, as the worker does before its snapshot.
func (x *xaRig) open() {
	x.w = &window{job: x.in.st.Jobs[0], db: "shop", name: "orders", rel: x.st.rels[1].rel, dirty: map[string]uint64{}, done: make(chan struct{})}
	x.in.open(x.w)
}

// read makes the chunk the one a consistent snapshot at the position
// fed so far reads: row 5 with v.
func (x *xaRig) read(v int64) {
	x.w.pos = lsn("mysql-bin.000001", x.pos)
	x.w.rows = []sluice.Row{{{Kind: sluice.KindPresent, Int: 5}, {Kind: sluice.KindPresent, Int: v}}}
	x.w.final = true
}

// flush hands the chunk over and has the stream emit it; it returns the
// change events emitted (op, id=v), marks left out.
func (x *xaRig) flush() string {
	x.t.Helper()
	x.in.handOver(x.w)
	if err := x.st.flushChunk(); err != nil {
		x.t.Fatal(err)
	}
	select {
	case <-x.w.done:
	default:
		x.t.Fatal("the chunk was not emitted")
	}
	var out []string
	for _, ev := range x.got {
		if ev.Op != sluice.OpMark {
			out = append(out, fmt.Sprintf("%s%d=%d", ev.Op, ev.After[0].Int, ev.After[1].Int))
		}
	}
	return strings.Join(out, " ")
}

// TestXASnapshotWindow: an XA transaction's rows are emitted at its XA
// COMMIT, not where they are in the binlog (at its prepare): the window
// records their keys at the commit. So a chunk read after the prepare and
// before the commit (which does not see the prepared change) loses its
// row to the newer update when the stream read the commit first; a
// rolled back transaction, whose rows are never emitted, takes no row
// from a chunk.
func TestXASnapshotWindow(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(x *xaRig)
		want string
	}{
		{"committed after the chunk's position", func(x *xaRig) {
			x.open()
			x.handle(x.prepared("x1", false))
			x.read(1)
			x.handle(x.outcome("XA COMMIT", "x1"))
		}, "u5=2"},
		{"window opened after the prepare", func(x *xaRig) {
			x.handle(x.prepared("x1", false))
			x.open()
			x.read(1)
			x.handle(x.outcome("XA COMMIT", "x1"))
		}, "u5=2"},
		{"prepared after the chunk's position and rolled back", func(x *xaRig) {
			x.open()
			x.read(1)
			x.handle(x.prepared("x1", false), x.outcome("XA ROLLBACK", "x1"))
		}, "r5=1"},
		{"committed in one phase after the chunk's position", func(x *xaRig) {
			x.open()
			x.read(1)
			x.handle(x.prepared("x1", true))
		}, "u5=2"},
		{"committed before the chunk's position", func(x *xaRig) {
			x.open()
			x.handle(x.prepared("x1", false), x.outcome("XA COMMIT", "x1"))
			x.read(2)
		}, "u5=2 r5=2"},
		{"an ordinary transaction after the chunk's position", func(x *xaRig) {
			x.open()
			x.read(1)
			x.handle([]*replication.BinlogEvent{x.gtid(), x.query("BEGIN"), x.update(1, 2), x.put(31, at(0, 0, &replication.XIDEvent{XID: 9}))})
		}, "u5=2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := newXARig(t)
			c.run(x)
			if got := x.flush(); got != c.want {
				t.Errorf("events %s, want %s", got, c.want)
			}
		})
	}
}

// TestMySQLIncrementalXA: a chunk read while an XA transaction is
// prepared does not see its change, which the stream emits at XA COMMIT;
// when the stream reads that commit before the chunk is handed over, the
// chunk's row must not follow the update. An XA transaction prepared
// after the chunk was read and rolled back takes no row from it.
func TestMySQLIncrementalXA(t *testing.T) {
	it := newIncTest(t, 10)
	x := fmt.Sprintf("sluice_xa_%d", time.Now().UnixNano())
	committed, rolledBack := it.xaConn(x+"c"), it.xaConn(x+"r")
	var once sync.Once
	hooks := &incHooks{afterRead: func(ctx context.Context, _ string) (err error) {
		// The chunk was read: row 5 as before the prepared update.
		once.Do(func() {
			for _, q := range []string{"XA START '" + x + "r'", "UPDATE " + it.table + " SET v = 2 WHERE id = 7", "XA END '" + x + "r'", "XA PREPARE '" + x + "r'", "XA ROLLBACK '" + x + "r'"} {
				if _, err = rolledBack.Execute(q); err != nil {
					return
				}
			}
			if _, err = committed.Execute("XA COMMIT '" + x + "c'"); err != nil {
				return
			}
			it.c.Wait(1) // the stream read both outcomes, in binlog order
		})
		return err
	}}
	it.startWith(it.opts(100), hooks)
	it.streaming()
	execOn(t, committed, "XA START '"+x+"c'", "UPDATE "+it.table+" SET v = 1 WHERE id = 5", "XA END '"+x+"c'", "XA PREPARE '"+x+"c'")
	it.execute("xa-1", "")
	it.jobs("the snapshot to complete", func(j sluice.IncrementalSnapshotJobs) bool { return j.Completed == 1 })
	events := it.c.WaitMark(it.binlogEnd())
	if got := ids(events[:1]); got != "u5" {
		t.Fatalf("first event %s, want u5 (the XA COMMIT, read before the chunk)", got)
	}
	if reads := it.checkEvents(events, true); reads != 9 {
		t.Errorf("%d rows read, want 9: all but row 5, updated after the chunk's position", reads)
	}
}
