package main

import "testing"

// TestEnvelopeOp: the op of an envelope, of a row unwrapped with
// add_fields [op], and '?' for anything else.
func TestEnvelopeOp(t *testing.T) {
	for _, c := range []struct {
		v    string
		want byte
	}{
		{`{"before":null,"after":{"id":1,"op":"x"},"source":{},"op":"c","ts_ms":1}`, 'c'},
		{`{"id":1,"status":"***","__op":"u"}`, 'u'},
		{`{"id":1}`, '?'},
		{`null`, '?'},
		{`{"id":1,"op":"`, '?'},
	} {
		if got := envelopeOp([]byte(c.v)); got != c.want {
			t.Errorf("%s: %c, want %c", c.v, got, c.want)
		}
	}
}
