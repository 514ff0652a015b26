package avro

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// TestStrings: JSON strings become Avro strings (zig-zag length, UTF-8
// bytes) whatever their escapes, length and position of the quote.
func TestStrings(t *testing.T) {
	s, err := Convert([]byte(`{"type":"struct","fields":[{"type":"string","optional":false,"field":"s"},{"type":"int32","optional":false,"field":"n"}],"optional":false,"name":"t.Value"}`))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 40)
	for _, c := range []struct{ json, want string }{
		{`"plain"`, "plain"},
		{`""`, ""},
		{`"` + long + `"`, long},
		{`"` + long + `\"q\""`, long + `"q"`},
		{`"a\\"`, `a\`},
		{`"` + long + `\\"`, long + `\`},
		{`"tab\tnl\n\u0001"`, "tab\tnl\n\x01"},
		{`"\ud83d\ude00 smile"`, "\U0001F600 smile"},
		{`"Grüezi"`, "Grüezi"},
		{`"\/slash"`, "/slash"},
	} {
		got, err := s.Append(nil, []byte(`{"s":`+c.json+`,"n":-3}`))
		if err != nil {
			t.Errorf("%s: %v", c.json, err)
			continue
		}
		want := appendLong(nil, int64(len(c.want)))
		want = append(want, c.want...)
		want = appendLong(want, -3)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: % x, want % x", c.json, got, want)
		}
	}
	for _, bad := range []string{`{"s":"open,"n":1}`, `{"s":"x","n":1.5}`, `{"s":"x","m":1}`, `{"s":"x"}`, `{"s":null,"n":1}`, `{"s":"x","n":99999999999999999999}`} {
		if _, err := s.Append(nil, []byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestDoubleRange: a JSON number beyond float64's range is the infinity
// (one too small a signed zero), as Jackson and Double.parseDouble read
// it for a Connect double; the strings Debezium writes for NaN and the
// infinities are accepted too, and what is no number is still an error.
func TestDoubleRange(t *testing.T) {
	s, err := Convert([]byte(`{"type":"struct","fields":[{"type":"double","optional":false,"field":"d"}],"optional":false,"name":"t.Value"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		json string
		want float64
	}{
		{`1e400`, math.Inf(1)},
		{`-1e400`, math.Inf(-1)},
		{`1` + strings.Repeat("0", 310) + `.0`, math.Inf(1)},
		{`1e-400`, 0},
		{`-1e-400`, math.Copysign(0, -1)},
		{`"Infinity"`, math.Inf(1)},
		{`"-Infinity"`, math.Inf(-1)},
		{`12.5`, 12.5},
	} {
		got, err := s.Append(nil, []byte(`{"d":`+c.json+`}`))
		if err != nil {
			t.Errorf("%.20s: %v", c.json, err)
			continue
		}
		if want := binary.LittleEndian.AppendUint64(nil, math.Float64bits(c.want)); !bytes.Equal(got, want) {
			t.Errorf("%.20s: % x, want % x", c.json, got, want)
		}
	}
	for _, bad := range []string{`{"d":}`, `{"d":1e}`, `{"d":--1}`, `{"d":"Inf"}`, `{"d":null}`} {
		if _, err := s.Append(nil, []byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
