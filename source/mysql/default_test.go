package mysql

import (
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestLiteralDefault: MariaDB quotes string literals in COLUMN_DEFAULT and
// writes expressions and NULL bare; MySQL writes literals bare and marks
// expressions DEFAULT_GENERATED.
func TestLiteralDefault(t *testing.T) {
	for _, c := range []struct {
		def, extra string
		mariadb    bool
		want       string
		ok         bool
	}{
		{"'2000-01-01'", "", true, "2000-01-01", true},
		{"'it''s'", "", true, "it's", true},
		{"''", "", true, "", true},
		{"NULL", "", true, "", false},
		{"current_timestamp()", "", true, "", false},
		{"'a\\'b'", "", true, "", false},
		{"2000-01-01", "", false, "2000-01-01", true},
		{"CURRENT_TIMESTAMP", "DEFAULT_GENERATED", false, "", false},
	} {
		got, ok := literalDefault(c.def, c.extra, c.mariadb)
		if got != c.want || ok != c.ok {
			t.Errorf("literalDefault(%q, %q, %v) = %q, %v; want %q, %v", c.def, c.extra, c.mariadb, got, ok, c.want, c.ok)
		}
	}
}

// TestZeroDateBecomesDefault: a zero DATE or DATETIME in a NOT NULL column
// is the column's default, as Debezium writes it (the fixture's dtnn and
// dtmnn: 10957 days, 946684800000 ms); without a default it is the epoch;
// the default is on the column for the codec's Connect schema.
func TestZeroDateBecomesDefault(t *testing.T) {
	rel := relationFromSchema("dbz", "all_types", []schemaColumn{
		{name: "dtnn", dataType: "date"},
		{name: "dtmnn", dataType: "datetime"},
		{name: "plain", dataType: "date"},
		{name: "note", dataType: "varchar", nullable: true},
		{name: "n", dataType: "int", nullable: true},
	}, refinements{defaults: map[string]string{"dtnn": "2000-01-01", "dtmnn": "2000-01-01 00:00:00", "note": "x", "n": "5"}})
	cols := rel.table.Columns
	if d := cols[0].Default; d.Kind != sluice.KindPresent || d.Int != 10957 {
		t.Errorf("dtnn default %+v, want 10957 days", d)
	}
	if d := cols[1].Default; d.Kind != sluice.KindPresent || d.Int != 946684800000000 {
		t.Errorf("dtmnn default %+v, want 946684800000000 µs", d)
	}
	if d := cols[3].Default; d.Kind != sluice.KindPresent || string(d.Bytes) != "x" {
		t.Errorf("note default %+v, want x", d)
	}
	if d := cols[4].Default; d.Kind != sluice.KindNull {
		t.Errorf("int default %+v: only what the recording proves is converted", d)
	}
	if v, _ := rel.cols[0].parse([]byte("0000-00-00")); v.Kind != sluice.KindPresent || v.Int != 10957 {
		t.Errorf("zero date in dtnn: %+v, want its default 10957", v)
	}
	if v, _ := rel.cols[1].parse([]byte("0000-00-00 00:00:00")); v.Kind != sluice.KindPresent || v.Int != 946684800000000 {
		t.Errorf("zero datetime in dtmnn: %+v, want its default", v)
	}
	if v, _ := rel.cols[2].parse([]byte("0000-00-00")); v.Kind != sluice.KindPresent || v.Int != 0 {
		t.Errorf("zero date in a NOT NULL column without default: %+v, want the epoch", v)
	}
}
