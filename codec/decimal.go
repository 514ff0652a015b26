package codec

import (
	"encoding/binary"
	"errors"
	"math/big"
	"math/bits"
	"strconv"

	"github.com/sluice-cdc/sluice"
)

// appendDecimal writes a decimal by mode: Kafka Connect's Decimal (base64
// of the unscaled two's-complement big-endian integer at the column's
// scale) or Debezium's VariableScaleDecimal {scale, value} (unconstrained
// columns, trailing fraction zeros dropped) in precise mode, exact text
// in string mode, a JSON number in double mode. NaN and the infinities
// are null in precise mode, "NAN", "POSITIVE_INFINITY" and
// "NEGATIVE_INFINITY" in string mode (Debezium's spellings). In double
// mode a value beyond float64's range is an infinity, as
// BigDecimal.doubleValue() gives Debezium (see parseDouble).
func (e *Encoder) appendDecimal(dst []byte, c *sluice.Column, text []byte) []byte {
	special := isSpecialDecimal(text)
	switch e.opt.Decimal {
	case DecimalDouble:
		f, ok := parseDouble(text)
		if !ok {
			return append(dst, "null"...) // not a number at all
		}
		return appendFloat(dst, f, 64)
	case DecimalPrecise:
		if special {
			return append(dst, "null"...) // not representable, as in Debezium
		}
		scale := c.Scale
		if scale < 0 {
			text = trimFractionZeros(text)
		}
		var small [8]byte
		b, scale, ok := unscaledSmall(&small, text, scale)
		if !ok {
			var unscaled *big.Int
			unscaled, scale = unscaledDecimal(text, c.Scale)
			b = twosComplement(unscaled)
		}
		if c.Scale < 0 {
			dst = append(dst, `{"scale":`...)
			dst = appendInt(dst, int64(scale))
			dst = append(dst, `,"value":`...)
			dst = appendBase64(dst, b)
			return append(dst, '}')
		}
		return appendBase64(dst, b)
	}
	if special {
		switch text[0] {
		case 'N':
			return append(dst, `"NAN"`...)
		case 'I':
			return append(dst, `"POSITIVE_INFINITY"`...)
		}
		return append(dst, `"NEGATIVE_INFINITY"`...)
	}
	return appendString(dst, text)
}

// parseDouble reads decimal text as Java's Double.parseDouble and
// BigDecimal.doubleValue() do: a number beyond float64's range is ±Inf and
// one too small for it is ±0. strconv.ParseFloat returns those values too
// but with an ErrRange error, and taking that error for "not a number"
// wrote null for a PostgreSQL numeric of 1e309 or more (an unconstrained
// numeric holds up to 131072 digits), breaking a NOT NULL column's schema
// and failing its Avro write. ok is false only for text that is no number.
func parseDouble(text []byte) (f float64, ok bool) {
	// The conversion does not allocate: strconv copies its input before
	// putting it in an error.
	f, err := strconv.ParseFloat(string(text), 64)
	return f, err == nil || errors.Is(err, strconv.ErrRange)
}

// trimFractionZeros drops trailing zeros after a decimal point (and the
// point itself), as BigDecimal.stripTrailingZeros does for
// VariableScaleDecimal (never into the integer part).
func trimFractionZeros(text []byte) []byte {
	dot := -1
	for i, c := range text {
		if c == '.' {
			dot = i
			break
		}
	}
	if dot < 0 {
		return text
	}
	end := len(text)
	for end > dot+1 && text[end-1] == '0' {
		end--
	}
	if end == dot+1 {
		end = dot
	}
	return text[:end]
}

func isSpecialDecimal(b []byte) bool {
	return len(b) > 0 && (b[0] == 'N' || b[0] == 'I' || (b[0] == '-' && len(b) > 1 && b[1] == 'I'))
}

// unscaledDecimal turns decimal text into its unscaled integer at scale
// (the text's own scale when scale < 0), padding or dropping fraction
// digits; PostgreSQL already rounds to the declared scale.
func unscaledDecimal(text []byte, scale int) (*big.Int, int) {
	neg := len(text) > 0 && text[0] == '-'
	if neg || (len(text) > 0 && text[0] == '+') {
		text = text[1:]
	}
	digits := make([]byte, 0, len(text)+8)
	frac := -1
	for _, ch := range text {
		switch {
		case ch == '.':
			frac = 0
		case ch >= '0' && ch <= '9':
			digits = append(digits, ch)
			if frac >= 0 {
				frac++
			}
		}
	}
	if frac < 0 {
		frac = 0
	}
	if scale < 0 {
		scale = frac
	}
	for ; frac < scale; frac++ {
		digits = append(digits, '0')
	}
	if frac > scale {
		digits = digits[:len(digits)-(frac-scale)]
	}
	n := new(big.Int)
	if len(digits) > 0 {
		n.SetString(string(digits), 10)
	}
	if neg {
		n.Neg(n)
	}
	return n, scale
}

// unscaledSmall is unscaledDecimal followed by twosComplement for values
// whose unscaled integer has at most 18 digits, without allocating: the
// bytes are written into buf. ok is false when the value needs big.Int.
func unscaledSmall(buf *[8]byte, text []byte, scale int) (b []byte, outScale int, ok bool) {
	neg := len(text) > 0 && text[0] == '-'
	if neg || (len(text) > 0 && text[0] == '+') {
		text = text[1:]
	}
	var n uint64
	digits, frac := 0, -1
	for _, ch := range text {
		switch {
		case ch == '.':
			frac = 0
		case ch >= '0' && ch <= '9':
			if frac >= 0 {
				if scale >= 0 && frac >= scale {
					continue // dropped, as unscaledDecimal does
				}
				frac++
			}
			if n != 0 || ch != '0' {
				digits++
			}
			if digits > 18 {
				return nil, 0, false
			}
			n = n*10 + uint64(ch-'0')
		}
	}
	if frac < 0 {
		frac = 0
	}
	if scale < 0 {
		scale = frac
	}
	for ; frac < scale; frac++ {
		if n != 0 {
			digits++
		}
		if digits > 18 {
			return nil, 0, false
		}
		n *= 10
	}
	v := int64(n)
	if neg {
		v = -v
	}
	// Minimal big-endian two's complement, as BigInteger.toByteArray.
	x := uint64(v)
	if v < 0 {
		x = ^x
	}
	size := bits.Len64(x)/8 + 1
	binary.BigEndian.PutUint64(buf[:], uint64(v))
	return buf[8-size:], scale, true
}

// twosComplement returns the minimal big-endian two's-complement bytes of
// n, as Java's BigInteger.toByteArray does.
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n - 1, inverted.
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}
