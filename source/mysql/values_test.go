package mysql

import (
	"testing"

	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice"
)

func TestZeroDates(t *testing.T) {
	nullable := &colInfo{kind: kDatetime}
	notNull := &colInfo{kind: kDatetime, notNull: true}
	if v, _ := nullable.parse([]byte("0000-00-00 00:00:00")); v.Kind != sluice.KindNull {
		t.Errorf("nullable zero datetime: %+v, want null", v)
	}
	if v, _ := notNull.parse([]byte("0000-00-00 00:00:00")); v.Kind != sluice.KindPresent || v.Int != 0 {
		t.Errorf("NOT NULL zero datetime: %+v, want the epoch", v)
	}
}

func TestFromBinlog(t *testing.T) {
	col := func(k kind, typ sluice.Type) (*colInfo, *sluice.Column) {
		return &colInfo{kind: k, bits: 12, labels: []string{"red", "green", "blue"}}, &sluice.Column{Type: typ}
	}
	cases := []struct {
		name string
		k    kind
		typ  sluice.Type
		in   any
		want sluice.Value
	}{
		{"tinyint unsigned", kUint, sluice.TypeInt16, int8(-1), sluice.Value{Kind: sluice.KindPresent, Int: 255}},
		{"smallint unsigned", kUint, sluice.TypeInt32, int16(-1), sluice.Value{Kind: sluice.KindPresent, Int: 65535}},
		{"mediumint unsigned", kUint, sluice.TypeInt32, int32(-1), sluice.Value{Kind: sluice.KindPresent, Int: 16777215}},
		{"int unsigned", kUint, sluice.TypeInt64, int32(-1), sluice.Value{Kind: sluice.KindPresent, Int: 4294967295}},
		{"bigint unsigned", kUint64, sluice.TypeDecimal, int64(-1), sluice.Value{Kind: sluice.KindPresent, Bytes: []byte("18446744073709551615")}},
		{"decimal", kDecimal, sluice.TypeDecimal, "-0.50", sluice.Value{Kind: sluice.KindPresent, Bytes: []byte("-0.50")}},
		{"set", kSet, sluice.TypeSet, int64(5), sluice.Value{Kind: sluice.KindPresent, Bytes: []byte("red,blue")}},
		{"enum", kEnum, sluice.TypeEnum, int64(2), sluice.Value{Kind: sluice.KindPresent, Bytes: []byte("green")}},
		{"bit(12)", kBit, sluice.TypeBits, int64(0xA01), sluice.Value{Kind: sluice.KindPresent, Int: 12, Bytes: []byte{0x01, 0x0A}}},
		{"year", kYear, sluice.TypeYear, 2024, sluice.Value{Kind: sluice.KindPresent, Int: 2024}},
		{"null", kInt, sluice.TypeInt32, nil, sluice.Value{}},
		{"geometry", kGeometry, sluice.TypeGeometry, []byte{0xe6, 0x10, 0, 0, 1, 2}, sluice.Value{Kind: sluice.KindPresent, Int: 4326, Bytes: []byte{1, 2}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ci, c := col(tc.k, tc.typ)
			got, err := ci.fromBinlog(c, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tc.want.Kind || got.Int != tc.want.Int || string(got.Bytes) != string(tc.want.Bytes) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if _, err := (&colInfo{kind: kEnum, labels: []string{"a"}}).fromBinlog(&sluice.Column{}, int64(3)); err == nil {
		t.Error("an ENUM index beyond the labels must be an error")
	}
	if _, err := (&colInfo{kind: kDouble}).fromBinlog(&sluice.Column{}, "x"); err == nil {
		t.Error("a value of the wrong Go type must be an error, not a panic")
	}
}

func TestFromFieldUnsigned(t *testing.T) {
	ci := &colInfo{kind: kUint64}
	v, err := ci.fromField(&sluice.Column{}, &mysql.FieldValue{Type: mysql.FieldValueTypeUnsigned})
	if err != nil || string(v.Bytes) != "0" {
		t.Fatalf("got %+v, %v", v, err)
	}
}

// TestBinaryPaddingAndYearZero: the binlog drops a BINARY(n) value's
// trailing zero bytes; they are put back, as a snapshot reads them and
// Debezium writes them. YEAR 0000 is 1900 from the binlog (Debezium's
// value) and from a snapshot read alike.
func TestBinaryPaddingAndYearZero(t *testing.T) {
	bin := &colInfo{kind: kBinary, pad: 4}
	for _, in := range []any{"", "\x01", []byte{1, 2, 3, 4}} {
		v, err := bin.fromBinlog(&sluice.Column{Type: sluice.TypeBytes}, in)
		if err != nil || len(v.Bytes) != 4 || v.Kind != sluice.KindPresent {
			t.Errorf("BINARY(4) from %q: %v, %v; want 4 bytes", in, v.Bytes, err)
		}
	}
	if v, _ := bin.fromBinlog(&sluice.Column{Type: sluice.TypeBytes}, "\x01"); string(v.Bytes) != "\x01\x00\x00\x00" {
		t.Errorf("BINARY(4) 0x01: %x, want 01000000", v.Bytes)
	}
	if v, _ := (&colInfo{kind: kBinary}).fromBinlog(&sluice.Column{Type: sluice.TypeBytes}, "\x01"); string(v.Bytes) != "\x01" {
		t.Errorf("VARBINARY 0x01: %x, want 01 unpadded", v.Bytes)
	}

	year := &colInfo{kind: kYear}
	c := &sluice.Column{Type: sluice.TypeYear}
	for name, got := range map[string]func() (sluice.Value, error){
		"binlog": func() (sluice.Value, error) { return year.fromBinlog(c, 0) },
		"text": func() (sluice.Value, error) {
			f := mysql.NewFieldValue(mysql.FieldValueTypeString, 0, []byte("0000"))
			return year.fromField(c, &f)
		},
		"binary protocol": func() (sluice.Value, error) {
			return year.fromField(c, &mysql.FieldValue{Type: mysql.FieldValueTypeSigned})
		},
	} {
		if v, err := got(); err != nil || v.Kind != sluice.KindPresent || v.Int != 1900 {
			t.Errorf("YEAR 0 (%s): %+v, %v; want 1900", name, v, err)
		}
	}
	if v, _ := year.fromBinlog(c, 2024); v.Int != 2024 {
		t.Errorf("YEAR 2024: %d", v.Int)
	}
}
