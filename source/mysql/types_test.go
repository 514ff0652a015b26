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

// TestEnumSetLabelsCharset: a table map carries ENUM and SET labels in
// the column's character set, as stored; the relation holds them as
// UTF-8, as the information schema gives them to a snapshot, both for
// the streamed values and for the schema's allowed labels.
func TestEnumSetLabelsCharset(t *testing.T) {
	const latin1, utf8mb4, cp1251 = 8, 45, 51 // latin1_swedish_ci, utf8mb4_general_ci, cp1251_general_ci
	charsets := map[uint64]string{latin1: "latin1", utf8mb4: "utf8mb4", cp1251: "cp1251"}
	enumSet := func(real byte) uint16 { return uint16(real)<<8 | 1 }
	tm := &replication.TableMapEvent{Schema: []byte("shop"), Table: []byte("t"), ColumnCount: 5,
		ColumnType: []byte{mysql.MYSQL_TYPE_LONG, mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_STRING,
			mysql.MYSQL_TYPE_STRING, mysql.MYSQL_TYPE_STRING},
		ColumnMeta: []uint16{0, enumSet(mysql.MYSQL_TYPE_ENUM), enumSet(mysql.MYSQL_TYPE_SET),
			enumSet(mysql.MYSQL_TYPE_ENUM), enumSet(mysql.MYSQL_TYPE_ENUM)},
		ColumnName: [][]byte{[]byte("id"), []byte("e"), []byte("s"), []byte("u"), []byte("c")},
		NullBitmap: []byte{0x1e},
		// The table's default latin1; u is utf8mb4, c cp1251.
		EnumSetDefaultCharset: []uint64{latin1, 2, utf8mb4, 3, cp1251},
		EnumStrValue: [][][]byte{
			{[]byte("caf\xe9"), []byte("th\xe9")},
			{[]byte("caf\xc3\xa9")},
			{[]byte("\xf7\xe0\xe9")},
		},
		SetStrValue: [][][]byte{{[]byte("cr\xe8me"), []byte("br\xfbl\xe9e")}},
	}
	rel, err := buildRelation(tm, refinements{}, func(c uint64) string { return charsets[c] })
	if err != nil {
		t.Fatal(err)
	}
	want := map[int][]string{1: {"café", "thé"}, 2: {"crème", "brûlée"}, 3: {"café"}, 4: {"чай"}}
	for i, labels := range want {
		c, ci := rel.table.Columns[i], rel.cols[i]
		if strings.Join(c.Enum, "|") != strings.Join(labels, "|") || strings.Join(ci.labels, "|") != strings.Join(labels, "|") {
			t.Errorf("column %s: allowed %q, labels %q; want %q", c.Name, c.Enum, ci.labels, labels)
		}
	}
	if v, err := rel.cols[1].enumValue(1); err != nil || string(v.Bytes) != "café" {
		t.Errorf("ENUM value 1: %q, %v; want café", v.Bytes, err)
	}
	if v := rel.cols[2].setValue(3); string(v.Bytes) != "crème,brûlée" {
		t.Errorf("SET value 3: %q; want crème,brûlée", v.Bytes)
	}
}
