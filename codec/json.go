package codec

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// appendString appends s as a JSON string, escaped as Kafka Connect's
// JsonConverter (Jackson) escapes: '"' and '\\', control characters as
// \b \t \n \f \r or \u00XX, characters beyond the Basic Multilingual
// Plane as a pair of \uXXXX surrogates (Jackson does not combine them into
// four UTF-8 bytes), everything else as it is. Invalid UTF-8 becomes
// \ufffd (U+FFFD) so the output is always valid JSON.
func appendString(dst []byte, s []byte) []byte { return appendQuoted(dst, s, true) }

// appendQuoted is appendString; with supplementary false, characters
// beyond the BMP are written as they are (Jackson's writer-based
// generator, which Debezium uses for hstore's JSON text).
func appendQuoted(dst []byte, s []byte, supplementary bool) []byte {
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
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexUpper[c>>4], hexUpper[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		case r > 0xffff && supplementary:
			dst = append(dst, s[start:i]...)
			hi, lo := utf16.EncodeRune(r)
			dst = appendU4(dst, hi)
			dst = appendU4(dst, lo)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexUpper = "0123456789ABCDEF"

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexUpper[r>>12&0xf], hexUpper[r>>8&0xf], hexUpper[r>>4&0xf], hexUpper[r&0xf])
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

// appendFloat appends f as a JSON number the way Kafka Connect's
// JsonConverter (Jackson) writes a Java double or float: Java's
// Double.toString / Float.toString, so 2.0, -0.0, 1.0E-300,
// 1.23456789125E8. NaN and the infinities, which JSON cannot hold, become
// the strings "NaN", "Infinity" and "-Infinity", as Jackson writes them.
// bits is 32 for a float (float4, FLOAT), 64 for a double.
func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case f != f:
		return append(dst, `"NaN"`...)
	case f > 1.7976931348623157e308:
		return append(dst, `"Infinity"`...)
	case f < -1.7976931348623157e308:
		return append(dst, `"-Infinity"`...)
	}
	return appendJavaFloat(dst, f, bits)
}

// appendJavaFloat formats a finite f as Java's Double.toString (bits 64)
// or Float.toString (bits 32) do since JDK 19: the shortest decimal that
// rounds to f (but two digits rather than one when a two-digit decimal is
// closer), written plainly with at least one fraction digit when
// 1e-3 <= |f| < 1e7, else as d.dddE±n.
func appendJavaFloat(dst []byte, f float64, bits int) []byte {
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		// Plain notation: the shortest digits, at least one after the
		// point. (Java's two-digit rule only concerns subnormals.)
		start := len(dst)
		dst = strconv.AppendFloat(dst, f, 'f', -1, bits)
		if bytes.IndexByte(dst[start:], '.') < 0 {
			dst = append(dst, '.', '0')
		}
		return dst
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, bits) // [-]d[.ddd]e±xx
	neg := e[0] == '-'
	if neg {
		e = e[1:]
	}
	mark := bytes.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(string(e[mark+1:]))
	var digs [24]byte
	nd := 0
	for _, c := range e[:mark] {
		if c != '.' {
			digs[nd] = c
			nd++
		}
	}
	if nd == 1 {
		// Java prefers a closer two-digit decimal to a one-digit one
		// (Double.MIN_VALUE is 4.9E-324, not 5E-324).
		var b2 [32]byte
		two := strconv.AppendFloat(b2[:0], math.Abs(f), 'e', 1, bits)
		if two[2] != '0' {
			if g, err := strconv.ParseFloat(string(two), bits); err == nil && g == math.Abs(f) {
				if m := bytes.IndexByte(two, 'e'); m > 0 {
					digs[0], digs[1], nd = two[0], two[2], 2
					exp, _ = strconv.Atoi(string(two[m+1:]))
				}
			}
		}
	}
	d := digs[:nd]
	if neg {
		dst = append(dst, '-')
	}
	if exp >= -3 && exp < 7 {
		if exp < 0 {
			dst = append(dst, '0', '.')
			for i := -1; i > exp; i-- {
				dst = append(dst, '0')
			}
			return append(dst, d...)
		}
		for i := 0; i <= exp; i++ {
			if i < len(d) {
				dst = append(dst, d[i])
			} else {
				dst = append(dst, '0')
			}
		}
		dst = append(dst, '.')
		if len(d) > exp+1 {
			return append(dst, d[exp+1:]...)
		}
		return append(dst, '0')
	}
	dst = append(dst, d[0], '.')
	if len(d) > 1 {
		dst = append(dst, d[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return appendInt(dst, int64(exp))
}

// AppendString appends s as a JSON string with the codec's escaping
// (invalid UTF-8 becomes U+FFFD), for sinks that write JSON of their own.
func AppendString(dst, s []byte) []byte { return appendString(dst, s) }

// AppendStr is AppendString for a string.
func AppendStr(dst []byte, s string) []byte { return appendStr(dst, s) }

// AppendFloat appends f as the events write floats: a JSON number, or
// "NaN", "Infinity", "-Infinity". bits is 32 for float4 values.
func AppendFloat(dst []byte, f float64, bits int) []byte { return appendFloat(dst, f, bits) }
