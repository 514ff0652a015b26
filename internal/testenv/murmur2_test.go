package testenv

import "testing"

// Vectors from Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java
// (testMurmur2).
func TestJavaMurmur2Vectors(t *testing.T) {
	tests := []struct {
		in   []byte
		want int32
	}{
		{[]byte("21"), -973932308},
		{[]byte("foobar"), -790332482},
		{[]byte("a-little-bit-long-string"), -985981536},
		{[]byte("a-little-bit-longer-string"), -1486304829},
		{[]byte("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971},
		{[]byte{'a', 'b', 'c'}, 479470107},
	}
	for _, tt := range tests {
		if got := JavaMurmur2(tt.in); got != tt.want {
			t.Errorf("JavaMurmur2(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestJavaPartition(t *testing.T) {
	// toPositive masks the sign bit: -973932308 & 0x7fffffff = 1173551340.
	if got, want := JavaPartition([]byte("21"), 7), int32(1173551340%7); got != want {
		t.Errorf("JavaPartition(21, 7) = %d, want %d", got, want)
	}
}
