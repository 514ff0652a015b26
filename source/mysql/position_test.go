package mysql

import (
	"strconv"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

const serverUUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"

// feed runs events through a stream of the given flavor and returns the
// marks it emitted.
func feed(t *testing.T, flavor, gtids string, events ...*replication.BinlogEvent) []sluice.Position {
	t.Helper()
	set, err := mysql.ParseGTIDSet(flavor, gtids)
	if err != nil {
		t.Fatal(err)
	}
	var marks []sluice.Position
	s := &Source{log: zap.NewNop()}
	st := newStream(s, &server{flavor: flavor, gtid: true}, nil, nil, position{file: "mysql-bin.000007", pos: 4, gtids: set},
		func(ev *sluice.Event) error {
			if ev.Op != sluice.OpMark {
				t.Fatalf("unexpected %s event", ev.Op)
			}
			marks = append(marks, ev.Pos)
			return nil
		})
	for _, ev := range events {
		if err := st.handle(ev); err != nil {
			t.Fatal(err)
		}
	}
	return marks
}

func at(pos, size uint32, e replication.Event) *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{LogPos: pos, EventSize: size, ServerID: 1}, Event: e}
}

// TestMySQLFlavorPositions: MySQL GTIDs (uuid:n) accumulate into the
// executed set a restart resumes from; transactions, DDL without BEGIN,
// heartbeats and rotations each leave the right position.
func TestMySQLFlavorPositions(t *testing.T) {
	sid := uuid.MustParse(serverUUID)
	marks := feed(t, mysql.MySQLFlavor, serverUUID+":1-5",
		at(0, 0, &replication.RotateEvent{Position: 4, NextLogName: []byte("mysql-bin.000008")}),
		at(200, 65, &replication.GTIDEvent{SID: sid[:], GNO: 6}),
		at(280, 80, &replication.QueryEvent{Query: []byte("BEGIN"), SlaveProxyID: 9}),
		at(311, 31, &replication.XIDEvent{XID: 77}),
		at(376, 65, &replication.GTIDEvent{SID: sid[:], GNO: 7}),
		at(500, 124, &replication.QueryEvent{Query: []byte("CREATE TABLE x (id int)"), Schema: []byte("shop")}),
		&replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.HEARTBEAT_EVENT, LogPos: 600}, Event: &replication.GenericEvent{}},
		&replication.BinlogEvent{Header: &replication.EventHeader{EventType: replication.HEARTBEAT_EVENT, LogPos: 600}, Event: &replication.GenericEvent{}},
	)
	want := []struct {
		pos   uint32
		gtids string
	}{{311, serverUUID + ":1-6"}, {500, serverUUID + ":1-7"}, {600, serverUUID + ":1-7"}}
	if len(marks) != len(want) {
		t.Fatalf("%d marks, want %d: %+v", len(marks), len(want), marks)
	}
	for i, w := range want {
		parts := strings.Split(marks[i].Resume, "\x00")
		if parts[0] != "mysql-bin.000008" || parts[1] != strconv.Itoa(int(w.pos)) || parts[2] != w.gtids {
			t.Errorf("mark %d: %q, want file mysql-bin.000008 pos %d gtids %s", i, marks[i].Resume, w.pos, w.gtids)
		}
		if marks[i].TxLSN != 8<<32|uint64(w.pos) {
			t.Errorf("mark %d: TxLSN %x", i, marks[i].TxLSN)
		}
	}
	// The stored offset resumes from the same GTID set with the MySQL
	// flavor's parser.
	w := &writer{srv: &server{serverID: 1}}
	o, err := w.offsetOf(marks[1].Resume)
	if err != nil {
		t.Fatal(err)
	}
	p, err := offsetPosition(&server{flavor: mysql.MySQLFlavor, gtid: true}, o)
	if err != nil || p.gtids.String() != serverUUID+":1-7" || p.file != "mysql-bin.000008" || p.pos != 500 {
		t.Fatalf("resume position %+v, %v", p, err)
	}
	// Without GTIDs the file and offset are the position.
	p, err = offsetPosition(&server{flavor: mysql.MySQLFlavor}, o)
	if err != nil || p.gtids != nil || p.pos != 500 {
		t.Fatalf("file position %+v, %v", p, err)
	}
}

// TestMariaDBFlavorPositions: MariaDB GTIDs (domain-server-seq) keep the
// last sequence number per domain; a transaction spans GTID to XID.
func TestMariaDBFlavorPositions(t *testing.T) {
	marks := feed(t, mysql.MariaDBFlavor, "0-1-41",
		at(100, 38, &replication.MariadbGTIDEvent{GTID: mysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: 42}}),
		at(150, 50, &replication.QueryEvent{Query: []byte("SAVEPOINT a")}),
		at(200, 31, &replication.XIDEvent{}),
		at(238, 38, &replication.MariadbGTIDEvent{GTID: mysql.MariadbGTID{DomainID: 1, ServerID: 2, SequenceNumber: 7}, Flags: replication.BINLOG_MARIADB_FL_STANDALONE}),
		at(300, 62, &replication.QueryEvent{Query: []byte("ALTER TABLE t ADD c int")}),
	)
	if len(marks) != 2 {
		t.Fatalf("%d marks, want 2 (a statement inside a transaction does not commit it): %+v", len(marks), marks)
	}
	if got := strings.Split(marks[0].Resume, "\x00")[2]; got != "0-1-42" {
		t.Errorf("after the first transaction: %q", got)
	}
	set, _ := mysql.ParseMariadbGTIDSet(strings.Split(marks[1].Resume, "\x00")[2])
	want, _ := mysql.ParseMariadbGTIDSet("0-1-42,1-2-7")
	if !set.Equal(want) {
		t.Errorf("after the DDL: %s, want %s", set, want)
	}
}

func TestLSNOrdersAcrossFiles(t *testing.T) {
	if !(lsn("mysql-bin.000009", 4_000_000) < lsn("mysql-bin.000010", 4)) {
		t.Fatal("a position in a later file must sort after every position of an earlier one")
	}
}

// TestResumeTokenMatchesGoMySQL: the fast formatting of resume tokens and
// MariaDB GTIDs gives exactly what go-mysql's String methods give.
func TestResumeTokenMatchesGoMySQL(t *testing.T) {
	parse := func(flavor, s string) mysql.GTIDSet {
		g, err := mysql.ParseGTIDSet(flavor, s)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	for _, c := range []struct {
		name  string
		gtids mysql.GTIDSet
	}{
		{"no GTIDs", nil},
		{"one MariaDB GTID", parse(mysql.MariaDBFlavor, "0-1-12345")},
		{"large numbers", parse(mysql.MariaDBFlavor, "4294967295-4294967295-18446744073709551615")},
		{"two domains", parse(mysql.MariaDBFlavor, "0-1-10,1-2-20")},
		{"two servers in a domain", parse(mysql.MariaDBFlavor, "0-1-10,0-2-20")},
		{"empty MariaDB set", parse(mysql.MariaDBFlavor, "")},
		{"MySQL set", parse(mysql.MySQLFlavor, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := position{file: "mysql-bin.000042", pos: 1234, gtids: c.gtids}
			g := ""
			if c.gtids != nil {
				g = c.gtids.String()
			}
			if got, want := string(p.appendResume([]byte("junk")[:0])), "mysql-bin.000042\x001234\x00"+g; got != want {
				t.Errorf("resume token %q, want %q", got, want)
			}
		})
	}
	for _, g := range []mysql.MariadbGTID{{}, {DomainID: 0, ServerID: 1, SequenceNumber: 1}, {DomainID: 7, ServerID: 0, SequenceNumber: 0}, {DomainID: 1, ServerID: 2, SequenceNumber: 1 << 63}} {
		if got, want := string(appendMariaGTID(nil, &g)), g.String(); got != want {
			t.Errorf("appendMariaGTID(%+v) = %q, want %q", g, got, want)
		}
	}
}

// TestMariaGTIDStartRefuses: only a MariaDB GTID set's text (digits,
// hyphens, commas) goes into the session variable's literal.
func TestMariaGTIDStartRefuses(t *testing.T) {
	for _, state := range []string{"0-1-5'", "0-1-5; SET x=1", "a-b-c"} {
		if err := mariaGTIDStart(nil, state); err == nil {
			t.Errorf("mariaGTIDStart(%q) = nil, want an error", state)
		}
	}
}

// TestStoredMariaGTIDsOnePerDomain: an offset saved with two GTIDs of
// one domain (before addMariaGTID kept one) resumes after the domain's
// highest, as MariaDB refuses two.
func TestStoredMariaGTIDsOnePerDomain(t *testing.T) {
	srv := &server{flavor: mysql.MariaDBFlavor, gtid: true}
	for _, c := range []struct{ stored, want string }{
		{"0-1-42,0-2-43", "0-2-43"},
		{"0-2-43,0-1-42,1-5-7", "0-2-43,1-5-7"},
		{"0-1-5,1-1-6", "0-1-5,1-1-6"},
	} {
		p, err := offsetPosition(srv, &offset{Version: 1, File: "mysql-bin.000001", Pos: 4, GTIDs: c.stored})
		if err != nil {
			t.Fatal(err)
		}
		if got := p.gtids.String(); got != c.want {
			t.Errorf("stored %s resumes after %s, want %s", c.stored, got, c.want)
		}
	}
}

// TestAddMariaGTID holds the GTID set apart from the GTID the stream
// reuses for every transaction, and a commit of a known domain and server
// to no allocation.
func TestAddMariaGTID(t *testing.T) {
	set, err := mysql.ParseMariadbGTIDSet("0-1-5")
	if err != nil {
		t.Fatal(err)
	}
	s := set.(*mysql.MariadbGTIDSet)
	var g mysql.MariadbGTID
	for _, step := range []struct {
		gtid mysql.MariadbGTID
		want string
	}{
		{mysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: 6}, "0-1-6"},
		{mysql.MariadbGTID{DomainID: 1, ServerID: 2, SequenceNumber: 9}, "0-1-6,1-2-9"},
		{mysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: 7}, "0-1-7,1-2-9"},
		// A domain's position is its last GTID, whichever server wrote it.
		{mysql.MariadbGTID{DomainID: 1, ServerID: 3, SequenceNumber: 10}, "0-1-7,1-3-10"},
		{mysql.MariadbGTID{DomainID: 1, ServerID: 2, SequenceNumber: 11}, "0-1-7,1-2-11"},
	} {
		g = step.gtid
		if err := addMariaGTID(s, &g); err != nil {
			t.Fatal(err)
		}
		g = mysql.MariadbGTID{DomainID: 1, ServerID: 2, SequenceNumber: 1000} // the next transaction's
		if got := s.String(); got != step.want {
			t.Fatalf("after %v: set %s, want %s", step.gtid, got, step.want)
		}
	}
	g = mysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: 8}
	n := testing.AllocsPerRun(100, func() {
		g.SequenceNumber++
		if err := addMariaGTID(s, &g); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("a known domain and server: %v allocations, want 0", n)
	}
}
