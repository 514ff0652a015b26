package mysql

import (
	"strings"
	"testing"
)

func TestParseLabels(t *testing.T) {
	got := parseLabels(`enum('a','b''c','d,e','')`)
	want := []string{"a", "b'c", "d,e", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCharsetDecoder(t *testing.T) {
	ci := &colInfo{kind: kText, dec: decoderFor("latin1")}
	v, err := ci.fromText([]byte{'G', 'r', 0xfc, 'e', 'z', 'i', 0x80})
	if err != nil || string(v.Bytes) != "Grüezi€" {
		t.Fatalf("latin1 (cp1252): %q, %v", v.Bytes, err)
	}
	if decoderFor("utf8mb4") != nil || decoderFor("binary") != nil {
		t.Error("UTF-8 and binary need no conversion")
	}
}
