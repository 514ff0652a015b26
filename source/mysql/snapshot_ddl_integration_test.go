package mysql

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestSnapshotSchemaChanges: with schema_changes on, the snapshot writes
// Debezium's schema change events before its rows: the server's
// character set, DROP TABLE IF EXISTS per table by name, DROP/CREATE
// DATABASE and USE, then SHOW CREATE TABLE per table in Debezium's
// order, each CREATE with the table's structure (a DATE default among
// it), all with snapshot "true" and event ids of their own before the
// rows'. A zero date read from the NOT NULL column is its default.
func TestSnapshotSchemaChanges(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS snapddl_a", "DROP TABLE IF EXISTS snapddl_b",
		"CREATE TABLE snapddl_b (id int PRIMARY KEY, d date NOT NULL DEFAULT '2000-01-01') DEFAULT CHARSET=latin1",
		"CREATE TABLE snapddl_a (id bigint unsigned PRIMARY KEY, v varchar(7))",
		"SET SESSION sql_mode = ''", "INSERT INTO snapddl_b VALUES (1, '0000-00-00')")
	h.dropAfter("snapddl_a", "snapddl_b")
	h.start(map[string]any{"tables": []any{"snapddl_b", "snapddl_a"}, "snapshot": map[string]any{"mode": "initial"}, "schema_changes": true})
	evs := h.wait(9)
	if len(evs) != 9 {
		t.Fatalf("%d events, want 8 schema changes and a row", len(evs))
	}
	db := evs[1].DDL.Database
	var got []string
	ids := map[string]bool{}
	for _, ev := range evs[:8] {
		if ev.Op != sluice.OpSchemaChange || ev.Snapshot != sluice.SnapshotTrue || ev.Binlog == nil || ev.Binlog.ServerID != 0 {
			t.Fatalf("event %+v, want a snapshot schema change", ev)
		}
		stmt, _, _ := strings.Cut(ev.DDL.Statement, " (")
		got = append(got, ev.DDL.Database+"|"+ev.DDL.Table+"|"+strings.SplitN(stmt, "=", 2)[0])
		ids[eventID(ev)] = true
	}
	want := []string{"||SET character_set_server",
		db + "|snapddl_a|DROP TABLE IF EXISTS `" + db + "`.`snapddl_a`", db + "|snapddl_b|DROP TABLE IF EXISTS `" + db + "`.`snapddl_b`",
		db + "||DROP DATABASE IF EXISTS `" + db + "`", db + "||" + evs[4].DDL.Statement,
		db + "||USE `" + db + "`"}
	if cd := evs[4].DDL.Statement; !strings.HasPrefix(cd, "CREATE DATABASE `"+db+"` CHARSET ") || !strings.Contains(cd, " COLLATE ") {
		t.Errorf("%q, want CREATE DATABASE `%s` CHARSET … COLLATE …", cd, db)
	}
	for _, n := range javaHashOrder([]string{db + ".snapddl_a", db + ".snapddl_b"}) {
		_, name, _ := strings.Cut(n, ".")
		want = append(want, db+"|"+name+"|CREATE TABLE `"+name+"`")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("schema changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(ids) != 8 || ids[eventID(evs[8])] {
		t.Errorf("event ids %v and the row's %s are not all distinct", ids, eventID(evs[8]))
	}
	for _, ev := range evs[6:8] {
		ch := ev.DDL.Changes
		if len(ch) != 1 || ch[0].Type != "CREATE" || ch[0].Table == nil {
			t.Fatalf("%s: changes %+v", ev.DDL.Statement, ch)
		}
		if ch[0].Name == "snapddl_b" {
			c := ch[0].Table.Columns[1]
			if ch[0].Table.DefaultCharset != "latin1" || c.TypeName != "DATE" || !c.HasDefault || c.Default != "2000-01-01" || c.Optional {
				t.Errorf("snapddl_b structure %+v", ch[0].Table)
			}
		} else if c := ch[0].Table.Columns[0]; c.TypeName != "BIGINT UNSIGNED" || c.JDBCType != -5 {
			t.Errorf("snapddl_a structure %+v", ch[0].Table)
		}
	}
	if d := evs[1].DDL.Changes; len(d) != 1 || d[0].Type != "DROP" || d[0].Table != nil {
		t.Errorf("DROP TABLE changes %+v", d)
	}
	if r := evs[8]; r.Op != sluice.OpRead || r.After[1].Kind != sluice.KindPresent || r.After[1].Int != 10957 || r.Table.Columns[1].Default.Int != 10957 {
		t.Errorf("row %+v: the zero date should read as the default 2000-01-01 (10957)", r.After)
	}
}
