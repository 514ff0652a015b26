package mysql

import (
	"encoding/binary"
	"fmt"
	"strings"
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
