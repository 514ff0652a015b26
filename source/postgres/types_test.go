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
	"slices"
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
// catalog_test.go checks the server prints them) unless marked. Each
// concern keeps its cases in its own test file; this is their order in
// the golden file.
var decodeCases = slices.Concat(valueCases, dateTimeCases, intervalCases, bitCases, typeCases, arrayCases)

// typeCases are the types that are not built in: enum, domain, composite
// and range.
var typeCases = []decodeCase{
	{"mood", "happy", bytesV("happy")},
	{"feeling", "ok", bytesV("ok")},
	{"posint", "42", intV(42)},
	{"pair", `(1,"a b")`, bytesV(`(1,"a b")`)},
	{"int4range", "[1,10)", bytesV("[1,10)")},
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

// errorCases are decodeCases' counterpart: malformed input, per concern
// in the same order.
var errorCases = slices.Concat(valueErrorCases, dateTimeErrorCases, intervalErrorCases, bitErrorCases, arrayErrorCases)

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
