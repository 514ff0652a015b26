package schemaregistry

import (
	"bytes"
	"testing"
)

func TestAppendHeader(t *testing.T) {
	for _, tc := range []struct {
		id   int
		want []byte
	}{
		{1, []byte{0, 0, 0, 0, 1}},
		{258, []byte{0, 0, 0, 1, 2}},
		{0x7fffffff, []byte{0, 0x7f, 0xff, 0xff, 0xff}},
	} {
		dst := []byte("k")
		if got := AppendHeader(dst, tc.id); !bytes.Equal(got, append([]byte("k"), tc.want...)) {
			t.Errorf("AppendHeader(%d) = %v, want k then %v", tc.id, got, tc.want)
		}
	}
	buf := make([]byte, 0, 16)
	if n := testing.AllocsPerRun(100, func() { buf = AppendHeader(buf[:0], 42) }); n != 0 {
		t.Errorf("AppendHeader into a buffer with room allocates %v times", n)
	}
}
