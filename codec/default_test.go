package codec

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestColumnDefaultInSchema: a column's default is the Connect schema's
// "default", written as the column's values and placed after name and
// version, as in Debezium's MariaDB recording (schemas mode: all_types'
// dtnn and dtmnn, rid's note).
func TestColumnDefaultInSchema(t *testing.T) {
	tbl := &sluice.Table{DB: "dbz", Name: "all_types", Key: []int{0}, Columns: []sluice.Column{
		{Name: "id", DBType: "int", Type: sluice.TypeInt32, Key: true, Scale: -1},
		{Name: "dtnn", DBType: "date", Type: sluice.TypeDate, Scale: -1, Default: sluice.Value{Kind: sluice.KindPresent, Int: 10957}},
		{Name: "dtmnn", DBType: "datetime", Type: sluice.TypeTimestamp, Scale: 0, Default: sluice.Value{Kind: sluice.KindPresent, Int: 946684800000000}},
		{Name: "note", DBType: "text", Type: sluice.TypeText, Scale: -1, Optional: true, Default: sluice.Value{Kind: sluice.KindPresent, Bytes: []byte("x")}},
		{Name: "dt", DBType: "date", Type: sluice.TypeDate, Scale: -1, Optional: true},
	}}
	enc, err := New(Options{Name: "dbzmaria", Connector: ConnectorMariaDB, Schemas: true})
	if err != nil {
		t.Fatal(err)
	}
	s := string(enc.schemas(tbl).value)
	for _, want := range []string{
		`{"type":"int32","optional":false,"name":"io.debezium.time.Date","version":1,"default":10957,"field":"dtnn"}`,
		`{"type":"int64","optional":false,"name":"io.debezium.time.Timestamp","version":1,"default":946684800000,"field":"dtmnn"}`,
		`{"type":"string","optional":true,"default":"x","field":"note"}`,
		`{"type":"int32","optional":true,"name":"io.debezium.time.Date","version":1,"field":"dt"}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("value schema lacks %s:\n%s", want, s)
		}
	}
}
