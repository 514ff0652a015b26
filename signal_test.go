package sluice

import (
	"errors"
	"strings"
	"testing"
)

// TestParseSignal: data as an object or as a string holding one; what is not a
// signal is refused.
func TestParseSignal(t *testing.T) {
	for _, c := range []struct {
		in, data, err string
	}{
		{`{"id":"1","type":"log","data":{"message": "x"}}`, `{"message":"x"}`, ""},
		{`{"id":"1","type":"log","data":"{\"message\": \"x\"}"}`, `{"message": "x"}`, ""},
		{`{"id":"1","type":"stop-snapshot"}`, "", ""},
		{`{"id":"1","type":"stop-snapshot","data":null}`, "", ""},
		{`{"id":"1","type":"log","data":[1]}`, "", "must be a JSON object"},
		{`{"id":"1","data":{}}`, "", "without a type"},
		{`not json`, "", "not a signal record"},
	} {
		s, err := ParseSignal([]byte(c.in))
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrRefused)):
			t.Errorf("%s: error %v, want a refusal saying %q", c.in, err, c.err)
		case c.err == "" && s.Data != c.data:
			t.Errorf("%s: data %q, want %q", c.in, s.Data, c.data)
		}
	}
	s := Signal{ID: "x", Type: "execute-snapshot", Data: `{"data-collections":["a.b"]}`}
	if got, err := ParseSignal(EncodeSignal(s)); err != nil || got != s {
		t.Errorf("ParseSignal(EncodeSignal(%v)) = %v, %v", s, got, err)
	}
}
