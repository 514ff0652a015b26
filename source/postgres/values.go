package postgres

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sluice-cdc/sluice"
)

// Scalar values. decodeInto decodes every non-array logical type:
// numbers, decimals, bytea, uuid and bit strings with the code here,
// dates and times with datetime.go, intervals with interval.go.

// hasBytes reports whether values of t keep their data in Value.Bytes.
func hasBytes(t sluice.Type) bool {
	switch t {
	case sluice.TypeText, sluice.TypeDecimal, sluice.TypeBytes, sluice.TypeUUID, sluice.TypeJSON,
		sluice.TypeXML, sluice.TypeEnum, sluice.TypeTimeTZ, sluice.TypeInterval, sluice.TypeBits:
		return true
	}
	return false
}

// bytesBound is an upper bound of the decoded size of a text form of n
// bytes. Only the interval's ISO-8601 form can be longer than its input
// ("1 day" is "P0Y0M1DT0H0M0S").
func bytesBound(t sluice.Type, n int) int {
	if t == sluice.TypeInterval {
		return n + 16
	}
	return n
}

// setInt and setBytes fill a zero Value; setBytes caps the slice at its
// length so that appending to it never writes into bytes that belong to
// another value.
func setInt(v *sluice.Value, i int64) {
	v.Kind = sluice.KindPresent
	v.Int = i
}

func setBytes(v *sluice.Value, dst []byte, start int) {
	v.Kind = sluice.KindPresent
	v.Bytes = dst[start:len(dst):len(dst)]
}

// decodeInto decodes one non-array value of type t into the zero Value
// *v. Types stored in Bytes append their data to dst (which the caller
// sized) and return it. On error *v is left unset.
func decodeInto(v *sluice.Value, t sluice.Type, src, dst []byte) ([]byte, error) {
	start := len(dst)
	var err error
	switch t {
	case sluice.TypeText, sluice.TypeJSON, sluice.TypeXML, sluice.TypeEnum:
		dst = append(dst, src...)
		setBytes(v, dst, start)
		return dst, nil
	case sluice.TypeInt32:
		n, ok := parseInt(src, math.MinInt32, math.MaxInt32)
		if !ok {
			return dst, syntaxErr("int4", src)
		}
		setInt(v, n)
		return dst, nil
	case sluice.TypeInt64:
		n, ok := parseInt(src, math.MinInt64, math.MaxInt64)
		if !ok {
			return dst, syntaxErr("int8", src)
		}
		setInt(v, n)
		return dst, nil
	case sluice.TypeInt16:
		n, ok := parseInt(src, math.MinInt16, math.MaxInt16)
		if !ok {
			return dst, syntaxErr("int2", src)
		}
		setInt(v, n)
		return dst, nil
	case sluice.TypeBool:
		switch string(src) {
		case "t", "true":
			setInt(v, 1)
		case "f", "false":
			setInt(v, 0)
		default:
			return dst, syntaxErr("bool", src)
		}
		return dst, nil
	case sluice.TypeFloat32, sluice.TypeFloat64:
		size := 64
		if t == sluice.TypeFloat32 {
			size = 32
		}
		// strconv accepts PostgreSQL's NaN, Infinity and -Infinity.
		// The string conversion does not allocate: strconv copies its
		// input before putting it in an error.
		f, err := strconv.ParseFloat(string(src), size)
		if err != nil {
			return dst, syntaxErr("float", src)
		}
		v.Kind, v.Float = sluice.KindPresent, f
		return dst, nil
	case sluice.TypeDecimal:
		dst, err = appendDecimal(dst, src)
	case sluice.TypeBytes:
		dst, err = appendBytea(dst, src)
	case sluice.TypeUUID:
		dst, err = appendUUID(dst, src)
	case sluice.TypeTimeTZ:
		dst, err = appendTimeTZ(dst, src)
	case sluice.TypeDate:
		d, err := parseDate(src)
		if err != nil {
			return dst, err
		}
		setInt(v, d)
		return dst, nil
	case sluice.TypeTime:
		us, n, _, ok := parseClock(src, true)
		if !ok || n != len(src) {
			return dst, syntaxErr("time", src)
		}
		setInt(v, us)
		return dst, nil
	case sluice.TypeTimestamp, sluice.TypeTimestampTZ:
		us, err := parseTimestamp(src, t == sluice.TypeTimestampTZ)
		if err != nil {
			return dst, err
		}
		setInt(v, us)
		return dst, nil
	case sluice.TypeInterval:
		var us int64
		if us, dst, err = appendInterval(dst, src); err != nil {
			return dst, err
		}
		setBytes(v, dst, start)
		v.Int = us
		return dst, nil
	case sluice.TypeBit:
		if len(src) != 1 || (src[0] != '0' && src[0] != '1') {
			return dst, syntaxErr("bit(1)", src)
		}
		setInt(v, int64(src[0]-'0'))
		return dst, nil
	case sluice.TypeBits:
		if dst, err = appendBits(dst, src); err != nil {
			return dst, err
		}
		setBytes(v, dst, start)
		v.Int = int64(len(src))
		return dst, nil
	default:
		return dst, fmt.Errorf("%w %s", errBadType, t)
	}
	// decimal, bytea, uuid, timetz
	if err != nil {
		return dst, err
	}
	setBytes(v, dst, start)
	return dst, nil
}

// parseInt parses an optionally signed decimal integer within [lo, hi].
func parseInt(s []byte, lo, hi int64) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	neg := false
	i := 0
	switch s[0] {
	case '-':
		neg, i = true, 1
	case '+':
		i = 1
	}
	if i == len(s) {
		return 0, false
	}
	var n uint64
	for ; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 || n > math.MaxInt64/10 {
			return 0, false
		}
		n = n*10 + uint64(c)
	}
	if neg {
		if n > 1<<63 || -int64(n) < lo { // -int64(1<<63) is MinInt64
			return 0, false
		}
		return -int64(n), true
	}
	if n > uint64(hi) {
		return 0, false
	}
	return int64(n), true
}

// appendDecimal appends the exact decimal text of a numeric or money
// value. numeric output is "-123.4500", "NaN", "Infinity" or "-Infinity"
// and is kept digit for digit. money output is "$1,234.56" or
// "-$1,234.56" (lc_monetary C or en_US: '$', ',' every three digits, '.'
// and two fraction digits); the sign and digits are kept, giving
// "1234.56" and "-1234.56". A '$' form that deviates from that pattern is
// rejected, so another locale's "$1.235" is an error, not 1.235.
func appendDecimal(dst, src []byte) ([]byte, error) {
	switch string(src) {
	case "NaN", "Infinity", "-Infinity":
		return append(dst, src...), nil
	}
	i := 0
	if i < len(src) && src[i] == '-' {
		i++
	}
	if i < len(src) && src[i] == '$' {
		if i > 0 {
			dst = append(dst, '-')
		}
		return appendMoney(dst, src, i+1)
	}
	// numeric: check "-?d+(.d+)?" and copy it unchanged.
	digits := i
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	ok := i > digits
	if ok && i < len(src) && src[i] == '.' {
		i++
		frac := i
		for i < len(src) && isDigit(src[i]) {
			i++
		}
		ok = i > frac
	}
	if !ok || i != len(src) {
		return dst, syntaxErr("numeric or money (money assumes lc_monetary C or en_US)", src)
	}
	return append(dst, src...), nil
}

// appendMoney appends the digits of the money text src[i:] after "$":
// 1 to 3 digits, then groups of ",ddd", then ".dd".
func appendMoney(dst, src []byte, i int) ([]byte, error) {
	group, first := 0, true // digits in the current group
	for ; i < len(src); i++ {
		c := src[i]
		switch {
		case c >= '0' && c <= '9':
			dst = append(dst, c)
			group++
			if group > 3 {
				return dst, syntaxErr("money (lc_monetary C or en_US expected)", src)
			}
			continue
		case c == ',' && group > 0 && (first || group == 3):
			group, first = 0, false
			continue
		case c == '.' && group > 0 && (first || group == 3) && i+3 == len(src) && isDigit(src[i+1]) && isDigit(src[i+2]):
			return append(dst, src[i:]...), nil
		}
		break
	}
	return dst, syntaxErr("money (lc_monetary C or en_US expected)", src)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// appendBytea decodes bytea's hex output ("\x0aff"), or the escape format
// ("a\\b\001") when bytea_output=escape.
func appendBytea(dst, src []byte) ([]byte, error) {
	if len(src) >= 2 && src[0] == '\\' && src[1] == 'x' {
		h := src[2:]
		if len(h)%2 != 0 {
			return dst, syntaxErr("bytea", src)
		}
		for i := 0; i < len(h); i += 2 {
			hi, ok1 := unhex(h[i])
			lo, ok2 := unhex(h[i+1])
			if !ok1 || !ok2 {
				return dst, syntaxErr("bytea", src)
			}
			dst = append(dst, hi<<4|lo)
		}
		return dst, nil
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		if i+1 < len(src) && src[i+1] == '\\' {
			dst = append(dst, '\\')
			i++
			continue
		}
		if i+3 < len(src) && isOct(src[i+1]) && isOct(src[i+2]) && isOct(src[i+3]) && src[i+1] <= '3' {
			dst = append(dst, (src[i+1]-'0')<<6|(src[i+2]-'0')<<3|(src[i+3]-'0'))
			i += 3
			continue
		}
		return dst, syntaxErr("bytea", src)
	}
	return dst, nil
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendUUID checks the canonical 8-4-4-4-12 form and appends it in lower
// case.
func appendUUID(dst, src []byte) ([]byte, error) {
	if len(src) != 36 {
		return dst, syntaxErr("uuid", src)
	}
	for i, c := range src {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return dst, syntaxErr("uuid", src)
			}
		} else if _, ok := unhex(c); !ok {
			return dst, syntaxErr("uuid", src)
		} else if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// appendBits appends a bit string ("0101") as Debezium's PostgreSQL
// connector encodes io.debezium.data.Bits: the string read as an unsigned
// binary number (last character = bit 0), as little-endian bytes with no
// trailing zero bytes (Java's BitSet.toByteArray); an all-zero string is
// zero bytes. The caller stores the bit count in Value.Int.
func appendBits(dst, src []byte) ([]byte, error) {
	first := -1 // index of the most significant 1
	for i, c := range src {
		if c != '0' && c != '1' {
			return dst, syntaxErr("bit string", src)
		}
		if c == '1' && first < 0 {
			first = i
		}
	}
	if first < 0 {
		return dst, nil
	}
	nbits := len(src) - first
	start := len(dst)
	for range (nbits + 7) / 8 {
		dst = append(dst, 0)
	}
	out := dst[start:]
	for i := first; i < len(src); i++ {
		if src[i] == '1' {
			b := len(src) - 1 - i
			out[b/8] |= 1 << (b % 8)
		}
	}
	return dst, nil
}
