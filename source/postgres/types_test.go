package postgres

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/sluice-cdc/sluice"
)

// The -update flag may also be defined by another test file of the
// package; define it only when it is not.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	if f == nil {
		return false
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return false
	}
	b, _ := g.Get().(bool)
	return b
}

// Types the tests use besides the built-ins.
var (
	moodEnum   = &typeInfo{oid: 90001, name: "mood", kind: 'e', baseMod: -1, labels: []string{"sad", "ok", "happy"}}
	moodArray  = &typeInfo{oid: 90002, name: "_mood", kind: 'b', baseMod: -1, elem: 90001}
	posint     = &typeInfo{oid: 90003, name: "posint", kind: 'd', base: 23, baseMod: -1}
	posintArr  = &typeInfo{oid: 90004, name: "_posint", kind: 'b', baseMod: -1, elem: 90003}
	price      = &typeInfo{oid: 90005, name: "price", kind: 'd', base: 1700, baseMod: 10<<16 | 2 + varhdrsz}
	moodDomain = &typeInfo{oid: 90006, name: "feeling", kind: 'd', base: 90001, baseMod: -1, labels: []string{"sad", "ok", "happy"}}
	intList    = &typeInfo{oid: 90007, name: "intlist", kind: 'd', base: 1007, baseMod: -1, elem: 23}
	pair       = &typeInfo{oid: 90008, name: "pair", kind: 'c', baseMod: -1}
	pairArray  = &typeInfo{oid: 90009, name: "_pair", kind: 'b', baseMod: -1, elem: 90008}
	int4range  = &typeInfo{oid: 3904, name: "int4range", kind: 'r', baseMod: -1}
	boxArray   = &typeInfo{oid: 1020, name: "_box", kind: 'b', baseMod: -1, elem: 603}
	box        = &typeInfo{oid: 603, name: "box", kind: 'b', baseMod: -1}
)

var testTypes = []*typeInfo{moodEnum, moodArray, posint, posintArr, price, moodDomain, intList, pair, pairArray, int4range, boxArray, box}

// typeByName finds a built-in or test type by name.
func typeByName(t testing.TB, name string) *typeInfo {
	t.Helper()
	for _, ti := range builtinTypes {
		if ti.name == name {
			return ti
		}
	}
	for _, ti := range testTypes {
		if ti.name == name {
			return ti
		}
	}
	t.Fatalf("no type %q", name)
	return nil
}

func typeByOID(oid uint32) *typeInfo {
	if ti := builtinTypes[oid]; ti != nil {
		return ti
	}
	for _, ti := range testTypes {
		if ti.oid == oid {
			return ti
		}
	}
	return nil
}

// testColumn builds the column of a declared type such as "int4",
// "numeric(10,2)", "bit(3)", "varchar(5)", "_numeric(10,2)" or "mood".
func testColumn(t testing.TB, decl string) sluice.Column {
	t.Helper()
	name, typmod := decl, int32(-1)
	if i := strings.IndexByte(decl, '('); i >= 0 {
		name = decl[:i]
		var args []int32
		for _, a := range strings.Split(strings.TrimSuffix(decl[i+1:], ")"), ",") {
			n, err := strconv.Atoi(a)
			if err != nil {
				t.Fatalf("bad declaration %q", decl)
			}
			args = append(args, int32(n))
		}
		base := strings.TrimPrefix(name, "_")
		switch {
		case base == "numeric":
			typmod = args[0]<<16 + varhdrsz
			if len(args) > 1 {
				typmod = args[0]<<16 | args[1]&0x7ff + varhdrsz
			}
		case base == "varchar" || base == "bpchar":
			typmod = args[0] + varhdrsz
		default: // bit, varbit, time types
			typmod = args[0]
		}
	}
	ti := typeByName(t, name)
	var elem *typeInfo
	if ti.elem != 0 {
		elem = typeByOID(ti.elem)
	}
	return columnFor("c", ti, elem, typmod, false)
}

// Value constructors.
var nullV = sluice.Value{Kind: sluice.KindNull}

func intV(i int64) sluice.Value     { return sluice.Value{Kind: sluice.KindPresent, Int: i} }
func floatV(f float64) sluice.Value { return sluice.Value{Kind: sluice.KindPresent, Float: f} }
func bytesV(s string) sluice.Value  { return sluice.Value{Kind: sluice.KindPresent, Bytes: []byte(s)} }
func intBytesV(i int64, s string) sluice.Value {
	return sluice.Value{Kind: sluice.KindPresent, Int: i, Bytes: []byte(s)}
}
func arrV(vs ...sluice.Value) sluice.Value {
	if vs == nil {
		vs = []sluice.Value{}
	}
	return sluice.Value{Kind: sluice.KindPresent, Elems: vs}
}

// Expected values computed with package time (independently of the decoder).
func daysOf(y, m, d int) int64 {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}
func microsOf(y, m, d, hh, mm, ss, us int) int64 {
	return time.Date(y, time.Month(m), d, hh, mm, ss, us*1000, time.UTC).UnixMicro()
}
func clockOf(hh, mm, ss, us int) int64 {
	return ((int64(hh)*60+int64(mm))*60+int64(ss))*1e6 + int64(us)
}

func valueEqual(a, b sluice.Value) bool {
	if a.Kind != b.Kind || a.Int != b.Int || !bytes.Equal(a.Bytes, b.Bytes) || (a.Elems == nil) != (b.Elems == nil) || len(a.Elems) != len(b.Elems) {
		return false
	}
	if !(math.IsNaN(a.Float) && math.IsNaN(b.Float)) && math.Float64bits(a.Float) != math.Float64bits(b.Float) {
		return false
	}
	for i := range a.Elems {
		if !valueEqual(a.Elems[i], b.Elems[i]) {
			return false
		}
	}
	return true
}

type decodeCase struct {
	typ  string // declared type, see testColumn
	in   string
	want sluice.Value
}

// decodeCases are real PostgreSQL 15 output (the live test in
// catalog_test.go checks the server prints them) unless marked.
var decodeCases = []decodeCase{
	{"bool", "t", intV(1)},
	{"bool", "f", intV(0)},

	{"int2", "32767", intV(32767)},
	{"int2", "-32768", intV(-32768)},
	{"int4", "0", intV(0)},
	{"int4", "-2147483648", intV(math.MinInt32)},
	{"int4", "2147483647", intV(math.MaxInt32)},
	{"int8", "-9223372036854775808", intV(math.MinInt64)},
	{"int8", "9223372036854775807", intV(math.MaxInt64)},
	{"oid", "4294967295", intV(4294967295)},

	{"float4", "1.5", floatV(1.5)},
	{"float4", "0.1", floatV(float64(float32(0.1)))},
	{"float4", "3.4028235e+38", floatV(math.MaxFloat32)},
	{"float4", "NaN", floatV(math.NaN())},
	{"float4", "Infinity", floatV(math.Inf(1))},
	{"float4", "-Infinity", floatV(math.Inf(-1))},
	{"float8", "0.1", floatV(0.1)},
	{"float8", "-0", floatV(math.Copysign(0, -1))},
	{"float8", "1e+300", floatV(1e300)},
	{"float8", "5e-324", floatV(5e-324)},
	{"float8", "-1.7976931348623157e+308", floatV(-math.MaxFloat64)},
	{"float8", "NaN", floatV(math.NaN())},
	{"float8", "Infinity", floatV(math.Inf(1))},
	{"float8", "-Infinity", floatV(math.Inf(-1))},

	{"numeric", "-12.340", bytesV("-12.340")},
	{"numeric", "0.00000", bytesV("0.00000")},
	{"numeric", "100000000000000000000", bytesV("100000000000000000000")},
	{"numeric", "0.000000000000000000000000000001", bytesV("0.000000000000000000000000000001")},
	{"numeric", "NaN", bytesV("NaN")},
	{"numeric", "Infinity", bytesV("Infinity")},
	{"numeric", "-Infinity", bytesV("-Infinity")},
	{"numeric(10,2)", "1.50", bytesV("1.50")},
	{"price", "19.99", bytesV("19.99")},
	{"money", "$1,234.56", bytesV("1234.56")},
	{"money", "-$1,234.56", bytesV("-1234.56")},
	{"money", "$0.00", bytesV("0.00")},
	{"money", "-$0.50", bytesV("-0.50")},
	{"money", "$92,233,720,368,547,758.07", bytesV("92233720368547758.07")},
	{"money", "-$92,233,720,368,547,758.08", bytesV("-92233720368547758.08")},
	{"money", "$1,000.00", bytesV("1000.00")},
	{"money", "$999.99", bytesV("999.99")},

	{"text", "hello", bytesV("hello")},
	{"text", "", bytesV("")},
	{"text", "héllo wörld ✓", bytesV("héllo wörld ✓")},
	{"text", "tab\there\nnewline", bytesV("tab\there\nnewline")},
	{"varchar(5)", "abc", bytesV("abc")},
	{"bpchar(5)", "ab   ", bytesV("ab   ")},
	{"char", "x", bytesV("x")},
	{"name", "pg_class", bytesV("pg_class")},
	{"inet", "192.168.0.1/24", bytesV("192.168.0.1/24")},
	{"cidr", "10.0.0.0/8", bytesV("10.0.0.0/8")},
	{"macaddr", "08:00:2b:01:02:03", bytesV("08:00:2b:01:02:03")},
	{"macaddr8", "08:00:2b:01:02:03:04:05", bytesV("08:00:2b:01:02:03:04:05")},

	{"bytea", `\x00ff7f`, bytesV("\x00\xff\x7f")},
	{"bytea", `\x`, bytesV("")},
	{"bytea", `\x616263`, bytesV("abc")},
	{"bytea", `a\\b\001\377`, bytesV("a\\b\x01\xff")}, // bytea_output=escape

	{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", bytesV("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
	{"uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", bytesV("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")}, // not server output

	{"json", `{"a": [1, 2.50]}`, bytesV(`{"a": [1, 2.50]}`)},
	{"jsonb", `{"a": [1, 2.50], "b": null}`, bytesV(`{"a": [1, 2.50], "b": null}`)},
	{"xml", "<a x=\"1\">b &amp; c</a>", bytesV("<a x=\"1\">b &amp; c</a>")},

	{"date", "1970-01-01", intV(0)},
	{"date", "1969-12-31", intV(-1)},
	{"date", "2024-01-31", intV(daysOf(2024, 1, 31))},
	{"date", "2000-02-29", intV(daysOf(2000, 2, 29))},
	{"date", "0044-03-15 BC", intV(daysOf(-43, 3, 15))},
	{"date", "0001-01-01 BC", intV(daysOf(0, 1, 1))},
	{"date", "0001-01-01", intV(daysOf(1, 1, 1))},
	{"date", "4713-01-01 BC", intV(daysOf(-4712, 1, 1))},
	{"date", "5874897-12-31", intV(daysOf(5874897, 12, 31))},
	{"date", "infinity", intV(sluice.InfinityPos)},
	{"date", "-infinity", intV(sluice.InfinityNeg)},

	{"time", "00:00:00", intV(0)},
	{"time", "12:34:56.789", intV(clockOf(12, 34, 56, 789000))},
	{"time", "23:59:59.999999", intV(clockOf(23, 59, 59, 999999))},
	{"time", "24:00:00", intV(86400000000)},
	{"time(3)", "10:00:00.12", intV(clockOf(10, 0, 0, 120000))},

	{"timetz", "12:34:56.789+02", bytesV("10:34:56.789Z")},
	{"timetz", "12:00:00+05:30", bytesV("06:30:00Z")},
	{"timetz", "01:00:00-08", bytesV("09:00:00Z")},
	{"timetz", "23:30:00-01", bytesV("00:30:00Z")},
	{"timetz", "00:30:00+01", bytesV("23:30:00Z")},
	{"timetz", "24:00:00-15:59:59", bytesV("15:59:59Z")},
	{"timetz", "10:00:00.000001+00", bytesV("10:00:00.000001Z")},
	{"timetz", "12:00:00+05:21:10", bytesV("06:38:50Z")},

	{"timestamp", "2018-06-20 15:13:16.945104", intV(1529507596945104)}, // Debezium's documented example
	{"timestamp", "1970-01-01 00:00:00", intV(0)},
	{"timestamp", "1969-12-31 23:59:59.999999", intV(-1)},
	{"timestamp", "0044-03-15 12:00:00 BC", intV(microsOf(-43, 3, 15, 12, 0, 0, 0))},
	{"timestamp", "4713-01-01 00:00:00 BC", intV(microsOf(-4712, 1, 1, 0, 0, 0, 0))},
	{"timestamp", "4714-11-24 00:00:00 BC", intV(microsOf(-4713, 11, 24, 0, 0, 0, 0))}, // PostgreSQL's first timestamp
	{"timestamp", "10000-01-01 00:00:00", intV(microsOf(10000, 1, 1, 0, 0, 0, 0))},
	{"timestamp", "294246-12-31 23:59:59.999999", intV(microsOf(294246, 12, 31, 23, 59, 59, 999999))},
	{"timestamp", "infinity", intV(sluice.InfinityPos)},
	{"timestamp", "-infinity", intV(sluice.InfinityNeg)},
	{"timestamp(0)", "2024-01-31 08:00:01", intV(microsOf(2024, 1, 31, 8, 0, 1, 0))},

	{"timestamptz", "2018-06-20 15:13:16.945104+00", intV(1529507596945104)},
	{"timestamptz", "2018-06-20 17:13:16.945104+02", intV(1529507596945104)},
	{"timestamptz", "2020-01-01 05:30:00+05:30", intV(microsOf(2020, 1, 1, 0, 0, 0, 0))},
	{"timestamptz", "1899-12-31 20:29:08-03:30:52", intV(microsOf(1900, 1, 1, 0, 0, 0, 0))},
	{"timestamptz", "1900-01-01 05:21:10+05:21:10", intV(microsOf(1900, 1, 1, 0, 0, 0, 0))},
	{"timestamptz", "0044-03-15 12:00:00.5+00 BC", intV(microsOf(-43, 3, 15, 12, 0, 0, 500000))},
	{"timestamptz", "infinity", intV(sluice.InfinityPos)},
	{"timestamptz", "-infinity", intV(sluice.InfinityNeg)},

	{"interval", "1 year 2 mons 3 days 04:05:06.78", intBytesV(37091106780000, "P1Y2M3DT4H5M6.78S")},
	{"interval", "-1 days +02:00:00", intBytesV(-79200000000, "P0Y0M-1DT2H0M0S")},
	{"interval", "00:00:00.000001", intBytesV(1, "P0Y0M0DT0H0M0.000001S")},
	{"interval", "-1 years -2 mons +3 days -04:05:06", intBytesV(-36572706000000, "P-1Y-2M3DT-4H-5M-6S")},
	{"interval", "00:00:00", intBytesV(0, "P0Y0M0DT0H0M0S")},
	{"interval", "-00:00:00.5", intBytesV(-500000, "P0Y0M0DT0H0M-0.5S")},
	{"interval", "1 mon", intBytesV(2629800000000, "P0Y1M0DT0H0M0S")},
	{"interval", "-1 mons", intBytesV(-2629800000000, "P0Y-1M0DT0H0M0S")},
	{"interval", "1 year", intBytesV(12*2629800000000, "P1Y0M0DT0H0M0S")},
	{"interval", "1 day", intBytesV(86400000000, "P0Y0M1DT0H0M0S")},
	{"interval", "1 day -00:00:01", intBytesV(86399000000, "P0Y0M1DT0H0M-1S")},
	{"interval", "-11 mons", intBytesV(-11*2629800000000, "P0Y-11M0DT0H0M0S")},
	{"interval", "100:00:00", intBytesV(360000000000, "P0Y0M0DT100H0M0S")},
	{"interval", "00:00:59.999999", intBytesV(59999999, "P0Y0M0DT0H0M59.999999S")},
	{"interval", "178000000 years", intBytesV(math.MaxInt64, "P178000000Y0M0DT0H0M0S")},
	{"interval", "-178000000 years", intBytesV(math.MinInt64, "P-178000000Y0M0DT0H0M0S")},
	{"interval", "2147483647 days 2562047788:00:54.775807", intBytesV(math.MaxInt64, "P0Y0M2147483647DT2562047788H0M54.775807S")},
	{"interval", "infinity", intBytesV(math.MaxInt64, "infinity")}, // PostgreSQL 17+
	{"interval", "-infinity", intBytesV(math.MinInt64, "-infinity")},

	{"bit(1)", "1", intV(1)},
	{"bit(1)", "0", intV(0)},
	{"bit(3)", "101", intBytesV(3, "\x05")},
	{"bit(10)", "1000000001", intBytesV(10, "\x01\x02")},
	{"bit(8)", "10000000", intBytesV(8, "\x80")},
	{"bit(8)", "00000000", intBytesV(8, "")},
	{"varbit", "", intBytesV(0, "")},
	{"varbit", "0000000011", intBytesV(10, "\x03")},
	{"varbit(20)", "1", intBytesV(1, "\x01")},

	{"mood", "happy", bytesV("happy")},
	{"feeling", "ok", bytesV("ok")},
	{"posint", "42", intV(42)},
	{"pair", `(1,"a b")`, bytesV(`(1,"a b")`)},
	{"int4range", "[1,10)", bytesV("[1,10)")},

	{"_int4", "{1,2,NULL}", arrV(intV(1), intV(2), nullV)},
	{"_int4", "{}", arrV()},
	{"_int4", "{{1,2},{3,4}}", arrV(arrV(intV(1), intV(2)), arrV(intV(3), intV(4)))},
	{"_int4", "{{{1},{2}},{{3},{NULL}}}", arrV(arrV(arrV(intV(1)), arrV(intV(2))), arrV(arrV(intV(3)), arrV(nullV)))},
	{"_int4", "[0:1]={1,2}", arrV(intV(1), intV(2))},
	{"_int4", "[1:1][2:3]={{1,2}}", arrV(arrV(intV(1), intV(2)))},
	{"_int4", "[-2:-1]={7,8}", arrV(intV(7), intV(8))},
	{"_int4", "{ 1 , 2 }", arrV(intV(1), intV(2))}, // array_in's spacing, not server output
	{"_text", `{"a b","c\"d",NULL,"NULL","","x\\y","{}"," lead",null}`,
		arrV(bytesV("a b"), bytesV(`c"d`), nullV, bytesV("NULL"), bytesV(""), bytesV(`x\y`), bytesV("{}"), bytesV(" lead"), nullV)},
	{"_text", `{"a,b",plain,"ünï"}`, arrV(bytesV("a,b"), bytesV("plain"), bytesV("ünï"))},
	{"_varchar(10)", `{x,"y z"}`, arrV(bytesV("x"), bytesV("y z"))},
	{"_bool", "{t,f,NULL}", arrV(intV(1), intV(0), nullV)},
	{"_int8", "{-9223372036854775808,9223372036854775807}", arrV(intV(math.MinInt64), intV(math.MaxInt64))},
	{"_float8", "{NaN,Infinity,-Infinity,1.5}", arrV(floatV(math.NaN()), floatV(math.Inf(1)), floatV(math.Inf(-1)), floatV(1.5))},
	{"_numeric", "{1.5,NaN,-0.001}", arrV(bytesV("1.5"), bytesV("NaN"), bytesV("-0.001"))},
	{"_money", `{"$1,234.56",-$2.50}`, arrV(bytesV("1234.56"), bytesV("-2.50"))},
	{"_bytea", `{"\\x00ff","\\x"}`, arrV(bytesV("\x00\xff"), bytesV(""))},
	{"_uuid", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}", arrV(bytesV("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), nullV)},
	{"_jsonb", `{"{\"a\": 1}","[1, 2]"}`, arrV(bytesV(`{"a": 1}`), bytesV("[1, 2]"))},
	{"_date", `{2024-01-31,"0044-03-15 BC",infinity}`, arrV(intV(daysOf(2024, 1, 31)), intV(daysOf(-43, 3, 15)), intV(sluice.InfinityPos))},
	{"_time", "{12:34:56.789,24:00:00}", arrV(intV(clockOf(12, 34, 56, 789000)), intV(86400000000))},
	{"_timetz", "{12:00:00+02,01:00:00-08}", arrV(bytesV("10:00:00Z"), bytesV("09:00:00Z"))},
	{"_timestamp", `{"2020-01-01 00:00:00","2018-06-20 15:13:16.945104"}`, arrV(intV(microsOf(2020, 1, 1, 0, 0, 0, 0)), intV(1529507596945104))},
	{"_timestamptz", `{"2018-06-20 17:13:16.945104+02",-infinity}`, arrV(intV(1529507596945104), intV(sluice.InfinityNeg))},
	{"_interval", `{"1 year 2 mons 3 days 04:05:06.78",00:00:00,"-1 days +02:00:00"}`,
		arrV(intBytesV(37091106780000, "P1Y2M3DT4H5M6.78S"), intBytesV(0, "P0Y0M0DT0H0M0S"), intBytesV(-79200000000, "P0Y0M-1DT2H0M0S"))},
	{"_bit(1)", "{1,0}", arrV(intV(1), intV(0))},
	{"_bit(3)", "{101,000}", arrV(intBytesV(3, "\x05"), intBytesV(3, ""))},
	{"_varbit", "{1000000001}", arrV(intBytesV(10, "\x01\x02"))},
	{"_mood", "{happy,NULL,sad}", arrV(bytesV("happy"), nullV, bytesV("sad"))},
	{"_posint", "{1,2}", arrV(intV(1), intV(2))},
	{"intlist", "{3,4}", arrV(intV(3), intV(4))},
	{"_pair", `{"(1,\"a b\")",NULL}`, arrV(bytesV(`(1,"a b")`), nullV)},
	{"_box", "{(1,1),(0,0);(2,2),(1,1)}", arrV(bytesV("(1,1),(0,0)"), bytesV("(2,2),(1,1)"))},
	{"_inet", "{192.168.0.1/24,::1}", arrV(bytesV("192.168.0.1/24"), bytesV("::1"))},
}

func caseName(c decodeCase) string {
	n := c.typ + " " + c.in
	if len(n) > 60 {
		n = n[:60]
	}
	return n
}

func TestDecodeText(t *testing.T) {
	for _, c := range decodeCases {
		t.Run(caseName(c), func(t *testing.T) {
			col := testColumn(t, c.typ)
			src := []byte(c.in)
			got, err := decodeText(&col, src)
			if err != nil {
				t.Fatalf("decodeText(%q): %v", c.in, err)
			}
			if !valueEqual(got, c.want) {
				t.Fatalf("decodeText(%q) =\n %s\nwant\n %s", c.in, renderValue(&col, col.Type, got), renderValue(&col, col.Type, c.want))
			}
			// src is not retained.
			for i := range src {
				src[i] = '#'
			}
			if !valueEqual(got, c.want) {
				t.Fatalf("decodeText(%q) kept a reference to its input", c.in)
			}
		})
	}
}

type errorCase struct {
	typ, in string
	want    string // substring of the error
}

var errorCases = []errorCase{
	{"bool", "x", "invalid text form of bool"},
	{"bool", "", "invalid text form of bool"},
	{"int2", "32768", "int2"},
	{"int2", "-32769", "int2"},
	{"int4", "2147483648", "int4"},
	{"int4", "1.5", "int4"},
	{"int4", "", "int4"},
	{"int4", "-", "int4"},
	{"int8", "9223372036854775808", "int8"},
	{"int8", "-9223372036854775809", "int8"},
	{"int8", "99999999999999999999999", "int8"},
	{"float8", "one", "float"},
	{"float4", "1e39", "float"},
	{"numeric", "1e5", "numeric"},
	{"numeric", "12.", "numeric"},
	{"numeric", ".5", "numeric"},
	{"numeric", "1,234", "numeric"},
	{"numeric", "-", "numeric"},
	{"money", "1.234,56 €", "lc_monetary"},
	{"money", "€1,234.56", "lc_monetary"},
	{"money", "$1.235", "lc_monetary"}, // es_CL: '.' groups, no fraction
	{"money", "$1,234.5", "lc_monetary"},
	{"money", "$1,2345.00", "lc_monetary"},
	{"money", "$12,34.00", "lc_monetary"},
	{"money", "$,123.00", "lc_monetary"},
	{"money", "$1234", "lc_monetary"},
	{"money", "$", "lc_monetary"},
	{"money", "$ 1.00", "lc_monetary"},
	{"bytea", `\x0`, "bytea"},
	{"bytea", `\xzz`, "bytea"},
	{"bytea", `a\9`, "bytea"},
	{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "uuid"},
	{"uuid", "a0eebc99x9c0b-4ef8-bb6d-6bb9bd380a11", "uuid"},
	{"uuid", "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "uuid"},
	{"date", "01/31/2024", "DateStyle ISO expected"},
	{"date", "2023-02-29", "date"},
	{"date", "2024-13-01", "date"},
	{"date", "0000-01-01 BC", "date"},
	{"date", "0000-01-01", "date"},
	{"date", "2024-01-31 AD", "date"},
	{"time", "25:00:00", "time"},
	{"time", "24:00:00.000001", "time"},
	{"time", "12:60:00", "time"},
	{"time", "12:00:00.1234567", "time"},
	{"time", "12:00:00.", "time"},
	{"time", "12:00", "time"},
	{"timetz", "12:00:00", "timetz"},
	{"timetz", "12:00:00+5", "timetz"},
	{"timetz", "12:00:00+05:3", "timetz"},
	{"timetz", "12:00:00+05:30:00:00", "timetz"},
	{"timestamp", "2024-01-31T08:00:00", "timestamp"},
	{"timestamp", "2024-01-31 08:00:00+00", "timestamp"},
	{"timestamp", "Wed Jan 31 08:00:00 2024", "DateStyle ISO expected"},
	{"timestamp", "294276-12-31 23:59:59.999999", "out of range"},
	{"timestamptz", "2024-01-31 08:00:00", "timestamptz"},
	{"timestamptz", "2024-01-31 08:00:00 UTC", "timestamptz"},
	{"interval", "@ 1 year 2 mons", "IntervalStyle postgres expected"},
	{"interval", "P1Y2M", "IntervalStyle postgres expected"},
	{"interval", "1-2", "IntervalStyle postgres expected"},
	{"interval", "1 year 1 year", "interval"},
	{"interval", "1 day 1 year", "interval"},
	{"interval", "00:00:00 1 day", "interval"},
	{"interval", "1 fortnight", "interval"},
	{"interval", "1", "interval"},
	{"interval", "", "interval"},
	{"interval", "1 day ", "interval"},
	{"interval", "0:00:00", "interval"},
	{"interval", "00:00:00.1234567", "interval"},
	{"interval", "00:60:00", "interval"},
	{"bit(1)", "2", "bit(1)"},
	{"bit(1)", "", "bit(1)"},
	{"bit(3)", "10x", "bit string"},
	{"_int4", "{1,2", "malformed array"},
	{"_int4", "1,2}", "malformed array"},
	{"_int4", "{1,,2}", "malformed array"},
	{"_int4", "{1,2}}", "malformed array"},
	{"_int4", "{1,2} x", "malformed array"},
	{"_int4", "{1,x}", "array element 2"},
	{"_int4", `{"1}`, "malformed array"},
	{"_int4", "[0:1{1,2}", "array bounds"},
	{"_int4", "[0:1]", "array bounds"},
	{"_int4", "{{{{{{{1}}}}}}}", "more than 6 dimensions"},
	{"_int4", "{1{2}}", "malformed array"},
	{"_int4", "", "malformed array"},
	{"_date", "{2024-02-30}", "array element 1"},
	{"_text", `{"a\`, "malformed array"},
}

func TestDecodeTextErrors(t *testing.T) {
	for _, c := range errorCases {
		t.Run(caseName(decodeCase{typ: c.typ, in: c.in}), func(t *testing.T) {
			col := testColumn(t, c.typ)
			col.Name = "price_col"
			got, err := decodeText(&col, []byte(c.in))
			if err == nil {
				t.Fatalf("decodeText(%q) = %s, want an error", c.in, renderValue(&col, col.Type, got))
			}
			prefix := "column price_col (" + col.DBType + "): "
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("decodeText(%q) error %q, want prefix %q and %q", c.in, err, prefix, c.want)
			}
		})
	}
}

func TestDecodeErrorsWrap(t *testing.T) {
	col := testColumn(t, "int4")
	if _, err := decodeText(&col, []byte("x")); !errors.Is(err, errSyntax) {
		t.Errorf("syntax error %v is not errSyntax", err)
	}
	col = testColumn(t, "timestamp")
	if _, err := decodeText(&col, []byte("294276-12-31 23:59:59")); !errors.Is(err, errRange) {
		t.Errorf("range error %v is not errRange", err)
	}
	col = sluice.Column{Name: "x", DBType: "weird", Type: sluice.Type(200)}
	if _, err := decodeText(&col, []byte("1")); !errors.Is(err, errBadType) {
		t.Errorf("unknown type error %v is not errBadType", err)
	}
}

// Appending to one element's Bytes must not overwrite its neighbour,
// though they share one buffer.
func TestDecodeArrayElementsAreCapped(t *testing.T) {
	col := testColumn(t, "_text")
	v, err := decodeText(&col, []byte(`{ab,cd}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = append(v.Elems[0].Bytes, "XYZ"...)
	if string(v.Elems[1].Bytes) != "cd" || string(v.Elems[0].Bytes) != "ab" {
		t.Fatalf("elements changed: %q %q", v.Elems[0].Bytes, v.Elems[1].Bytes)
	}
	col = testColumn(t, "_int4")
	v, err = decodeText(&col, []byte(`{{1,2},{3,4}}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = append(v.Elems[0].Elems, intV(9))
	if v.Elems[1].Elems[0].Int != 3 {
		t.Fatalf("sub-array append overwrote its neighbour: %v", v.Elems[1].Elems)
	}
}

func TestDecodeAllocs(t *testing.T) {
	for _, c := range []struct {
		typ, in string
		max     float64
	}{
		{"int4", "-2147483648", 0},
		{"int8", "9223372036854775807", 0},
		{"bool", "t", 0},
		{"float8", "-1.7976931348623157e+308", 0},
		{"date", "0044-03-15 BC", 0},
		{"time", "12:34:56.789", 0},
		{"timestamp", "2018-06-20 15:13:16.945104", 0},
		{"timestamptz", "2018-06-20 17:13:16.945104+02", 0},
		{"text", "hello world", 1},
		{"numeric", "-12345.678900", 1},
		{"money", "$1,234.56", 1},
		{"bytea", `\x00ff7f`, 1},
		{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 1},
		{"timetz", "12:34:56.789+02", 1},
		{"interval", "1 year 2 mons 3 days 04:05:06.78", 1},
		{"bit(10)", "1000000001", 1},
		{"_int4", "{1,2,NULL}", 1},
		{"_text", "{}", 0},
		{"_text", `{"a b","c\"d",NULL}`, 2},
		{"_timestamptz", `{"2018-06-20 17:13:16.945104+02"}`, 1},
	} {
		col := testColumn(t, c.typ)
		src := []byte(c.in)
		got := testing.AllocsPerRun(100, func() {
			if _, err := decodeText(&col, src); err != nil {
				t.Fatal(err)
			}
		})
		if got > c.max {
			t.Errorf("%s %q: %v allocations, want at most %v", c.typ, c.in, got, c.max)
		}
	}
}

func TestColumnFor(t *testing.T) {
	b := func(name string) *typeInfo { return typeByName(t, name) }
	for _, c := range []struct {
		name    string
		ti      *typeInfo
		elem    *typeInfo
		typmod  int32
		notNull bool
		want    sluice.Column
	}{
		{"int4", b("int4"), nil, -1, true, sluice.Column{DBType: "int4", Type: sluice.TypeInt32}},
		{"int2", b("int2"), nil, -1, false, sluice.Column{DBType: "int2", Type: sluice.TypeInt16, Optional: true}},
		{"oid", b("oid"), nil, -1, false, sluice.Column{DBType: "oid", Type: sluice.TypeInt64, Optional: true}},
		{"numeric", b("numeric"), nil, -1, false, sluice.Column{DBType: "numeric", Type: sluice.TypeDecimal, Scale: -1, Optional: true}},
		{"numeric(10,2)", b("numeric"), nil, 10<<16 | 2 + 4, false, sluice.Column{DBType: "numeric", Type: sluice.TypeDecimal, Scale: 2, Length: 10, Optional: true}},
		{"numeric(5)", b("numeric"), nil, 5<<16 + 4, false, sluice.Column{DBType: "numeric", Type: sluice.TypeDecimal, Scale: 0, Length: 5, Optional: true}},
		{"numeric(3,-2)", b("numeric"), nil, 3<<16 | (-2 & 0x7ff) + 4, false, sluice.Column{DBType: "numeric", Type: sluice.TypeDecimal, Scale: -2, Length: 3, Optional: true}},
		{"money", b("money"), nil, -1, false, sluice.Column{DBType: "money", Type: sluice.TypeDecimal, Scale: 2, Optional: true}},
		{"varchar(20)", b("varchar"), nil, 24, false, sluice.Column{DBType: "varchar", Type: sluice.TypeText, Length: 20, Optional: true}},
		{"varchar", b("varchar"), nil, -1, false, sluice.Column{DBType: "varchar", Type: sluice.TypeText, Optional: true}},
		{"bpchar(1)", b("bpchar"), nil, 5, false, sluice.Column{DBType: "bpchar", Type: sluice.TypeText, Length: 1, Optional: true}},
		{"text", b("text"), nil, -1, false, sluice.Column{DBType: "text", Type: sluice.TypeText, Optional: true}},
		{"inet", b("inet"), nil, -1, false, sluice.Column{DBType: "inet", Type: sluice.TypeText, Optional: true}},
		{"bytea", b("bytea"), nil, -1, false, sluice.Column{DBType: "bytea", Type: sluice.TypeBytes, Optional: true}},
		{"uuid", b("uuid"), nil, -1, false, sluice.Column{DBType: "uuid", Type: sluice.TypeUUID, Optional: true}},
		{"jsonb", b("jsonb"), nil, -1, false, sluice.Column{DBType: "jsonb", Type: sluice.TypeJSON, Optional: true}},
		{"xml", b("xml"), nil, -1, false, sluice.Column{DBType: "xml", Type: sluice.TypeXML, Optional: true}},
		{"date", b("date"), nil, -1, false, sluice.Column{DBType: "date", Type: sluice.TypeDate, Optional: true}},
		{"time", b("time"), nil, -1, false, sluice.Column{DBType: "time", Type: sluice.TypeTime, Scale: -1, Optional: true}},
		{"time(3)", b("time"), nil, 3, false, sluice.Column{DBType: "time", Type: sluice.TypeTime, Scale: 3, Optional: true}},
		{"timetz(0)", b("timetz"), nil, 0, false, sluice.Column{DBType: "timetz", Type: sluice.TypeTimeTZ, Scale: 0, Optional: true}},
		{"timestamp(6)", b("timestamp"), nil, 6, false, sluice.Column{DBType: "timestamp", Type: sluice.TypeTimestamp, Scale: 6, Optional: true}},
		{"timestamptz", b("timestamptz"), nil, -1, false, sluice.Column{DBType: "timestamptz", Type: sluice.TypeTimestampTZ, Scale: -1, Optional: true}},
		{"interval", b("interval"), nil, -1, false, sluice.Column{DBType: "interval", Type: sluice.TypeInterval, Scale: -1, Optional: true}},
		{"interval day to second(3)", b("interval"), nil, (0x1c00 << 16) | 3, false, sluice.Column{DBType: "interval", Type: sluice.TypeInterval, Scale: 3, Optional: true}},
		{"interval year", b("interval"), nil, (0x4 << 16) | 0xffff, false, sluice.Column{DBType: "interval", Type: sluice.TypeInterval, Scale: -1, Optional: true}},
		{"bit", b("bit"), nil, 1, false, sluice.Column{DBType: "bit", Type: sluice.TypeBit, Length: 1, Optional: true}},
		{"bit(8)", b("bit"), nil, 8, false, sluice.Column{DBType: "bit", Type: sluice.TypeBits, Length: 8, Optional: true}},
		{"varbit", b("varbit"), nil, -1, false, sluice.Column{DBType: "varbit", Type: sluice.TypeBits, Optional: true}},
		{"varbit(1)", b("varbit"), nil, 1, false, sluice.Column{DBType: "varbit", Type: sluice.TypeBits, Length: 1, Optional: true}},
		{"enum", moodEnum, nil, -1, false, sluice.Column{DBType: "mood", Type: sluice.TypeEnum, Enum: []string{"sad", "ok", "happy"}, Optional: true}},
		{"domain", posint, nil, -1, true, sluice.Column{DBType: "posint", Type: sluice.TypeInt32}},
		{"domain typmod", price, nil, -1, false, sluice.Column{DBType: "price", Type: sluice.TypeDecimal, Scale: 2, Length: 10, Optional: true}},
		{"domain over enum", moodDomain, nil, -1, false, sluice.Column{DBType: "feeling", Type: sluice.TypeEnum, Enum: []string{"sad", "ok", "happy"}, Optional: true}},
		{"domain over array", intList, b("int4"), -1, false, sluice.Column{DBType: "intlist", Type: sluice.TypeArray, Elem: sluice.TypeInt32, Optional: true}},
		{"composite", pair, nil, -1, false, sluice.Column{DBType: "pair", Type: sluice.TypeText, Optional: true}},
		{"range", int4range, nil, -1, false, sluice.Column{DBType: "int4range", Type: sluice.TypeText, Optional: true}},
		{"_int4", b("_int4"), b("int4"), -1, false, sluice.Column{DBType: "_int4", Type: sluice.TypeArray, Elem: sluice.TypeInt32, Optional: true}},
		{"_int4 without elem", b("_int4"), nil, -1, false, sluice.Column{DBType: "_int4", Type: sluice.TypeArray, Elem: sluice.TypeInt32, Optional: true}},
		{"_numeric(10,2)", b("_numeric"), b("numeric"), 10<<16 | 2 + 4, false, sluice.Column{DBType: "_numeric", Type: sluice.TypeArray, Elem: sluice.TypeDecimal, Scale: 2, Length: 10, Optional: true}},
		{"_bit(1)", b("_bit"), b("bit"), 1, false, sluice.Column{DBType: "_bit", Type: sluice.TypeArray, Elem: sluice.TypeBit, Length: 1, Optional: true}},
		{"_mood", moodArray, moodEnum, -1, false, sluice.Column{DBType: "_mood", Type: sluice.TypeArray, Elem: sluice.TypeEnum, Enum: []string{"sad", "ok", "happy"}, Optional: true}},
		{"_mood without elem", moodArray, nil, -1, false, sluice.Column{DBType: "_mood", Type: sluice.TypeArray, Elem: sluice.TypeText, Optional: true}},
		{"_posint", posintArr, posint, -1, false, sluice.Column{DBType: "_posint", Type: sluice.TypeArray, Elem: sluice.TypeInt32, Optional: true}},
		{"_pair", pairArray, pair, -1, false, sluice.Column{DBType: "_pair", Type: sluice.TypeArray, Elem: sluice.TypeText, Optional: true}},
		{"nil", nil, nil, -1, false, sluice.Column{DBType: "unknown", Type: sluice.TypeText, Optional: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.want.Name = "col"
			got := columnFor("col", c.ti, c.elem, c.typmod, c.notNull)
			if !columnEqual(got, c.want) {
				t.Fatalf("columnFor =\n %+v\nwant\n %+v", got, c.want)
			}
		})
	}
	// The enum labels are a copy: changing a column never changes the cache.
	col := columnFor("m", moodEnum, nil, -1, false)
	col.Enum[0] = "changed"
	if moodEnum.labels[0] != "sad" {
		t.Fatal("columnFor shares the catalog's label slice")
	}
}

func columnEqual(a, b sluice.Column) bool { return reflect.DeepEqual(a, b) }

// Every built-in type is in the static table, with its array type, and
// maps to the logical type the decoder cases use.
func TestBuiltinTypes(t *testing.T) {
	if len(builtinTypes) != 2*len(builtins) {
		t.Fatalf("duplicate OIDs in builtins: %d entries for %d types", len(builtinTypes), len(builtins))
	}
	for _, b := range builtins {
		arr := builtinTypes[b.array]
		if arr.elem != b.oid || arr.name != "_"+b.name {
			t.Errorf("%s: array type %+v", b.name, arr)
		}
	}
}

// render formats a decoded value for the golden file and messages.
func renderValue(col *sluice.Column, t sluice.Type, v sluice.Value) string {
	switch v.Kind {
	case sluice.KindNull:
		return "NULL"
	case sluice.KindPresent:
	default:
		return "kind=" + strconv.Itoa(int(v.Kind))
	}
	if t == sluice.TypeArray || v.Elems != nil {
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			et := col.Elem
			if e.Elems != nil {
				et = sluice.TypeArray
			}
			parts[i] = renderValue(col, et, e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	i := strconv.FormatInt(v.Int, 10)
	switch t {
	case sluice.TypeBool, sluice.TypeBit, sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64:
		return "int=" + i
	case sluice.TypeFloat32, sluice.TypeFloat64:
		return "float=" + strconv.FormatFloat(v.Float, 'g', -1, 64)
	case sluice.TypeBytes:
		return "bytes=hex:" + hex.EncodeToString(v.Bytes)
	case sluice.TypeBits:
		return "int=" + i + " bytes=hex:" + hex.EncodeToString(v.Bytes)
	case sluice.TypeInterval:
		return "int=" + i + " bytes=" + strconv.Quote(string(v.Bytes))
	case sluice.TypeDate:
		if s, ok := infinityName(v.Int); ok {
			return "int=" + i + " (" + s + ")"
		}
		return "int=" + i + " (" + time.Unix(v.Int*86400, 0).UTC().Format("2006-01-02") + ")"
	case sluice.TypeTime:
		if v.Int == 86400000000 {
			return "int=" + i + " (24:00:00)"
		}
		return "int=" + i + " (" + time.UnixMicro(v.Int).UTC().Format("15:04:05.999999") + ")"
	case sluice.TypeTimestamp, sluice.TypeTimestampTZ:
		if s, ok := infinityName(v.Int); ok {
			return "int=" + i + " (" + s + ")"
		}
		return "int=" + i + " (" + time.UnixMicro(v.Int).UTC().Format("2006-01-02T15:04:05.999999Z07:00") + ")"
	}
	return "bytes=" + strconv.Quote(string(v.Bytes))
}

func infinityName(i int64) (string, bool) {
	switch i {
	case sluice.InfinityPos:
		return "infinity", true
	case sluice.InfinityNeg:
		return "-infinity", true
	}
	return "", false
}

// goldenInput shows an input as is, or Go-quoted when it would not read
// back unambiguously from a "type | input | value" line.
func goldenInput(s string) string {
	if s == "" || strings.TrimSpace(s) != s || strings.Contains(s, " | ") || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// TestDecodeGolden writes every decode case and error case as one line of
// testdata/types/decode.golden and compares; run with -update to rewrite.
func TestDecodeGolden(t *testing.T) {
	var b strings.Builder
	b.WriteString("# Decoding of pgoutput TEXT values: type | input | decoded value.\n")
	b.WriteString("# Regenerate: go test ./source/postgres -run TestDecodeGolden -update\n")
	b.WriteString("# int=Value.Int, float=Value.Float, bytes=Value.Bytes, [..]=Value.Elems;\n")
	b.WriteString("# (…) after an int is a reading aid, not part of the value.\n")
	prev := ""
	line := func(typ, in, out string) {
		if typ != prev && prev != "" && strings.TrimPrefix(typ, "_") != strings.TrimPrefix(prev, "_") {
			b.WriteString("\n")
		}
		prev = typ
		b.WriteString(typ + " | " + goldenInput(in) + " | " + out + "\n")
	}
	for _, c := range decodeCases {
		col := testColumn(t, c.typ)
		v, err := decodeText(&col, []byte(c.in))
		if err != nil {
			line(c.typ, c.in, "ERROR: "+err.Error())
			continue
		}
		line(c.typ, c.in, renderValue(&col, col.Type, v))
	}
	b.WriteString("\n# Errors (the column is named c in these).\n")
	prev = ""
	for _, c := range errorCases {
		col := testColumn(t, c.typ)
		v, err := decodeText(&col, []byte(c.in))
		if err != nil {
			line(c.typ, c.in, "ERROR: "+err.Error())
			continue
		}
		line(c.typ, c.in, renderValue(&col, col.Type, v))
	}
	got := b.String()
	path := filepath.Join("testdata", "types", "decode.golden")
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d (run with -update if intended):\n got: %s\nwant: %s", path, i+1, g, w)
			}
		}
	}
}

// FuzzDecodeText checks that no input makes the decoder panic, and that
// an accepted value never exceeds its buffer bound.
func FuzzDecodeText(f *testing.F) {
	types := []string{"int4", "float8", "numeric", "money", "bytea", "uuid", "date", "time", "timetz",
		"timestamp", "timestamptz", "interval", "bit(3)", "varbit", "_int4", "_text", "_interval", "_timestamptz", "_bytea", "_box"}
	for i, c := range decodeCases {
		f.Add(uint8(i), c.in)
	}
	for i, c := range errorCases {
		f.Add(uint8(i), c.in)
	}
	cols := make([]sluice.Column, len(types))
	for i, typ := range types {
		cols[i] = testColumn(f, typ)
	}
	f.Fuzz(func(t *testing.T, which uint8, in string) {
		col := &cols[int(which)%len(cols)]
		v, err := decodeText(col, []byte(in))
		if err == nil && v.Kind != sluice.KindPresent {
			t.Fatalf("%s %q: kind %d without error", col.DBType, in, v.Kind)
		}
	})
}

func BenchmarkDecodeText(b *testing.B) {
	for _, c := range []struct{ typ, in string }{
		{"int4", "1234567"},
		{"text", "The quick brown fox jumps over the lazy dog"},
		{"numeric", "-1234567.891011"},
		{"timestamptz", "2018-06-20 15:13:16.945104+00"},
		{"_int4", "{1,2,3,4,5,6,7,8,9,10}"},
	} {
		col := testColumn(b, c.typ)
		src := []byte(c.in)
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
