package postgres

import (
	"math"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// arrayCases are the array decodeCases, of every element type.
var arrayCases = []decodeCase{
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

var arrayErrorCases = []errorCase{
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
