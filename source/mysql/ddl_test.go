package mysql

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// TestSchemaChanged: every DDL statement drops what the stream learned
// about tables; only one that names a captured table (bare in its default
// database, or qualified, quoted or not) is reported.
func TestSchemaChanged(t *testing.T) {
	cases := []struct {
		db, q         string
		ddl, captured bool
	}{
		{"shop", "ALTER TABLE orders ADD COLUMN c int", true, true},
		{"other", "alter table `shop`.`orders` add c int", true, true},
		{"other", "ALTER TABLE orders ADD c int", true, false},
		{"shop", "RENAME TABLE orders TO orders_v2", true, true},
		{"shop", "truncate orders", true, true},
		{"shop", "DROP TABLE orders_old", true, false},
		{"shop", "CREATE TABLE x (id int)", true, false},
		{"shop", "INSERT INTO orders VALUES (1)", false, false},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			st := newStream(&Source{log: zap.NewNop()}, &server{}, nil, []string{"shop.orders"}, position{file: "mysql-bin.000001", pos: 4}, nil)
			st.rels[1] = &relMap{}
			st.refCache["shop.orders"] = refinements{}
			if got := st.schemaChanged(c.db, c.q); got != c.captured {
				t.Errorf("schemaChanged = %v, want %v", got, c.captured)
			}
			if forgot := len(st.rels) == 0 && len(st.refCache) == 0; forgot != c.ddl {
				t.Errorf("table maps forgotten: %v, want %v", forgot, c.ddl)
			}
		})
	}
}

// TestDDLEvent: with schema_changes on, a DDL statement naming a captured
// table is a schema change event at its position, followed by its mark.
func TestDDLEvent(t *testing.T) {
	var evs []*sluice.Event
	s := &Source{cfg: Config{SchemaChanges: true}, log: zap.NewNop()}
	st := newStream(s, &server{flavor: mysql.MariaDBFlavor}, nil, []string{"shop.orders"}, position{file: "mysql-bin.000003", pos: 4},
		func(ev *sluice.Event) error { evs = append(evs, ev); return nil })
	for _, ev := range []*replication.BinlogEvent{
		at(100, 38, &replication.MariadbGTIDEvent{GTID: mysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: 9}, Flags: replication.BINLOG_MARIADB_FL_STANDALONE}),
		at(200, 62, &replication.QueryEvent{Query: []byte("ALTER TABLE orders ADD c int"), Schema: []byte("shop"), SlaveProxyID: 5}),
	} {
		if err := st.handle(ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(evs) != 2 || evs[0].Op != sluice.OpSchemaChange || evs[1].Op != sluice.OpMark {
		t.Fatalf("events %+v, want a schema change and a mark", evs)
	}
	ddl := evs[0]
	if ddl.DDL.Database != "shop" || ddl.DDL.Statement != "ALTER TABLE orders ADD c int" {
		t.Errorf("DDL %+v", ddl.DDL)
	}
	if want := lsn("mysql-bin.000003", 138); ddl.Pos.LSN != want || ddl.Pos.TxLSN != lsn("mysql-bin.000003", 62) {
		t.Errorf("position %+v, want LSN %d", ddl.Pos, want)
	}
	if b := ddl.Binlog; b.GTID != "0-1-9" || b.Thread != 5 || b.File != "mysql-bin.000003" {
		t.Errorf("binlog %+v", b)
	}
}

// TestTruncateEvent: TRUNCATE of a captured table, however the statement
// names it, is a truncate event of that table before its mark; others
// are not.
func TestTruncateEvent(t *testing.T) {
	cases := []struct {
		db, q, want string
	}{
		{"shop", "TRUNCATE orders", "shop.orders"},
		{"shop", "truncate table orders;", "shop.orders"},
		{"other", "TRUNCATE TABLE `shop`.`orders`", "shop.orders"},
		{"other", "TRUNCATE shop.orders", "shop.orders"},
		{"shop", "TRUNCATE TABLE `my table`", "shop.my table"},
		{"shop", "TRUNCATE TABLE `odd``name`", "shop.odd`name"},
		{"shop", "TRUNCATE TABLE\n\torders", "shop.orders"},
		{"other", "TRUNCATE orders", ""},
		{"shop", "TRUNCATE TABLE orders_old", ""},
		{"shop", "TRUNCATE tablex", ""},
		{"shop", "ALTER TABLE orders ADD c int", ""},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			var evs []*sluice.Event
			s := &Source{log: zap.NewNop()}
			st := newStream(s, &server{flavor: mysql.MariaDBFlavor}, nil, []string{"shop.orders", "shop.my table", "shop.odd`name"},
				position{file: "mysql-bin.000003", pos: 4}, func(ev *sluice.Event) error { evs = append(evs, ev); return nil })
			for _, ev := range []*replication.BinlogEvent{
				at(100, 38, &replication.MariadbGTIDEvent{GTID: mysql.MariadbGTID{DomainID: 0, ServerID: 1, SequenceNumber: 9}, Flags: replication.BINLOG_MARIADB_FL_STANDALONE}),
				at(200, 62, &replication.QueryEvent{Query: []byte(c.q), Schema: []byte(c.db), SlaveProxyID: 5}),
			} {
				if err := st.handle(ev); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, ev := range evs {
				if ev.Op == sluice.OpTruncate {
					got = append(got, ev.Table.DB+"."+ev.Table.Name)
					if ev.Binlog == nil || ev.Binlog.GTID != "0-1-9" || ev.Pos.TxLSN != lsn("mysql-bin.000003", 62) || ev.TxOrder != 1 {
						t.Errorf("truncate at %+v, binlog %+v, order %d", ev.Pos, ev.Binlog, ev.TxOrder)
					}
				}
			}
			if want := []string{c.want}; c.want == "" && len(got) != 0 || c.want != "" && (len(got) != 1 || got[0] != c.want) {
				t.Errorf("truncate events %q, want %q", got, want)
			}
			if last := evs[len(evs)-1]; last.Op != sluice.OpMark {
				t.Errorf("the statement ends with %s, want its mark", last.Op)
			}
		})
	}
}
