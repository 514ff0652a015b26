package codec

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math/big"
	"math/bits"
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
	case sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64, sluice.TypeDate, sluice.TypeTime, sluice.TypeYear:
		return strconv.AppendInt(dst, v.Int, 10)
	case sluice.TypeTimestamp:
		if millisTimestamp(c) && v.Int != sluice.InfinityPos && v.Int != sluice.InfinityNeg {
			ms := v.Int / 1000
			if v.Int%1000 < 0 {
				ms-- // floor, so instants before 1970 round towards the past
			}
			return strconv.AppendInt(dst, ms, 10)
		}
		return strconv.AppendInt(dst, v.Int, 10)
	case sluice.TypeGeometry:
		dst = append(dst, `{"wkb":`...)
		dst = e.appendBase64(dst, v.Bytes)
		dst = append(dst, `,"srid":`...)
		dst = strconv.AppendInt(dst, v.Int, 10)
		return append(dst, '}')
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

// millisTimestamp reports whether a zone-less timestamp column is written
// in milliseconds (io.debezium.time.Timestamp): Debezium's adaptive time
// modes do so for a declared precision of 0 to 3 digits.
func millisTimestamp(c *sluice.Column) bool {
	return c != nil && c.Type == sluice.TypeTimestamp && c.Scale >= 0 && c.Scale <= 3
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
		var small [8]byte
		b, scale, ok := unscaledSmall(&small, text, c.Scale)
		if !ok {
			var unscaled *big.Int
			unscaled, scale = unscaledDecimal(text, c.Scale)
			b = twosComplement(unscaled)
		}
		if c.Scale < 0 {
			dst = append(dst, `{"scale":`...)
			dst = strconv.AppendInt(dst, int64(scale), 10)
			dst = append(dst, `,"value":`...)
			dst = e.appendBase64(dst, b)
			return append(dst, '}')
		}
		return e.appendBase64(dst, b)
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

// appendZoned writes an instant as ISO-8601 in UTC with the fraction's
// trailing zeros dropped (Java's ISO_OFFSET_DATE_TIME), e.g.
// "2024-01-02T03:04:05.12Z"; infinities become "infinity"/"-infinity".
// Years 1 to 9999 are formatted directly; others go through package time
// (same layout, same result).
func appendZoned(dst []byte, micros int64) []byte {
	switch micros {
	case sluice.InfinityPos:
		return append(dst, `"infinity"`...)
	case sluice.InfinityNeg:
		return append(dst, `"-infinity"`...)
	}
	const (
		minMicros = -62135596800 * 1_000_000   // 0001-01-01T00:00:00Z
		maxMicros = 253402300800*1_000_000 - 1 // 9999-12-31T23:59:59.999999Z
		usPerDay  = 86400 * 1_000_000
		unixToDay = 719468 // days from 0000-03-01 to 1970-01-01
	)
	if micros < minMicros || micros > maxMicros {
		t := time.UnixMicro(micros).UTC()
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.999999Z")
		return append(dst, '"')
	}
	days := micros / usPerDay
	us := micros % usPerDay
	if us < 0 {
		days--
		us += usPerDay
	}
	// Howard Hinnant's civil_from_days, for days >= -719468 (year 0).
	z := days + unixToDay
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	year := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if mp >= 10 {
		month = mp - 9
		year++
	}
	secs := us / 1_000_000
	frac := us % 1_000_000
	var b [30]byte
	b[0] = '"'
	put4(b[1:], int(year))
	b[5] = '-'
	put2(b[6:], int(month))
	b[8] = '-'
	put2(b[9:], int(day))
	b[11] = 'T'
	put2(b[12:], int(secs/3600))
	b[14] = ':'
	put2(b[15:], int(secs/60%60))
	b[17] = ':'
	put2(b[18:], int(secs%60))
	n := 20
	if frac != 0 {
		b[20] = '.'
		for i := 26; i > 20; i-- {
			b[i] = byte('0' + frac%10)
			frac /= 10
		}
		n = 27
		for b[n-1] == '0' {
			n--
		}
	}
	b[n] = 'Z'
	b[n+1] = '"'
	return append(dst, b[:n+2]...)
}

func put2(b []byte, v int) {
	b[0] = byte('0' + v/10)
	b[1] = byte('0' + v%10)
}

func put4(b []byte, v int) {
	put2(b, v/100)
	put2(b[2:], v%100)
}
