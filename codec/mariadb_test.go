package codec

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestMariaDBSchemasMatchDebezium: the Connect schemas of MariaDB tables,
// built as the MySQL source describes them, equal the ones Debezium
// Server's MariaDB connector wrote (testdata/golden/debezium/mariadb/schemas),
// byte for byte: connector "mariadb" names the Source and schema change
// schemas io.debezium.connector.mariadb.*; TIME is MicroTime at every
// precision; DATETIME(0-3) Timestamp; BIGINT UNSIGNED int64. (The end-to-end
// comparison cannot show these until the source reports "mariadb".)
func TestMariaDBSchemasMatchDebezium(t *testing.T) {
	intKey := sluice.Column{Name: "id", DBType: "int", Type: sluice.TypeInt32, Key: true, Scale: -1}
	opt := func(c sluice.Column) sluice.Column { c.Optional = true; return c }
	tp := &sluice.Table{DB: "dbz", Name: "time_precisions", Key: []int{0}, Columns: []sluice.Column{intKey}}
	for _, kind := range []struct {
		prefix string
		typ    sluice.Type
		db     string
	}{{"t", sluice.TypeTime, "time"}, {"dt", sluice.TypeTimestamp, "datetime"}, {"ts", sluice.TypeTimestampTZ, "timestamp"}} {
		for p := 0; p <= 6; p++ {
			tp.Columns = append(tp.Columns, opt(sluice.Column{Name: kind.prefix + string(rune('0'+p)), DBType: kind.db, Type: kind.typ, Scale: p}))
		}
	}
	tables := map[string]*sluice.Table{
		"dbzmaria.dbz.time_precisions.jsonl": tp,
		"dbzmaria.dbz.unsigned_key.jsonl": {DB: "dbz", Name: "unsigned_key", Key: []int{0}, Columns: []sluice.Column{
			{Name: "id", DBType: "bigint unsigned", Type: sluice.TypeDecimal, Scale: 0, Length: 20, Key: true},
			opt(sluice.Column{Name: "v", DBType: "text", Type: sluice.TypeText, Scale: -1})}},
		"dbzmaria.dbz.composite.jsonl": {DB: "dbz", Name: "composite", Key: []int{2, 0}, Columns: []sluice.Column{
			{Name: "a", DBType: "int", Type: sluice.TypeInt32, Key: true}, opt(sluice.Column{Name: "b", DBType: "text", Type: sluice.TypeText}),
			{Name: "c", DBType: "int", Type: sluice.TypeInt32, Key: true}, opt(sluice.Column{Name: "v", DBType: "text", Type: sluice.TypeText})}},
	}
	enc, err := New(Options{Name: "dbzmaria", Connector: ConnectorMariaDB, Schemas: true})
	if err != nil {
		t.Fatal(err)
	}
	for file, tbl := range tables {
		key, value := recordedSchemas(t, filepath.Join("..", "testdata", "golden", "debezium", "mariadb", "schemas", file))
		s := enc.schemas(tbl)
		if string(s.key) != key {
			t.Errorf("%s key schema:\n got %s\nwant %s", file, s.key, key)
		}
		if string(s.value) != value {
			t.Errorf("%s value schema:\n got %s\nwant %s", file, s.value, value)
		}
	}
	// The schema change record's schemas.
	key, value := recordedSchemas(t, filepath.Join("..", "testdata", "golden", "debezium", "mariadb", "schemas", "dbzmaria.jsonl"))
	ddl := &sluice.Event{Op: sluice.OpSchemaChange, DDL: &sluice.DDL{Database: "dbz"}, Binlog: &sluice.Binlog{}}
	k, _ := enc.AppendKey(nil, ddl)
	var gotKey struct{ Schema json.RawMessage }
	json.Unmarshal(k, &gotKey)
	if string(gotKey.Schema) != key {
		t.Errorf("schema change key schema:\n got %s\nwant %s", gotKey.Schema, key)
	}
	if string(enc.schemaChangeSchema) != value {
		t.Errorf("schema change value schema:\n got %s\nwant %s", enc.schemaChangeSchema, value)
	}
}

// recordedSchemas returns the key and value schemas of the first record
// of a recorded topic, as written.
func recordedSchemas(t *testing.T, path string) (key, value string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatalf("%s is empty", path)
	}
	var rec struct{ Key, Value string }
	if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	var k, v struct{ Schema json.RawMessage }
	if err := json.Unmarshal([]byte(rec.Key), &k); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(rec.Value), &v); err != nil {
		t.Fatal(err)
	}
	return string(k.Schema), string(v.Schema)
}
