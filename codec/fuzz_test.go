package codec

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// FuzzEncodeJSON encodes events whose values, names and messages are
// fuzzed (text of arbitrary bytes: invalid UTF-8, control characters,
// quotes; floats including NaN and ±Inf; decimal text; JSON column
// content) in every option mode, and checks the key, the value and
// AppendRow against encoding/json: each is valid JSON (json.Valid), and
// decodes to what the event holds. A string decodes to the same string
// when it is valid UTF-8; invalid UTF-8 becomes U+FFFD per bad byte, as
// appendString documents (and as encoding/json.Marshal does, so the
// expected string is Marshal's, read back).
func FuzzEncodeJSON(f *testing.F) {
	f.Add([]byte("Grüezi \"quoted\"\n\ttab \x01 \\ </script>"), "name", 3.141592653589793, uint32(0x3fc00000), "12345678.90", []byte(`{"a": [1, 2.50]}`), int64(1704164645123456), uint8(0))
	f.Add([]byte("\xff\xfe\xed\xa0\x80 \u2028\u2029 \x7f"), "a\"b\\c\x00", math.NaN(), uint32(0x7fc00000), "NaN", []byte("\xc3"), int64(sluice.InfinityPos), uint8(0xff))
	f.Add([]byte{}, "", math.Inf(-1), uint32(0xff800000), "-0.05", []byte("null"), int64(-62135596800000001), uint8(0x55))
	f.Add([]byte("abcdefgh\"ijklmnop"), "ü", math.Inf(1), uint32(0x00000001), "-Infinity", []byte("{}"), int64(sluice.InfinityNeg), uint8(0xaa))
	f.Add([]byte("12345678"), ".", -0.0, uint32(0x80000000), "99999999999999999999.999", []byte(""), int64(math.MinInt64), uint8(0x13))
	f.Add([]byte("x"), "t", 1e-320, uint32(0x7f7fffff), "12.5", []byte("[1"), int64(math.MaxInt64), uint8(0x26))
	f.Fuzz(func(t *testing.T, text []byte, name string, f64 float64, f32bits uint32, dec string, js []byte, n int64, mode uint8) {
		opt := Options{Name: "srv" + name, Connector: ConnectorPostgres, DB: name, Clock: func() time.Time { return time.Unix(1700000000, 5) }}
		opt.Schemas = mode&1 != 0
		opt.Decimal = []DecimalMode{DecimalString, DecimalPrecise, DecimalDouble, DecimalString}[mode>>1&3]
		if mode&8 != 0 {
			opt.Interval = IntervalExact
		}
		opt.Binary = []BinaryMode{BinaryBytes, BinaryBase64, BinaryBase64URL, BinaryHex}[mode>>4&3]
		if mode&64 != 0 {
			opt.Toast = ToastOmit
		} else {
			opt.Placeholder = name
		}
		if mode&128 != 0 {
			opt.Connector = ConnectorMySQL
		}
		enc, err := New(opt)
		if err != nil {
			t.Fatal(err)
		}
		// Floats as the sources make them: a float4 value is a float32.
		f32 := float64(math.Float32frombits(f32bits))
		scale := -1
		if mode&4 != 0 {
			scale = 3
		}
		xname := "x" + name // the fuzzed column name, apart from the fixed ones
		tbl := &sluice.Table{ID: 1, DB: name, Schema: name, Name: name + "_t", Key: []int{0, 1, 2}, Columns: []sluice.Column{
			{Name: "id", Type: sluice.TypeInt32, Key: true},
			{Name: "t", Type: sluice.TypeText, Key: true, Optional: true},
			{Name: xname, Type: sluice.TypeXML, Key: true, Optional: true},
			{Name: "j", Type: sluice.TypeJSON, Optional: true},
			{Name: "f8", Type: sluice.TypeFloat64, Optional: true},
			{Name: "f4", Type: sluice.TypeFloat32, Optional: true},
			{Name: "n", Type: sluice.TypeDecimal, Scale: scale, Length: 38, Optional: true},
			{Name: "b", Type: sluice.TypeBytes, Optional: true},
			{Name: "arr", Type: sluice.TypeArray, Elem: sluice.TypeText, Optional: true},
			{Name: "e", Type: sluice.TypeEnum, Enum: []string{name, string(text)}, Optional: true},
			{Name: "iv", Type: sluice.TypeInterval, Optional: true},
			{Name: "ts", Type: sluice.TypeTimestampTZ, Scale: -1, Optional: true},
			{Name: "tsl", Type: sluice.TypeTimestamp, Scale: 3, Optional: true},
			{Name: "bits", Type: sluice.TypeBits, Length: 8 * len(text), Optional: true},
			{Name: "toast", Type: sluice.TypeText, Optional: true},
		}}
		p := func(v sluice.Value) sluice.Value { v.Kind = sluice.KindPresent; return v }
		row := sluice.Row{
			p(sluice.Value{Int: n & 0x7fffffff}), p(sluice.Value{Bytes: text}), p(sluice.Value{Bytes: js}), p(sluice.Value{Bytes: js}),
			p(sluice.Value{Float: f64}), p(sluice.Value{Float: f32}), p(sluice.Value{Bytes: []byte(dec)}), p(sluice.Value{Bytes: text}),
			p(sluice.Value{Elems: []sluice.Value{p(sluice.Value{Bytes: text}), {}, p(sluice.Value{Bytes: js})}}),
			p(sluice.Value{Bytes: text}), p(sluice.Value{Int: n, Bytes: text}), p(sluice.Value{Int: n}), p(sluice.Value{Int: n}),
			p(sluice.Value{Int: int64(8 * len(text)), Bytes: text}), {Kind: sluice.KindUnchanged},
		}
		before := make(sluice.Row, len(row))
		for i := range before {
			before[i] = sluice.Value{Kind: sluice.KindMissing}
		}
		before[0], before[1], before[2] = row[0], row[1], row[2]
		ev := &sluice.Event{Op: sluice.OpUpdate, Table: tbl, Before: before, After: row, CommitTime: time.UnixMicro(n / 1000),
			Pos: sluice.Position{LSN: 7, TxLSN: 8}, TxID: 9, TxOrder: 1, TableOrder: 1}
		if opt.Connector == ConnectorMySQL {
			ev.Binlog = &sluice.Binlog{File: name, GTID: string(text), TxID: string(js)}
		}

		// The key: the three key columns.
		key, ok := enc.AppendKey(nil, ev)
		if !ok {
			t.Fatal("no key for an update of a table with a key")
		}
		k := fzDecode(t, "key", key, opt.Schemas)
		fzString(t, "key.t", k["t"], text)
		fzString(t, "key."+xname, k[fzWant([]byte(xname))], js) // the name too is a JSON string

		// The value: before, after, source.
		val := fzDecode(t, "value", enc.AppendValueAt(nil, ev, time.Now()), opt.Schemas)
		after, _ := val["after"].(map[string]any)
		if after == nil {
			t.Fatalf("value without after: %v", val)
		}
		fzAfter(t, enc.Options(), after, text, js, f64, f32, dec, scale, n)
		src, _ := val["source"].(map[string]any)
		if opt.Connector == ConnectorPostgres {
			fzString(t, "source.schema", src["schema"], []byte(name))
		}
		fzString(t, "source.table", src["table"], []byte(name+"_t"))
		fzString(t, "source.name", src["name"], []byte("srv"+name))

		// The row alone, as the Elasticsearch sink writes documents.
		fzAfter(t, enc.Options(), fzDecode(t, "row", enc.AppendRow(nil, tbl, row), false), text, js, f64, f32, dec, scale, n)

		// A logical decoding message and a schema change.
		msg := &sluice.Event{Op: sluice.OpMessage, Message: &sluice.Message{Prefix: name, Content: text}, Pos: sluice.Position{LSN: 1, TxLSN: 1}}
		mk, ok := enc.AppendKey(nil, msg)
		if !ok {
			t.Fatal("no key for a message")
		}
		fzString(t, "message key prefix", fzDecode(t, "message key", mk, opt.Schemas)["prefix"], []byte(name))
		mv := fzDecode(t, "message value", enc.AppendValueAt(nil, msg, time.Now()), opt.Schemas)
		m, _ := mv["message"].(map[string]any)
		fzString(t, "message.prefix", m["prefix"], []byte(name))
		fzBinary(t, "message.content", m["content"], text, BinaryBytes)
		ddl := &sluice.Event{Op: sluice.OpSchemaChange, DDL: &sluice.DDL{Database: name, Statement: string(text)}, Binlog: &sluice.Binlog{File: name}}
		dv := fzDecode(t, "schema change", enc.AppendValueAt(nil, ddl, time.Now()), opt.Schemas)
		fzString(t, "ddl", dv["ddl"], text)
		fzString(t, "databaseName", dv["databaseName"], []byte(name))
	})
}

// fzDecode checks that b is valid JSON and decodes the object in it (the
// payload of a schema/payload envelope).
func fzDecode(t *testing.T, what string, b []byte, schemas bool) map[string]any {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("%s is not valid JSON: %q", what, b)
	}
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: %v: %q", what, err, b)
	}
	if schemas {
		if _, ok := v["schema"].(map[string]any); !ok {
			t.Fatalf("%s has no schema: %q", what, b)
		}
		v, _ = v["payload"].(map[string]any)
		if v == nil {
			t.Fatalf("%s has no payload object: %q", what, b)
		}
	}
	return v
}

// fzWant is what encoding/json makes of s: s itself when it is valid
// UTF-8, else each invalid byte replaced by U+FFFD.
func fzWant(s []byte) string {
	m, _ := json.Marshal(string(s))
	var out string
	json.Unmarshal(m, &out)
	return out
}

func fzString(t *testing.T, what string, got any, s []byte) {
	t.Helper()
	if g, ok := got.(string); !ok || g != fzWant(s) {
		t.Fatalf("%s: decoded %#v, want %q (from %q)", what, got, fzWant(s), s)
	}
}

func fzBinary(t *testing.T, what string, got any, b []byte, mode BinaryMode) {
	t.Helper()
	s, ok := got.(string)
	var dec []byte
	var err error
	switch mode {
	case BinaryHex:
		dec, err = hex.DecodeString(s)
	case BinaryBase64URL:
		dec, err = base64.URLEncoding.DecodeString(s)
	default:
		dec, err = base64.StdEncoding.DecodeString(s)
	}
	if !ok || err != nil || !bytes.Equal(dec, b) {
		t.Fatalf("%s: decoded %#v (%v), want the bytes %q in %s", what, got, err, b, mode)
	}
}

// fzFloat checks a float as appendFloat writes it: a number that reads
// back exactly (at 32 bits for float4), or the strings NaN, Infinity,
// -Infinity.
func fzFloat(t *testing.T, what string, got any, f float64, bits int) {
	t.Helper()
	switch {
	case math.IsNaN(f):
		if got != "NaN" {
			t.Fatalf("%s: %#v for NaN", what, got)
		}
	case math.IsInf(f, 1):
		if got != "Infinity" {
			t.Fatalf("%s: %#v for +Inf", what, got)
		}
	case math.IsInf(f, -1):
		if got != "-Infinity" {
			t.Fatalf("%s: %#v for -Inf", what, got)
		}
	default:
		num, ok := got.(json.Number)
		r, err := strconv.ParseFloat(string(num), bits)
		if !ok || err != nil || math.Float64bits(r) != math.Float64bits(f) {
			t.Fatalf("%s: %#v (%v) for %v", what, got, err, f)
		}
	}
}

var fzDecimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// fzAfter checks the columns of an after image (or AppendRow's object).
func fzAfter(t *testing.T, opt Options, after map[string]any, text, js []byte, f64, f32 float64, dec string, scale int, n int64) {
	t.Helper()
	fzString(t, "t", after["t"], text)
	fzString(t, "j", after["j"], js)
	fzFloat(t, "f8", after["f8"], f64, 64)
	fzFloat(t, "f4", after["f4"], f32, 32)
	fzBinary(t, "b", after["b"], text, opt.Binary)
	fzBinary(t, "bits", after["bits"], text, BinaryBytes)
	fzString(t, "e", after["e"], text)
	if arr, ok := after["arr"].([]any); !ok || len(arr) != 3 || arr[1] != nil {
		t.Fatalf("arr: %#v", after["arr"])
	} else {
		fzString(t, "arr[0]", arr[0], text)
		fzString(t, "arr[2]", arr[2], js)
	}
	if opt.Interval == IntervalNumeric {
		if after["iv"] != json.Number(strconv.FormatInt(n, 10)) {
			t.Fatalf("iv: %#v, want %d", after["iv"], n)
		}
	} else {
		fzString(t, "iv", after["iv"], text)
	}
	fzZoned(t, after["ts"], n)
	if n != sluice.InfinityPos && n != sluice.InfinityNeg {
		ms := n / 1000
		if n%1000 < 0 {
			ms--
		}
		if after["tsl"] != json.Number(strconv.FormatInt(ms, 10)) {
			t.Fatalf("tsl: %#v, want %d ms (floor of %d µs)", after["tsl"], ms, n)
		}
	}
	toast, present := after["toast"]
	if (opt.Toast == ToastPlaceholder) != present {
		t.Fatalf("toast column present %v in %s mode", present, opt.Toast)
	}
	if present {
		fzString(t, "toast", toast, []byte(opt.Placeholder))
	}
	if opt.Interval == IntervalString {
		t.Fatal("interval string mode is not fuzzed: the seconds go through a double")
	}
	fzDecimal(t, opt, after["n"], dec, scale)
}

// fzZoned checks io.debezium.time.ZonedTimestamp: ISO-8601 in UTC that
// reads back as the instant, for the years 1 to 9999 RFC 3339 covers.
func fzZoned(t *testing.T, got any, us int64) {
	t.Helper()
	s, ok := got.(string)
	switch {
	case !ok:
		t.Fatalf("ts: %#v", got)
	case us == sluice.InfinityPos || us == sluice.InfinityNeg:
		if want := map[bool]string{true: "infinity", false: "-infinity"}[us == sluice.InfinityPos]; s != want {
			t.Fatalf("ts: %q, want %q", s, want)
		}
	default:
		want := time.UnixMicro(us).UTC()
		if want.Year() < 1 || want.Year() > 9999 {
			return
		}
		p, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !p.Equal(want) || !strings.HasSuffix(s, "Z") {
			t.Fatalf("ts: %q (%v), want %v", s, err, want)
		}
	}
}

// fzDecimal checks a decimal of decimal text (the only form sources
// make; other bytes need only give valid JSON) in each mode.
func fzDecimal(t *testing.T, opt Options, got any, dec string, scale int) {
	t.Helper()
	special := dec == "NaN" || dec == "Infinity" || dec == "-Infinity"
	if !special && !fzDecimalRE.MatchString(dec) {
		return
	}
	switch opt.Decimal {
	case DecimalString:
		if special {
			dec = map[string]string{"NaN": "NAN", "Infinity": "POSITIVE_INFINITY", "-Infinity": "NEGATIVE_INFINITY"}[dec]
		}
		fzString(t, "n", got, []byte(dec))
	case DecimalDouble:
		f, _ := strconv.ParseFloat(dec, 64)
		fzFloat(t, "n", got, f, 64)
	case DecimalPrecise:
		if special {
			if got != nil {
				t.Fatalf("n: %#v for %s, want null", got, dec)
			}
			return
		}
		b64, s := got, scale
		if scale < 0 {
			m, _ := got.(map[string]any)
			b64 = m["value"]
			sc, err := strconv.Atoi(string(m["scale"].(json.Number)))
			if err != nil {
				t.Fatalf("n: %#v", got)
			}
			s = sc
		}
		str, _ := b64.(string)
		raw, err := base64.StdEncoding.DecodeString(str)
		if err != nil || len(raw) == 0 {
			t.Fatalf("n: %#v (%v)", got, err)
		}
		// Two's complement, big-endian, minimal (BigInteger.toByteArray).
		unscaled := new(big.Int).SetBytes(raw)
		if raw[0]&0x80 != 0 {
			unscaled.Sub(unscaled, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
		}
		if len(raw) > 1 && (raw[0] == 0 && raw[1]&0x80 == 0 || raw[0] == 0xff && raw[1]&0x80 != 0) {
			t.Fatalf("n: %x is not minimal", raw)
		}
		gotR := new(big.Rat).SetFrac(unscaled, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil))
		want, _ := new(big.Rat).SetString(dec)
		if _, frac, _ := strings.Cut(dec, "."); scale >= 0 && len(frac) > scale {
			// More digits than the scale: dropped (PostgreSQL rounds to
			// the declared scale before we see the value).
			whole, _, _ := strings.Cut(dec, ".")
			want, _ = new(big.Rat).SetString(whole + "." + frac[:scale] + "0")
		}
		if gotR.Cmp(want) != 0 {
			t.Fatalf("n: %s at scale %d reads back as %s", dec, s, gotR.FloatString(s))
		}
	}
}
