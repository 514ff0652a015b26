package codec

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// decTable has a NOT NULL unconstrained numeric, which PostgreSQL lets
// hold values far beyond float64's range (up to 131072 integer digits).
var decTable = &sluice.Table{
	ID: 21, DB: "shop", Schema: "public", Name: "ledger",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "n", DBType: "numeric", Type: sluice.TypeDecimal, Scale: -1},
	},
	Key: []int{0},
}

// decimalDoubleRange: in double mode a numeric is what Debezium's
// BigDecimal.doubleValue() gives, so one beyond float64's range is an
// infinity (written as appendFloat writes one) and a tiny one is a signed
// zero, never null: null would break the column's own NOT NULL schema.
var decimalDoubleRange = []struct {
	name, text string
	want       float64
}{
	{"overflow", "1" + strings.Repeat("0", 310), math.Inf(1)},
	{"negative overflow", "-1" + strings.Repeat("0", 310), math.Inf(-1)},
	{"overflow with fraction", "9" + strings.Repeat("9", 320) + ".25", math.Inf(1)},
	{"underflow", "0." + strings.Repeat("0", 400) + "1", 0},
	{"negative underflow", "-0." + strings.Repeat("0", 400) + "1", math.Copysign(0, -1)},
	{"in range", "12.50", 12.5},
}

func decEvent(text string) *sluice.Event {
	return &sluice.Event{
		Op: sluice.OpCreate, Table: decTable, After: sluice.Row{num(1), txt(text)},
		Pos:        sluice.Position{LSN: 24023128, TxLSN: 24023200, PrevTxLSN: 24023000},
		CommitTime: time.UnixMicro(1559033904863123),
		TxID:       556, TxOrder: 1, TableOrder: 1,
	}
}

func decEncoder(t *testing.T, opt Options) *Encoder {
	t.Helper()
	opt.Name, opt.Connector, opt.Decimal, opt.Clock = "srv", ConnectorPostgres, DecimalDouble, fixedClock
	enc, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// TestDecimalDoubleRangeJSON: the JSON value, without and with the
// {"schema","payload"} wrapper (which must still match its schema).
func TestDecimalDoubleRangeJSON(t *testing.T) {
	for _, c := range decimalDoubleRange {
		want := `"after":{"id":1,"n":` + string(appendFloat(nil, c.want, 64)) + `}`
		t.Run(c.name, func(t *testing.T) {
			got := decEncoder(t, Options{}).AppendValue(nil, decEvent(c.text))
			if !bytes.Contains(got, []byte(want)) {
				t.Errorf("got %s\nwant …%s…", got, want)
			}
			got = decEncoder(t, Options{Schemas: true}).AppendValue(nil, decEvent(c.text))
			if !bytes.Contains(got, []byte(want)) {
				t.Errorf("with schemas: got %s\nwant …%s…", got, want)
			}
			if err := testenv.ValidateConnect(got); err != nil {
				t.Errorf("with schemas: does not match its schema: %v", err)
			}
		})
	}
}

// TestDecimalDoubleRangeAvro: the Avro value transcodes (an Avro double is
// an IEEE double, infinities included), reads back as the JSON, carries
// the double's bits, and the direct writer agrees byte for byte.
func TestDecimalDoubleRangeAvro(t *testing.T) {
	enc := decEncoder(t, Options{Typed: true})
	for _, c := range decimalDoubleRange {
		t.Run(c.name, func(t *testing.T) {
			ev := decEvent(c.text)
			as, err := enc.AvroSchemas(ev)
			if err != nil {
				t.Fatal(err)
			}
			js := enc.AppendValue(nil, ev)
			bin, err := as.Value.Append(nil, js)
			if err != nil {
				t.Fatalf("transcode: %v\n%s", err, js)
			}
			checkAvro(t, "value", as.Value, js)
			bits := binary.LittleEndian.AppendUint64(nil, math.Float64bits(c.want))
			if !bytes.Contains(bin, bits) {
				t.Errorf("% x does not hold the double % x", bin, bits)
			}
			var scratch []byte
			direct, err := enc.AppendAvroValue(nil, ev, time.Now(), as, &scratch)
			if err != nil {
				t.Fatalf("direct: %v", err)
			}
			if !bytes.Equal(direct, bin) {
				t.Errorf("direct % x\ntranscoded % x", direct, bin)
			}
		})
	}
}

// TestDecimalDoubleNotANumber: text that is no number at all (sources
// never give one) is still null in double mode.
func TestDecimalDoubleNotANumber(t *testing.T) {
	enc := decEncoder(t, Options{})
	for _, text := range []string{"", "abc", "1.2.3", "--1"} {
		if got := string(enc.appendDecimal(nil, &decTable.Columns[1], []byte(text))); got != "null" {
			t.Errorf("%q: got %s, want null", text, got)
		}
	}
}

// TestParsePgPointRange: a point coordinate beyond float64's range is an
// infinity, as Java's Double.parseDouble (Debezium's PGpoint) reads it.
// PostgreSQL's float8 output never writes one; this keeps parsePgPoint
// consistent with the decimal path rather than dropping the point.
func TestParsePgPointRange(t *testing.T) {
	for _, c := range []struct {
		in   string
		x, y float64
		ok   bool
	}{
		{"(1,2.5)", 1, 2.5, true},
		{"(Infinity,-Infinity)", math.Inf(1), math.Inf(-1), true},
		{"(1e309,-1e309)", math.Inf(1), math.Inf(-1), true},
		{"(1e-400,2)", 0, 2, true},
		{"(x,2)", 0, 0, false},
		{"(1,)", 0, 0, false},
	} {
		x, y, ok := parsePgPoint([]byte(c.in))
		if ok != c.ok || ok && (x != c.x || y != c.y) {
			t.Errorf("%s: got %v %v %v, want %v %v %v", c.in, x, y, ok, c.x, c.y, c.ok)
		}
	}
}
