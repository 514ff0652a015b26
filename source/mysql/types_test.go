package mysql

import (
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice"
)

func TestParseLabels(t *testing.T) {
	got := parseLabels(`enum('a','b''c','d,e','')`)
	want := []string{"a", "b'c", "d,e", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCharsetDecoder(t *testing.T) {
	ci := &colInfo{kind: kText, dec: decoderFor("latin1")}
	v, err := ci.fromText([]byte{'G', 'r', 0xfc, 'e', 'z', 'i', 0x80})
	if err != nil || string(v.Bytes) != "Grüezi€" {
		t.Fatalf("latin1 (cp1252): %q, %v", v.Bytes, err)
	}
	if decoderFor("utf8mb4") != nil || decoderFor("binary") != nil {
		t.Error("UTF-8 and binary need no conversion")
	}
}

// TestPointAndBinaryFromTableMap: a table map's POINT (geometry type 1,
// or, without geometry types, a POINT in the information schema) is a
// geometry column of DBType "point", which the codec writes as Debezium's
// Point; other geometries stay "geometry". A BINARY(n) column remembers n
// to pad the binlog's values, which lose their trailing zero bytes;
// VARBINARY does not.
func TestPointAndBinaryFromTableMap(t *testing.T) {
	tm := &replication.TableMapEvent{Schema: []byte("shop"), Table: []byte("geo"), ColumnCount: 4,
		ColumnType:     []byte{mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_GEOMETRY, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_VARCHAR},
		ColumnMeta:     []uint16{4, 4, uint16(mysql.MYSQL_TYPE_STRING)<<8 | 4, 10},
		ColumnName:     [][]byte{[]byte("g"), []byte("pt"), []byte("bn"), []byte("vb")},
		NullBitmap:     []byte{0x0f},
		DefaultCharset: []uint64{63}, // binary
		GeometryType:   []uint64{0, geometryPoint},
	}
	charset := func(uint64) string { return "binary" }
	check := func(name string, rel *relation, wantPoint bool) {
		t.Helper()
		if got := rel.table.Columns[0].DBType; got != "geometry" {
			t.Errorf("%s: geometry column has DBType %q", name, got)
		}
		want := "geometry"
		if wantPoint {
			want = "point"
		}
		if got := rel.table.Columns[1].DBType; got != want || rel.table.Columns[1].Type != sluice.TypeGeometry {
			t.Errorf("%s: POINT column has DBType %q (%v), want %q", name, got, rel.table.Columns[1].Type, want)
		}
		if rel.cols[2].kind != kBinary || rel.cols[2].pad != 4 || rel.cols[3].pad != 0 {
			t.Errorf("%s: BINARY(4) pads to %d (kind %d), VARBINARY to %d; want 4 and 0", name, rel.cols[2].pad, rel.cols[2].kind, rel.cols[3].pad)
		}
	}
	rel, err := buildRelation(tm, refinements{}, charset)
	if err != nil {
		t.Fatal(err)
	}
	check("geometry types", rel, true)
	tm.GeometryType = nil
	if rel, err = buildRelation(tm, refinements{point: map[string]bool{"pt": true}}, charset); err != nil {
		t.Fatal(err)
	}
	check("information schema", rel, true)
	if rel, err = buildRelation(tm, refinements{}, charset); err != nil {
		t.Fatal(err)
	}
	check("unknown", rel, false)

	if got := relationFromSchema("shop", "geo", []schemaColumn{{name: "pt", dataType: "point", nullable: true}}, refinements{}); got.table.Columns[0].DBType != "point" {
		t.Errorf("snapshot POINT column has DBType %q, want point", got.table.Columns[0].DBType)
	}
	// Lengths beyond 255 keep their high bits in the real type's byte.
	if got := stringLength(uint16(mysql.MYSQL_TYPE_STRING&^0x10)<<8 | 0x2c); got != 300 {
		t.Errorf("stringLength of a 300-byte column = %d", got)
	}
}
