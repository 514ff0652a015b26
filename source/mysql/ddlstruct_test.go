package mysql

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// TestTableStructureMatchesDebezium: the structures read from DDL text
// equal the tableChanges Debezium 3.6.1 wrote for the MariaDB fixture:
// the snapshot's SHOW CREATE TABLE statements, and the streamed ALTERs
// (ADD with a default, DROP, CHANGE) applied to the snapshot's rid, the
// streamed CREATE TABLE (INT without display width: no length) and DROP.
func TestTableStructureMatchesDebezium(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "testdata", "golden", "debezium", "mariadb", "defaults", "dbzmaria.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[string]*sluice.TableStructure{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	checked := 0
	for sc.Scan() {
		var rec struct{ Value string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		var v struct {
			DDL          string `json:"ddl"`
			TableChanges []struct {
				Type  string
				ID    string
				Table json.RawMessage
			} `json:"tableChanges"`
		}
		if err := json.Unmarshal([]byte(rec.Value), &v); err != nil {
			t.Fatal(err)
		}
		for _, ch := range v.TableChanges {
			var got *sluice.TableStructure
			ok := true
			switch ch.Type {
			case "CREATE":
				got, ok = parseCreateTable(v.DDL, "utf8mb4")
			case "ALTER":
				got, ok = applyAlter(v.DDL, known[ch.ID])
			}
			if !ok {
				t.Errorf("%s: not followed", v.DDL)
				continue
			}
			known[ch.ID] = got
			var want, have any
			if err := json.Unmarshal(ch.Table, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(structureJSON(got), &have); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(want, have) {
				t.Errorf("%s:\n got %s\nwant %s", v.DDL, structureJSON(got), ch.Table)
			}
			checked++
		}
	}
	if checked != 21 {
		t.Errorf("checked %d table changes, want the recording's 21", checked)
	}
}

// structureJSON is t in the shape of Debezium's tableChanges[].table
// (codec writes it; this package does not import codec).
func structureJSON(t *sluice.TableStructure) []byte {
	if t == nil {
		return []byte("null")
	}
	opt := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	optInt := func(n int) any {
		if n < 0 {
			return nil
		}
		return n
	}
	cols := []any{}
	for _, c := range t.Columns {
		var def any
		if c.HasDefault {
			def = c.Default
		}
		var enum any
		if c.EnumValues != nil {
			enum = c.EnumValues
		}
		cols = append(cols, map[string]any{"name": c.Name, "jdbcType": c.JDBCType, "nativeType": nil, "typeName": c.TypeName,
			"typeExpression": c.TypeName, "charsetName": opt(c.Charset), "length": optInt(c.Length), "scale": optInt(c.Scale),
			"position": c.Position, "optional": c.Optional, "autoIncremented": c.AutoIncremented, "generated": c.Generated,
			"comment": opt(c.Comment), "defaultValueExpression": def, "enumValues": enum})
	}
	pk := []string{}
	pk = append(pk, t.PrimaryKey...)
	b, _ := json.Marshal(map[string]any{"defaultCharsetName": opt(t.DefaultCharset), "primaryKeyColumnNames": pk, "columns": cols, "comment": opt(t.Comment)})
	return b
}

// TestStreamTableChanges: a streamed DDL's event carries the table's
// structure after it, from the structure the snapshot handed over (not
// from the server, which may be past it): the ALTER's added column,
// then a DROP TABLE per table with no structure.
func TestStreamTableChanges(t *testing.T) {
	var evs []*sluice.Event
	before, _ := parseCreateTable("CREATE TABLE `orders` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=latin1", "utf8mb4")
	s := &Source{cfg: Config{SchemaChanges: true}, log: zap.NewNop(), snapStructs: structures{"shop.orders": before}}
	st := newStream(s, &server{flavor: mysql.MariaDBFlavor}, nil, []string{"shop.orders"}, position{file: "mysql-bin.000003", pos: 4},
		func(ev *sluice.Event) error { evs = append(evs, ev); return nil })
	for _, ev := range []*replication.BinlogEvent{
		at(200, 62, &replication.QueryEvent{Query: []byte("ALTER TABLE orders ADD COLUMN note varchar(20) DEFAULT 'x' FIRST"), Schema: []byte("shop")}),
		at(300, 62, &replication.QueryEvent{Query: []byte("DROP TABLE `shop`.`orders`"), Schema: []byte("shop")}),
	} {
		if err := st.handle(ev); err != nil {
			t.Fatal(err)
		}
	}
	var ddls []*sluice.DDL
	for _, ev := range evs {
		if ev.Op == sluice.OpSchemaChange {
			ddls = append(ddls, ev.DDL)
		}
	}
	if len(ddls) != 2 || len(ddls[0].Changes) != 1 || len(ddls[1].Changes) != 1 {
		t.Fatalf("schema changes %+v, want two with one table change each", ddls)
	}
	alter := ddls[0].Changes[0]
	want := `{"columns":[{"autoIncremented":false,"charsetName":"latin1","comment":null,"defaultValueExpression":"x","enumValues":null,"generated":false,"jdbcType":12,"length":20,"name":"note","nativeType":null,"optional":true,"position":1,"scale":null,"typeExpression":"VARCHAR","typeName":"VARCHAR"},` +
		`{"autoIncremented":false,"charsetName":null,"comment":null,"defaultValueExpression":null,"enumValues":null,"generated":false,"jdbcType":4,"length":11,"name":"id","nativeType":null,"optional":false,"position":2,"scale":null,"typeExpression":"INT","typeName":"INT"}],` +
		`"comment":null,"defaultCharsetName":"latin1","primaryKeyColumnNames":["id"]}`
	if alter.Type != "ALTER" || alter.DB != "shop" || alter.Name != "orders" || string(structureJSON(alter.Table)) != want {
		t.Errorf("ALTER change %+v:\n got %s\nwant %s", alter, structureJSON(alter.Table), want)
	}
	if d := ddls[1].Changes[0]; d.Type != "DROP" || d.Name != "orders" || d.Table != nil {
		t.Errorf("DROP change %+v", d)
	}
	if len(before.Columns) != 1 {
		t.Errorf("the ALTER changed the structure it started from: %+v", before)
	}
}

// TestApplyAlterClauses: the ALTER TABLE clauses the stream follows
// itself, and those it leaves to the server (ok false).
func TestApplyAlterClauses(t *testing.T) {
	base, ok := parseCreateTable("CREATE TABLE t (a int AUTO_INCREMENT COMMENT 'the key', b varchar(5) CHARACTER SET latin1 NOT NULL, "+
		"c enum('x','y') DEFAULT 'x', PRIMARY KEY (a)) DEFAULT CHARSET=utf8mb4 COMMENT='tbl'", "")
	if !ok {
		t.Fatal("CREATE TABLE not read")
	}
	if a := base.Columns[0]; !a.AutoIncremented || !a.Generated || a.Comment != "the key" || a.Optional || base.Comment != "tbl" {
		t.Errorf("column a %+v, table comment %q", a, base.Comment)
	}
	if c := base.Columns[2]; c.Charset != "utf8mb4" || c.Length != 1 || len(c.EnumValues) != 2 || c.EnumValues[0] != "'x'" || c.Default != "x" {
		t.Errorf("column c %+v", c)
	}
	names := func(ts *sluice.TableStructure) string {
		var s []string
		for _, c := range ts.Columns {
			s = append(s, c.Name)
		}
		return strings.Join(s, ",") + " pk=" + strings.Join(ts.PrimaryKey, ",")
	}
	for _, c := range []struct{ q, want string }{
		{"ALTER TABLE t CHANGE COLUMN b bb int AFTER c", "a,c,bb pk=a"},
		{"ALTER TABLE t MODIFY c int FIRST, ALGORITHM=INPLACE, LOCK=NONE", "c,a,b pk=a"},
		{"ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (b, a)", "a,b,c pk=b,a"},
		{"ALTER TABLE t RENAME COLUMN a TO id", "id,b,c pk=id"},
		{"ALTER TABLE t ADD INDEX ix (b), ADD COLUMN (d int, e int)", "a,b,c,d,e pk=a"},
		{"ALTER TABLE t DROP COLUMN IF EXISTS c, ENGINE=InnoDB", "a,b pk=a"},
		{"ALTER TABLE t RENAME TO u", ""},
		{"ALTER TABLE t PARTITION BY HASH(a)", ""},
	} {
		got, ok := applyAlter(c.q, base)
		switch {
		case c.want == "" && ok:
			t.Errorf("%s: followed (%s), want it left to the server", c.q, names(got))
		case c.want != "" && !ok:
			t.Errorf("%s: not followed", c.q)
		case ok && names(got) != c.want:
			t.Errorf("%s: %s, want %s", c.q, names(got), c.want)
		}
	}
	if got, _ := applyAlter("ALTER TABLE t ALTER COLUMN c SET DEFAULT 'y', CONVERT TO CHARACTER SET latin1", base); got.Columns[2].Default != "y" ||
		got.Columns[2].Charset != "latin1" || got.Columns[0].Charset != "" || got.DefaultCharset != "latin1" {
		t.Errorf("SET DEFAULT and CONVERT: %+v", got)
	}
}

// FuzzTableStructure: reading any statement as CREATE TABLE or as an
// ALTER of a known table ends without panicking.
func FuzzTableStructure(f *testing.F) {
	for _, s := range []string{"CREATE TABLE t (a int(11) NOT NULL DEFAULT '1', b enum('x','y'), PRIMARY KEY (a)) DEFAULT CHARSET=latin1",
		"ALTER TABLE t ADD COLUMN c varchar(3) DEFAULT 'x' AFTER a, DROP b", "ALTER TABLE t CHANGE a b int FIRST", "CREATE TABLE t (a int CHECK ((a > 0)), `b``c` text COLLATE utf8mb4_bin)",
		"ALTER TABLE t ADD (", "CREATE TABLE t (a enum('x", "ALTER TABLE t ALTER a SET DEFAULT"} {
		f.Add(s)
	}
	base, _ := parseCreateTable("CREATE TABLE t (a int, b text, PRIMARY KEY (a))", "utf8mb4")
	f.Fuzz(func(t *testing.T, q string) {
		parseCreateTable(q, "utf8mb4")
		applyAlter(q, base)
	})
}
