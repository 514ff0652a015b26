package avro

import (
	"bytes"
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
