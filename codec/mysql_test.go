package codec

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// mysqlTypes has the column shapes only the MySQL source produces.
var mysqlTypes = &sluice.Table{
	DB: "shop", Name: "mysql_types",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int", Type: sluice.TypeInt32, Key: true},
		{Name: "y", DBType: "year", Type: sluice.TypeYear, Optional: true},
		{Name: "s", DBType: "set", Type: sluice.TypeSet, Enum: []string{"a", "b", "c"}, Optional: true},
		{Name: "g", DBType: "point", Type: sluice.TypeGeometry, Optional: true},
		{Name: "dt0", DBType: "datetime", Type: sluice.TypeTimestamp, Scale: 0, Optional: true},
		{Name: "dt3", DBType: "datetime", Type: sluice.TypeTimestamp, Scale: 3, Optional: true},
		{Name: "dt6", DBType: "datetime", Type: sluice.TypeTimestamp, Scale: 6, Optional: true},
		{Name: "old", DBType: "datetime", Type: sluice.TypeTimestamp, Scale: 3, Optional: true},
	},
	Key: []int{0},
}

// mysqlRow is a row of mysqlTypes.
func mysqlRow() sluice.Row {
	// POINT(1 2) as WKB, SRID 4326.
	wkb := []byte{1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40}
	return sluice.Row{num(7), num(2024), txt("a,c"), {Kind: sluice.KindPresent, Int: 4326, Bytes: wkb},
		num(1704164645000000), num(1704164645123000), num(1704164645123456), num(-1500)}
}

func TestGoldenMySQL(t *testing.T) {
	fixed := func() time.Time { return time.Unix(0, 1559033904863841257) }
	row := mysqlRow()
	bl := &sluice.Binlog{ServerID: 1, File: "mysql-bin.000003", GTID: "0-1-42", Thread: 12, TxID: "0-1-42"}
	insert := &sluice.Event{Op: sluice.OpCreate, Table: mysqlTypes, After: row,
		Pos:        sluice.Position{LSN: 3<<32 | 1234, TxLSN: 3<<32 | 1400},
		CommitTime: time.UnixMicro(1559033904000000), TxOrder: 2, TableOrder: 1, Row: 1, Binlog: bl}
	snap := &sluice.Event{Op: sluice.OpRead, Table: mysqlTypes, After: row, Snapshot: sluice.SnapshotFirst,
		Pos:        sluice.Position{LSN: 3 << 32, TxLSN: 3 << 32},
		CommitTime: time.UnixMicro(1559033904000000), Binlog: &sluice.Binlog{File: "mysql-bin.000003"}}
	ddl := &sluice.Event{Op: sluice.OpSchemaChange, DDL: &sluice.DDL{Database: "shop", Statement: "ALTER TABLE mysql_types ADD COLUMN `note` text", Table: "mysql_types"},
		Pos:        sluice.Position{LSN: 3<<32 | 2000, TxLSN: 3<<32 | 1950},
		CommitTime: time.UnixMicro(1559033904000000), Binlog: &sluice.Binlog{ServerID: 1, File: "mysql-bin.000003", GTID: "0-1-43", TxID: "0-1-43"}}
	cases := []struct {
		name string
		opt  Options
		ev   *sluice.Event
	}{
		{"mysql_insert", Options{}, insert},
		{"mysql_schema_change", Options{}, ddl},
		{"mysql_schema_change_schemas", Options{Schemas: true}, ddl},
		{"mysql_insert_schemas", Options{Schemas: true}, insert},
		{"mysql_snapshot_read", Options{}, snap},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Name, tc.opt.Connector, tc.opt.Clock = "shopserver", ConnectorMySQL, fixed
			enc, err := New(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			key, _ := enc.AppendKey(nil, tc.ev)
			val := enc.AppendValue(nil, tc.ev)
			for _, part := range [][]byte{key, val} {
				if !json.Valid(part) {
					t.Fatalf("invalid JSON: %s", part)
				}
			}
			got := []byte("key: " + string(key) + "\nvalue: " + string(val) + "\n")
			testenv.Golden(t, filepath.Join("..", "testdata", "golden", "codec", tc.name+".txt"), got, *updateGolden)
		})
	}
}
