package codec

import (
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice"
)

// appendColumn appends the JSON form of v, a value of column c. Values
// that are KindNull, or whose form the mode cannot express, become null.
func (e *Encoder) appendColumn(dst []byte, c *sluice.Column, v *sluice.Value) []byte {
	if v.Kind != sluice.KindPresent {
		if v.Kind == sluice.KindUnchanged {
			return e.appendPlaceholder(dst, c)
		}
		return append(dst, "null"...)
	}
	return e.appendTyped(dst, c.Type, c, v)
}

// appendTyped appends v as type t; c gives column parameters (scale,
// element type) and is shared by an array's elements.
func (e *Encoder) appendTyped(dst []byte, t sluice.Type, c *sluice.Column, v *sluice.Value) []byte {
	if v.Kind != sluice.KindPresent {
		return append(dst, "null"...)
	}
	switch t {
	case sluice.TypeBool, sluice.TypeBit:
		if v.Int != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64, sluice.TypeDate, sluice.TypeTime, sluice.TypeTimestamp:
		return strconv.AppendInt(dst, v.Int, 10)
	case sluice.TypeFloat32:
		return appendFloat(dst, v.Float, 32)
	case sluice.TypeFloat64:
		return appendFloat(dst, v.Float, 64)
	case sluice.TypeDecimal:
		return e.appendDecimal(dst, c, v.Bytes)
	case sluice.TypeBytes:
		return e.appendBinary(dst, v.Bytes)
	case sluice.TypeBits:
		return e.appendBase64(dst, v.Bytes) // BYTES in Connect's schema whatever binary mode says
	case sluice.TypeTimestampTZ:
		return appendZoned(dst, v.Int)
	case sluice.TypeInterval:
		if e.opt.Interval == IntervalNumeric {
			return strconv.AppendInt(dst, v.Int, 10)
		}
		return appendString(dst, v.Bytes)
	case sluice.TypeArray:
		dst = append(dst, '[')
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			if v.Elems[i].Elems != nil {
				// A sub-array of a multi-dimensional array.
				dst = e.appendTyped(dst, sluice.TypeArray, c, &v.Elems[i])
				continue
			}
			dst = e.appendTyped(dst, c.Elem, c, &v.Elems[i])
		}
		return append(dst, ']')
	default: // text, uuid, json, xml, enum, timetz
		return appendString(dst, v.Bytes)
	}
}

// appendPlaceholder writes Debezium's unavailable-value placeholder in the
// shape of the column's type (used only in ToastPlaceholder mode; in
// ToastOmit mode the caller leaves the column out).
func (e *Encoder) appendPlaceholder(dst []byte, c *sluice.Column) []byte {
	switch c.Type {
	case sluice.TypeBytes:
		return e.appendBinary(dst, []byte(e.opt.Placeholder))
	case sluice.TypeArray:
		dst = append(dst, '[')
		dst = appendStr(dst, e.opt.Placeholder)
		return append(dst, ']')
	}
	return appendStr(dst, e.opt.Placeholder)
}

func (e *Encoder) appendBinary(dst, b []byte) []byte {
	dst = append(dst, '"')
	switch e.opt.Binary {
	case BinaryHex:
		dst = hex.AppendEncode(dst, b)
	case BinaryBase64URL:
		dst = base64.URLEncoding.AppendEncode(dst, b)
	default:
		dst = base64.StdEncoding.AppendEncode(dst, b)
	}
	return append(dst, '"')
}

// appendDecimal writes exact decimal text in string mode, a JSON number in
// double mode, and Kafka Connect's Decimal (base64 of the unscaled
// two's-complement big-endian integer at the column's scale) or Debezium's
// VariableScaleDecimal {scale, value} in precise mode.
func (e *Encoder) appendDecimal(dst []byte, c *sluice.Column, text []byte) []byte {
	special := isSpecialDecimal(text)
	switch e.opt.Decimal {
	case DecimalDouble:
		f, err := strconv.ParseFloat(string(text), 64)
		if err != nil {
			return append(dst, "null"...)
		}
		return appendFloat(dst, f, 64)
	case DecimalPrecise:
		if special {
			return append(dst, "null"...) // not representable, as in Debezium
		}
		unscaled, scale := unscaledDecimal(text, c.Scale)
		if c.Scale < 0 {
			dst = append(dst, `{"scale":`...)
			dst = strconv.AppendInt(dst, int64(scale), 10)
			dst = append(dst, `,"value":`...)
			dst = e.appendBase64(dst, twosComplement(unscaled))
			return append(dst, '}')
		}
		return e.appendBase64(dst, twosComplement(unscaled))
	}
	return appendString(dst, text)
}

func (e *Encoder) appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
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

// appendZoned writes an instant as ISO-8601 in UTC with the fraction's
// trailing zeros dropped (Java's ISO_OFFSET_DATE_TIME), e.g.
// "2024-01-02T03:04:05.12Z"; infinities become "infinity"/"-infinity".
func appendZoned(dst []byte, micros int64) []byte {
	switch micros {
	case sluice.InfinityPos:
		return append(dst, `"infinity"`...)
	case sluice.InfinityNeg:
		return append(dst, `"-infinity"`...)
	}
	t := time.UnixMicro(micros).UTC()
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05.999999Z")
	return append(dst, '"')
}
