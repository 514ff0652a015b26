package codec

import (
	"encoding/binary"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD so
// the output is always valid JSON.
func appendString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain bytes at a time: printable ASCII other than
		// '"' and '\\' is copied as it is.
		for i+8 <= len(s) && plain8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plain8 reports whether none of the eight bytes in x needs attention:
// no control character (< 0x20), no '"', no '\\' and no byte >= 0x80.
func plain8(x uint64) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	// A byte b < 0x20 makes b-0x20 borrow into its high bit; high bytes
	// (>= 0x80) are caught by x itself; quote and backslash become zero
	// bytes after the XOR, found the same way as bytes below 1.
	lt20 := (x - ones*0x20) & ^x
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	zq := (q - ones) & ^q
	zb := (bs - ones) & ^bs
	return (lt20|zq|zb|x)&highs == 0
}

// appendStr is appendString for a string, without copying it.
func appendStr(dst []byte, s string) []byte {
	return appendString(dst, unsafe.Slice(unsafe.StringData(s), len(s)))
}

// appendFloat appends f as a JSON number; NaN and the infinities, which
// JSON cannot hold, become the strings "NaN", "Infinity" and "-Infinity"
// (the spelling PostgreSQL and Java use).
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case f != f:
		return append(dst, `"NaN"`...)
	case f > 1.7976931348623157e308:
		return append(dst, `"Infinity"`...)
	case f < -1.7976931348623157e308:
		return append(dst, `"-Infinity"`...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits)
}

// AppendString appends s as a JSON string with the codec's escaping
// (invalid UTF-8 becomes U+FFFD), for sinks that write JSON of their own.
func AppendString(dst, s []byte) []byte { return appendString(dst, s) }

// AppendStr is AppendString for a string.
func AppendStr(dst []byte, s string) []byte { return appendStr(dst, s) }

// AppendFloat appends f as the events write floats: a JSON number, or
// "NaN", "Infinity", "-Infinity". bits is 32 for float4 values.
func AppendFloat(dst []byte, f float64, bits int) []byte { return appendFloat(dst, f, bits) }
