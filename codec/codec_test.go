package codec

import (
	"encoding/json"
	"flag"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

func txt(s string) sluice.Value { return sluice.Value{Kind: sluice.KindPresent, Bytes: []byte(s)} }
func num(i int64) sluice.Value  { return sluice.Value{Kind: sluice.KindPresent, Int: i} }
func flt(f float64) sluice.Value {
	return sluice.Value{Kind: sluice.KindPresent, Float: f}
}

var null = sluice.Value{}

// allTypes is a table with one column per logical type.
var allTypes = &sluice.Table{
	ID: 16384, DB: "shop", Schema: "public", Name: "all_types",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "b", DBType: "bool", Type: sluice.TypeBool, Optional: true},
		{Name: "i2", DBType: "int2", Type: sluice.TypeInt16, Optional: true},
		{Name: "i8", DBType: "int8", Type: sluice.TypeInt64, Optional: true},
		{Name: "f4", DBType: "float4", Type: sluice.TypeFloat32, Optional: true},
		{Name: "f8", DBType: "float8", Type: sluice.TypeFloat64, Optional: true},
		{Name: "f8nan", DBType: "float8", Type: sluice.TypeFloat64, Optional: true},
		{Name: "f8inf", DBType: "float8", Type: sluice.TypeFloat64, Optional: true},
		{Name: "n", DBType: "numeric", Type: sluice.TypeDecimal, Scale: 2, Length: 10, Optional: true},
		{Name: "nneg", DBType: "numeric", Type: sluice.TypeDecimal, Scale: 2, Length: 10, Optional: true},
		{Name: "nfree", DBType: "numeric", Type: sluice.TypeDecimal, Scale: -1, Optional: true},
		{Name: "nnan", DBType: "numeric", Type: sluice.TypeDecimal, Scale: -1, Optional: true},
		{Name: "money", DBType: "money", Type: sluice.TypeDecimal, Scale: 2, Optional: true},
		{Name: "t", DBType: "text", Type: sluice.TypeText, Optional: true},
		{Name: "bin", DBType: "bytea", Type: sluice.TypeBytes, Optional: true},
		{Name: "u", DBType: "uuid", Type: sluice.TypeUUID, Optional: true},
		{Name: "j", DBType: "jsonb", Type: sluice.TypeJSON, Optional: true},
		{Name: "x", DBType: "xml", Type: sluice.TypeXML, Optional: true},
		{Name: "mood", DBType: "mood", Type: sluice.TypeEnum, Enum: []string{"sad", "ok", "happy"}, Optional: true},
		{Name: "d", DBType: "date", Type: sluice.TypeDate, Optional: true},
		{Name: "tm", DBType: "time", Type: sluice.TypeTime, Scale: -1, Optional: true},
		{Name: "ttz", DBType: "timetz", Type: sluice.TypeTimeTZ, Optional: true},
		{Name: "ts", DBType: "timestamp", Type: sluice.TypeTimestamp, Optional: true, Scale: -1},
		{Name: "tstz", DBType: "timestamptz", Type: sluice.TypeTimestampTZ, Scale: -1, Optional: true},
		{Name: "tsinf", DBType: "timestamptz", Type: sluice.TypeTimestampTZ, Scale: -1, Optional: true},
		{Name: "iv", DBType: "interval", Type: sluice.TypeInterval, Optional: true},
		{Name: "ip", DBType: "inet", Type: sluice.TypeText, Optional: true},
		{Name: "bit1", DBType: "bit", Type: sluice.TypeBit, Length: 1, Optional: true},
		{Name: "bits", DBType: "varbit", Type: sluice.TypeBits, Length: 10, Optional: true},
		{Name: "arr", DBType: "_int4", Type: sluice.TypeArray, Elem: sluice.TypeInt32, Optional: true},
		{Name: "tarr", DBType: "_text", Type: sluice.TypeArray, Elem: sluice.TypeText, Optional: true},
		{Name: "nul", DBType: "text", Type: sluice.TypeText, Optional: true},
		{Name: "big", DBType: "text", Type: sluice.TypeText, Optional: true},
	},
	Key: []int{0},
}

func allRow() sluice.Row {
	return sluice.Row{
		num(1), num(1), num(-32768), num(math.MaxInt64), flt(float64(float32(1.5))), flt(3.141592653589793),
		flt(math.NaN()), flt(math.Inf(-1)),
		txt("12345678.90"), txt("-0.05"), txt("3.14159265358979323846264338327950288"), txt("NaN"), txt("1234.56"),
		txt("Grüezi \"quoted\"\n\ttab \x01"), {Kind: sluice.KindPresent, Bytes: []byte{0xde, 0xad, 0xbe, 0xef}},
		txt("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), txt(`{"a": [1, 2.50]}`), txt("<a>b</a>"), txt("happy"),
		num(19723), num(45296789012), txt("10:34:56.789Z"), num(1704164645123456), num(1704164645120000),
		num(sluice.InfinityPos), {Kind: sluice.KindPresent, Int: 37091106780000, Bytes: []byte("P1Y2M3DT4H5M6.78S")},
		txt("192.168.0.1/24"), num(1), {Kind: sluice.KindPresent, Int: 10, Bytes: []byte{0x05, 0x02}},
		{Kind: sluice.KindPresent, Elems: []sluice.Value{num(1), null, num(3)}},
		{Kind: sluice.KindPresent, Elems: []sluice.Value{txt("a b"), txt(`c"d`)}},
		null, {Kind: sluice.KindUnchanged},
	}
}

func keyOnly(row sluice.Row, t *sluice.Table) sluice.Row {
	out := make(sluice.Row, len(row))
	for i := range out {
		out[i] = sluice.Value{Kind: sluice.KindMissing}
	}
	for _, k := range t.Key {
		out[k] = row[k]
	}
	return out
}

func baseEvent(op sluice.Op) *sluice.Event {
	return &sluice.Event{
		Op: op, Table: allTypes,
		Pos:        sluice.Position{LSN: 24023128, TxLSN: 24023200, PrevTxLSN: 24023000},
		CommitTime: time.UnixMicro(1559033904863123),
		TxID:       556, TxOrder: 1, TableOrder: 1,
	}
}

func TestGolden(t *testing.T) {
	fixed := func() time.Time { return time.Unix(0, 1559033904863841257) }
	insert := baseEvent(sluice.OpCreate)
	insert.After = allRow()
	update := baseEvent(sluice.OpUpdate)
	update.After = allRow()
	update.Before = keyOnly(allRow(), allTypes)
	del := baseEvent(sluice.OpDelete)
	del.Before = keyOnly(allRow(), allTypes)
	trunc := baseEvent(sluice.OpTruncate)
	msg := &sluice.Event{Op: sluice.OpMessage, Pos: sluice.Position{LSN: 5000, TxLSN: 5100}, CommitTime: time.UnixMicro(1559033904863123),
		Message: &sluice.Message{Prefix: "audit", Content: []byte("bar"), Transactional: false}}
	snap := baseEvent(sluice.OpRead)
	snap.After = allRow()
	snap.Snapshot = sluice.SnapshotLast
	snap.TxID, snap.TxOrder = 0, 0

	cases := []struct {
		name string
		opt  Options
		ev   *sluice.Event
	}{
		// Debezium's defaults, and sluice's lossless profile.
		{"insert", Options{}, insert},
		{"insert_lossless", Options{Profile: ProfileLossless}, insert},
		{"insert_transaction", Options{TransactionMetadata: true}, insert},
		{"insert_schemas", Options{Schemas: true}, insert},
		{"insert_lossless_schemas", Options{Schemas: true, Profile: ProfileLossless}, insert},
		{"insert_precise", Options{Decimal: DecimalPrecise, Interval: IntervalNumeric, Binary: BinaryHex, Toast: ToastPlaceholder}, insert},
		{"insert_precise_schemas", Options{Schemas: true, Decimal: DecimalPrecise, Interval: IntervalNumeric}, insert},
		{"insert_double", Options{Decimal: DecimalDouble}, insert},
		{"update", Options{}, update},
		{"delete", Options{}, del},
		{"truncate", Options{}, trunc},
		{"message", Options{DB: "shop"}, msg},
		{"message_schemas", Options{DB: "shop", Schemas: true}, msg},
		{"snapshot_read", Options{}, snap},
		{"message_transaction", Options{DB: "shop", TransactionMetadata: true}, msg},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Name, tc.opt.Connector, tc.opt.Clock = "shopserver", "postgresql", fixed
			enc, err := New(tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			key, ok := enc.AppendKey(nil, tc.ev)
			if !ok {
				key = []byte("null")
			}
			val := enc.AppendValue(nil, tc.ev)
			id := AppendEventID(nil, tc.ev)
			unch, _ := AppendUnchanged(nil, tc.ev)
			for _, part := range [][]byte{key, val} {
				if !json.Valid(part) {
					t.Fatalf("invalid JSON: %s", part)
				}
			}
			got := []byte("key: " + string(key) + "\nvalue: " + string(val) + "\nevent-id: " + string(id) + "\nunchanged: " + string(unch) + "\n")
			testenv.Golden(t, filepath.Join("..", "testdata", "golden", "codec", tc.name+".txt"), got, *updateGolden)
		})
	}
}

func TestTwosComplement(t *testing.T) {
	cases := []struct {
		text  string
		scale int
		want  string
	}{
		{"7.90", 2, "AxY="}, // Debezium's documented example: 790
		{"0", 2, "AA=="},
		{"-1", 0, "/w=="},
		{"-128", 0, "gA=="},
		{"128", 0, "AIA="},
		{"1.5", 3, "Bdw="}, // 1500
	}
	enc, _ := New(Options{Decimal: DecimalPrecise})
	col := &sluice.Column{Type: sluice.TypeDecimal}
	for _, tc := range cases {
		col.Scale = tc.scale
		got := string(enc.appendDecimal(nil, col, []byte(tc.text)))
		if got != `"`+tc.want+`"` {
			t.Errorf("%s scale %d: got %s want %s", tc.text, tc.scale, got, tc.want)
		}
	}
}

func TestAppendStringEscapes(t *testing.T) {
	in := []byte("a\"b\\c\x00\xff€")
	got := appendString(nil, in)
	var s string
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if s != "a\"b\\c\x00\ufffd€" {
		t.Errorf("round trip gave %q", s)
	}
}

func TestOptionsRejectUnknownModes(t *testing.T) {
	for _, o := range []Options{{Decimal: "exact"}, {Interval: "iso"}, {Binary: "b64"}, {Toast: "keep"}, {Profile: "fast"},
		{Time: "micro"}, {BigintUnsigned: "string"}, {Hstore: "text"}, {MultidimArrays: "flat"}, {SkippedOperations: "r"}} {
		if _, err := New(o); err == nil {
			t.Errorf("%+v: want error", o)
		}
	}
}

func BenchmarkAppendValue(b *testing.B) {
	enc, _ := New(Options{Name: "bench", Connector: "postgresql", Profile: ProfileLossless, TransactionMetadata: true})
	ev := baseEvent(sluice.OpCreate)
	ev.After = allRow()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.AppendValue(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}
