package postgres

import "math"

// valueCases are the scalar decodeCases other than dates, times, intervals
// and bit strings.
var valueCases = []decodeCase{
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
}

// bitCases are the bit and varbit decodeCases.
var bitCases = []decodeCase{
	{"bit(1)", "1", intV(1)},
	{"bit(1)", "0", intV(0)},
	{"bit(3)", "101", intBytesV(3, "\x05")},
	{"bit(10)", "1000000001", intBytesV(10, "\x01\x02")},
	{"bit(8)", "10000000", intBytesV(8, "\x80")},
	{"bit(8)", "00000000", intBytesV(8, "")},
	{"varbit", "", intBytesV(0, "")},
	{"varbit", "0000000011", intBytesV(10, "\x03")},
	{"varbit(20)", "1", intBytesV(1, "\x01")},
}

var valueErrorCases = []errorCase{
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
}

var bitErrorCases = []errorCase{
	{"bit(1)", "2", "bit(1)"},
	{"bit(1)", "", "bit(1)"},
	{"bit(3)", "10x", "bit string"},
}
