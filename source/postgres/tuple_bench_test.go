package postgres

import (
	"encoding/binary"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// Benchmarks of the decoding hot path: a whole pgoutput TupleData of the
// rows cmd/sluice-bench writes (small ~100 B, wide ~2 KB), and one value
// of each type. Besides allocs/op they report allocs/col, the figure the
// "≤ 2 allocations per column decoded and encoded" target is about.

// benchRow is one table of the benchmark: column declarations and the
// text form pgoutput sends for one row.
type benchRow struct {
	name  string
	decls []string
	vals  []string
}

var benchRows = []benchRow{
	{
		name:  "small",
		decls: []string{"int8", "int4", "numeric(12,2)", "text", "timestamptz", "text"},
		vals:  []string{"123457", "3457", "1234.57", "paid", "2024-01-02 10:17:37.014245+00", "note 5ac2b5b3a8b3e8b9e8f4a1c0ad1e2b34"},
	},
	{
		name: "wide",
		decls: []string{"int8", "int4", "numeric(14,4)", "numeric", "float8", "bool", "uuid", "text",
			"timestamptz", "timestamp", "text", "text", "jsonb", "_text"},
		vals: []string{"123457", "23457", "17636.7143", "7.1775", "152.33333333333334", "t",
			"c4ca4238-a0b9-2382-0dcc-509a6f75849b", "paid", "2024-01-02 10:17:37.014245+00", "2024-01-03 20:35:14",
			"Order 123457 for customer 23457: eccbc87e4b5ce2fe28308fd9f2a7baf3e4da3b7fbbce2345d7772b0674a318d5",
			strings.TrimSpace(strings.Repeat("6364d3f0f495b6ab9dcf8d3b5c6e0b01 ", 33)),
			`{"dims": [7, 17, 7], "size": 7, "color": "green", "flags": {"gift": false, "express": false}, "weight": 45.7, "comment": "` +
				strings.TrimSpace(strings.Repeat("6f4922f45568161a8cdf4ad2299f6d23 ", 12)) + `"}`,
			"{tag2,tag5,category-6,8f14e45fceea167a5a36dedd4bea2543}"},
	},
}

// tupleBytes encodes vals as pgoutput TupleData: Int16 column count, then
// per column 't', Int32 length, the text.
func tupleBytes(vals []string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
	for _, v := range vals {
		b = append(b, 't')
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

func benchRelation(tb testing.TB, r benchRow) *relation {
	t := &sluice.Table{ID: 1, Schema: "public", Name: r.name, Columns: make([]sluice.Column, len(r.decls))}
	for i, d := range r.decls {
		t.Columns[i] = testColumn(tb, d)
		t.Columns[i].Name = "c" + string(rune('a'+i))
	}
	t.Key = []int{0}
	t.Columns[0].Key = true
	return &relation{table: t, ident: make([]bool, len(r.decls))}
}

// reportPerColumn adds allocs/col from the runtime's malloc counter.
func reportPerColumn(b *testing.B, cols int, run func()) {
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	n := 0
	for b.Loop() {
		run()
		n++
	}
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(n*cols), "allocs/col")
}

// BenchmarkDecodeTuple decodes a whole row as handleRow does.
func BenchmarkDecodeTuple(b *testing.B) {
	for _, r := range benchRows {
		rel := benchRelation(b, r)
		p := tupleBytes(r.vals)
		if _, _, err := decodeTuple(rel, p, false); err != nil {
			b.Fatal(err)
		}
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(p)))
			reportPerColumn(b, len(r.vals), func() {
				if _, _, err := decodeTuple(rel, p, false); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkDecodeTextTypes decodes one value per type (complementing
// BenchmarkDecodeText in types_test.go).
func BenchmarkDecodeTextTypes(b *testing.B) {
	for _, c := range []struct{ typ, in string }{
		{"bool", "t"},
		{"int2", "-1234"},
		{"int8", "9223372036854775807"},
		{"float8", "152.33333333333334"},
		{"numeric(14,4)", "17636.7143"},
		{"money", "$1,234.56"},
		{"text", "note 5ac2b5b3a8b3e8b9e8f4a1c0ad1e2b34"},
		{"varchar(64)", "paid"},
		{"uuid", "c4ca4238-a0b9-2382-0dcc-509a6f75849b"},
		{"jsonb", `{"dims": [7, 17, 7], "size": 7, "color": "green"}`},
		{"bytea", `\x00112233445566778899aabbccddeeff`},
		{"date", "2024-01-02"},
		{"time", "10:17:37.014245"},
		{"timetz", "10:17:37.014245+02"},
		{"timestamp", "2024-01-03 20:35:14"},
		{"timestamptz", "2024-01-02 10:17:37.014245+00"},
		{"interval", "1 year 2 mons 3 days 04:05:06.78"},
		{"bit(1)", "1"},
		{"varbit", "10110011101"},
		{"_text", "{tag2,tag5,category-6,8f14e45fceea167a5a36dedd4bea2543}"},
	} {
		col := testColumn(b, c.typ)
		src := []byte(c.in)
		if _, err := decodeText(&col, src); err != nil {
			b.Fatalf("%s %q: %v", c.typ, c.in, err)
		}
		b.Run(c.typ, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				if _, err := decodeText(&col, src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeTupleAllocs holds decoding to its allocation count, so that
// it cannot regress unnoticed: a row of the benchmark's small table costs
// two allocations (the row, and one arena for the bytes its values keep),
// a wide row four (the text array's elements and its jsonb besides).
// BenchmarkDecodeTuple measures the time.
func TestDecodeTupleAllocs(t *testing.T) {
	limits := map[string]float64{"small": 2, "wide": 4}
	for _, r := range benchRows {
		rel := benchRelation(t, r)
		p := tupleBytes(r.vals)
		n := testing.AllocsPerRun(100, func() {
			if _, _, err := decodeTuple(rel, p, false); err != nil {
				t.Fatal(err)
			}
		})
		if n > limits[r.name] {
			t.Errorf("%s row: %v allocations, want at most %v", r.name, n, limits[r.name])
		}
	}
}

// TestDecodeTextRow holds a snapshot chunk's row decoding (readRows) to
// the stream's: the same values as decodeTuple from the same texts, NULL
// where the value is nil, and the same allocation count.
func TestDecodeTextRow(t *testing.T) {
	limits := map[string]float64{"small": 2, "wide": 4}
	for _, r := range benchRows {
		rel := benchRelation(t, r)
		want, _, err := decodeTuple(rel, tupleBytes(r.vals), false)
		if err != nil {
			t.Fatal(err)
		}
		raw := make([][]byte, len(r.vals))
		for i, v := range r.vals {
			raw[i] = []byte(v)
		}
		got, err := decodeTextRow(rel.table.Columns, raw)
		if err != nil {
			t.Fatalf("%s row: %v", r.name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s row:\n got %v\nwant %v", r.name, got, want)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = decodeTextRow(rel.table.Columns, raw) }); n > limits[r.name] {
			t.Errorf("%s row: %v allocations, want at most %v", r.name, n, limits[r.name])
		}
		raw[1] = nil
		if got, err = decodeTextRow(rel.table.Columns, raw); err != nil || !reflect.DeepEqual(got[1], sluice.Value{}) {
			t.Errorf("%s row with a NULL: %v, %v", r.name, got[1], err)
		}
		raw[1] = []byte("x")
		if _, err := decodeTextRow(rel.table.Columns, raw); err == nil || !strings.HasPrefix(err.Error(), "column cb (int4): ") {
			t.Errorf("%s row with a bad int4: %v, want an error naming the column once", r.name, err)
		}
	}
}
