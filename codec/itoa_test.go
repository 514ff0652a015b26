package codec

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestAppendInt holds appendUint and appendInt to strconv at every power
// of ten and its neighbours, at the limits, and at random values, appended
// both to a full slice and to one with room.
func TestAppendInt(t *testing.T) {
	var us []uint64
	for _, p := range pow10 {
		us = append(us, p-1, p, p+1)
	}
	us = append(us, 0, 9, 10, 99, 100, math.MaxInt64, math.MaxInt64+1, math.MaxUint64-1, math.MaxUint64)
	r := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		us = append(us, r.Uint64()>>r.IntN(64))
	}
	for _, u := range us {
		for _, dst := range [][]byte{[]byte("x"), make([]byte, 1, 64)} {
			if got, want := appendUint(dst, u), strconv.AppendUint(dst[:1:1], u, 10); string(got) != string(want) {
				t.Fatalf("appendUint(%d) = %s, want %s", u, got, want)
			}
			i := int64(u)
			if got, want := appendInt(dst, i), strconv.AppendInt(dst[:1:1], i, 10); string(got) != string(want) {
				t.Fatalf("appendInt(%d) = %s, want %s", i, got, want)
			}
		}
	}
	if got := appendInt(nil, math.MinInt64); string(got) != "-9223372036854775808" {
		t.Errorf("appendInt(MinInt64) = %s", got)
	}
}

func BenchmarkAppendInt(b *testing.B) {
	vals := []int64{7, 42, 1234, 1000001, 23456789012, 1764761234123456789}
	buf := make([]byte, 0, 64)
	b.Run("codec", func(b *testing.B) {
		for b.Loop() {
			d := buf[:0]
			for _, v := range vals {
				d = appendInt(d, v)
			}
			buf = d
		}
	})
	b.Run("strconv", func(b *testing.B) {
		for b.Loop() {
			d := buf[:0]
			for _, v := range vals {
				d = strconv.AppendInt(d, v, 10)
			}
			buf = d
		}
	})
}
