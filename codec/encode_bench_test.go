package codec

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// Benchmarks of the encoding hot path with the rows cmd/sluice-bench
// writes: the key, the envelope and the event id of one insert, as the
// kafka sink encodes them, and one column of each type. allocs/col is the
// figure of the "≤ 2 allocations per column decoded and encoded" target.

var smallTable = &sluice.Table{
	ID: 1, DB: "sluice", Schema: "public", Name: "bench_single_small",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int8", Type: sluice.TypeInt64, Key: true},
		{Name: "account", DBType: "int4", Type: sluice.TypeInt32},
		{Name: "amount", DBType: "numeric", Type: sluice.TypeDecimal, Scale: 2, Length: 12},
		{Name: "status", DBType: "text", Type: sluice.TypeText},
		{Name: "created_at", DBType: "timestamptz", Type: sluice.TypeTimestampTZ, Scale: -1},
		{Name: "note", DBType: "text", Type: sluice.TypeText, Optional: true},
	},
	Key: []int{0},
}

func smallRow() sluice.Row {
	return sluice.Row{num(123457), num(3457), txt("1234.57"), txt("paid"), num(1704190657014245), txt("note 5ac2b5b3a8b3e8b9e8f4a1c0ad1e2b34")}
}

var wideTable = &sluice.Table{
	ID: 2, DB: "sluice", Schema: "public", Name: "bench_single_wide",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int8", Type: sluice.TypeInt64, Key: true},
		{Name: "customer_id", DBType: "int4", Type: sluice.TypeInt32},
		{Name: "amount", DBType: "numeric", Type: sluice.TypeDecimal, Scale: 4, Length: 14},
		{Name: "tax", DBType: "numeric", Type: sluice.TypeDecimal, Scale: -1},
		{Name: "ratio", DBType: "float8", Type: sluice.TypeFloat64, Optional: true},
		{Name: "active", DBType: "bool", Type: sluice.TypeBool},
		{Name: "sku", DBType: "uuid", Type: sluice.TypeUUID},
		{Name: "status", DBType: "text", Type: sluice.TypeText},
		{Name: "created_at", DBType: "timestamptz", Type: sluice.TypeTimestampTZ, Scale: -1},
		{Name: "updated_at", DBType: "timestamp", Type: sluice.TypeTimestamp, Scale: -1},
		{Name: "title", DBType: "text", Type: sluice.TypeText},
		{Name: "body", DBType: "text", Type: sluice.TypeText},
		{Name: "attrs", DBType: "jsonb", Type: sluice.TypeJSON},
		{Name: "tags", DBType: "_text", Type: sluice.TypeArray, Elem: sluice.TypeText},
	},
	Key: []int{0},
}

func wideRow() sluice.Row {
	return sluice.Row{
		num(123457), num(23457), txt("17636.7143"), txt("7.1775"), flt(152.33333333333334), num(1),
		txt("c4ca4238-a0b9-2382-0dcc-509a6f75849b"), txt("paid"), num(1704190657014245), num(1704314114000000),
		txt("Order 123457 for customer 23457: eccbc87e4b5ce2fe28308fd9f2a7baf3e4da3b7fbbce2345d7772b0674a318d5"),
		txt(strings.TrimSpace(strings.Repeat("6364d3f0f495b6ab9dcf8d3b5c6e0b01 ", 33))),
		txt(`{"dims": [7, 17, 7], "size": 7, "color": "green", "flags": {"gift": false, "express": false}, "weight": 45.7, "comment": "` +
			strings.TrimSpace(strings.Repeat("6f4922f45568161a8cdf4ad2299f6d23 ", 12)) + `"}`),
		{Kind: sluice.KindPresent, Elems: []sluice.Value{txt("tag2"), txt("tag5"), txt("category-6"), txt("8f14e45fceea167a5a36dedd4bea2543")}},
	}
}

func benchInsert(t *sluice.Table, row sluice.Row) *sluice.Event {
	return &sluice.Event{
		Op: sluice.OpCreate, Table: t, After: row,
		Pos:        sluice.Position{LSN: 24023128, TxLSN: 24023200, PrevTxLSN: 24023000},
		CommitTime: time.UnixMicro(1559033904863123),
		TxID:       556, TxOrder: 1, TableOrder: 1,
	}
}

// mallocsPerOp runs the benchmark loop and reports allocs/col.
func mallocsPerOp(b *testing.B, cols int, run func()) {
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

// BenchmarkEncodeEvent encodes what the kafka sink writes per insert:
// key, envelope and event id, into a reused buffer: with the lossless
// profile (exact decimal strings; the figures BENCHMARKS.md has followed
// since before Debezium's defaults became sluice's), and with Debezium's
// defaults (/debezium: precise decimals, transaction metadata on).
func BenchmarkEncodeEvent(b *testing.B) {
	for _, c := range []struct {
		name string
		ev   *sluice.Event
	}{{"small", benchInsert(smallTable, smallRow())}, {"wide", benchInsert(wideTable, wideRow())}} {
		for _, mode := range []string{"", "/schemas", "/debezium"} {
			name := c.name + mode
			opt := Options{Name: "bench", Connector: "postgresql", Profile: ProfileLossless, Schemas: mode == "/schemas", TransactionMetadata: true}
			if mode == "/debezium" {
				opt.Profile = ProfileDebezium
			}
			enc, err := New(opt)
			if err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, 16<<10)
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				mallocsPerOp(b, len(c.ev.After), func() {
					buf, _ = enc.AppendKey(buf[:0], c.ev)
					buf = enc.AppendValue(buf, c.ev)
					buf = AppendEventID(buf, c.ev)
				})
				b.SetBytes(int64(len(buf)))
			})
		}
	}
}

// BenchmarkAppendColumn encodes one value per type.
func BenchmarkAppendColumn(b *testing.B) {
	all := allRow()
	// enc is sluice's lossless profile (exact decimal and interval
	// strings), precise Debezium's defaults.
	enc, _ := New(Options{Name: "bench", Connector: "postgresql", Profile: ProfileLossless})
	precise, _ := New(Options{Name: "bench", Connector: "postgresql"})
	buf := make([]byte, 0, 4096)
	for i := range allTypes.Columns {
		c := &allTypes.Columns[i]
		v := &all[i]
		if v.Kind != sluice.KindPresent {
			continue
		}
		encs := []*Encoder{enc}
		if c.Type == sluice.TypeDecimal || c.Type == sluice.TypeInterval {
			encs = append(encs, precise)
		}
		for j, e := range encs {
			plan := e.planFor(c)
			name := c.Name + "_" + c.DBType
			if j == 1 {
				name += "/precise"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					buf = e.appendColumn(buf[:0], c, &plan, v, false)
				}
			})
		}
	}
}

// BenchmarkAppendKey encodes the record key alone.
func BenchmarkAppendKey(b *testing.B) {
	enc, _ := New(Options{Name: "bench", Connector: "postgresql"})
	ev := benchInsert(smallTable, smallRow())
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = enc.AppendKey(buf[:0], ev)
	}
}
