package codec

import "math/bits"

// appendUint appends u in decimal, as strconv.AppendUint(dst, u, 10)
// does. strconv formats into a buffer of its own and appends that with a
// call to memmove; a change event holds a dozen or more integers (the
// row's, the source block's positions and timestamps, the transaction's
// orders), and in the profile of small batched rows strconv's appends were
// 7% of sluice's CPU, half of it in those copies. Here the digits are
// written in place.
func appendUint(dst []byte, u uint64) []byte {
	if u < 10 {
		return append(dst, byte('0'+u))
	}
	n := decimalLen(u)
	l := len(dst)
	if cap(dst)-l < n {
		dst = append(dst, make([]byte, n)...)
	} else {
		dst = dst[:l+n]
	}
	d := dst[l : l+n]
	i := n
	for u >= 1e8 { // eight digits at a time in 32-bit arithmetic
		q := u / 1e8
		r := uint32(u - q*1e8)
		for range 4 {
			p := r % 100 * 2
			r /= 100
			i -= 2
			d[i], d[i+1] = digitPairs[p], digitPairs[p+1]
		}
		u = q
	}
	v := uint32(u)
	for v >= 100 {
		p := v % 100 * 2
		v /= 100
		i -= 2
		d[i], d[i+1] = digitPairs[p], digitPairs[p+1]
	}
	if v >= 10 {
		d[0], d[1] = digitPairs[v*2], digitPairs[v*2+1]
	} else {
		d[0] = byte('0' + v)
	}
	return dst
}

// appendInt appends i in decimal, as strconv.AppendInt(dst, i, 10) does.
func appendInt(dst []byte, i int64) []byte {
	if i < 0 {
		return appendUint(append(dst, '-'), -uint64(i))
	}
	return appendUint(dst, uint64(i))
}

// decimalLen is the number of decimal digits of u > 0.
func decimalLen(u uint64) int {
	// log10(2) ≈ 1233/4096: t is the digit count or one less.
	t := bits.Len64(u) * 1233 >> 12
	if u >= pow10[t] {
		t++
	}
	return t
}

var pow10 = [...]uint64{
	1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
}

const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"
