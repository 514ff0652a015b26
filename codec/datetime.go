package codec

import (
	"bytes"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice"
)

// appendZoned writes an instant as ISO-8601 in UTC, e.g.
// "2024-01-02T03:04:05.120000Z", as Debezium's ZonedTimestamp: with prec
// fraction digits (0 to 9: none for 0), or with the trailing zeros of the
// fraction dropped when prec < 0 (Java's ISO_OFFSET_DATE_TIME);
// infinities become "infinity"/"-infinity". Years 1 to 9999 are formatted
// directly; others go through package time.
func appendZoned(dst []byte, micros int64, prec int) []byte {
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
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05")
		return appendFraction(dst, int64(t.Nanosecond()/1000), prec)
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
	var b [32]byte
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
	if prec != 0 && prec <= 9 {
		frac := us % 1_000_000
		b[20] = '.'
		for i := 26; i > 20; i-- {
			b[i] = byte('0' + frac%10)
			frac /= 10
		}
		switch {
		case prec < 0:
			n = 27
			for n > 20 && (b[n-1] == '0' || b[n-1] == '.') {
				n--
			}
		case prec <= 6:
			n = 21 + prec
		default:
			for n = 27; n < 21+prec; n++ {
				b[n] = '0'
			}
		}
	}
	b[n] = 'Z'
	b[n+1] = '"'
	return append(dst, b[:n+2]...)
}

// appendFraction writes the microseconds frac of a second with prec
// digits (trimmed when prec < 0), then `Z"`.
func appendFraction(dst []byte, frac int64, prec int) []byte {
	var f [10]byte
	f[0] = '.'
	for i := 6; i > 0; i-- {
		f[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 7
	switch {
	case prec < 0:
		for n > 1 && f[n-1] == '0' {
			n--
		}
	case prec <= 6:
		n = prec + 1
	default:
		for ; n < prec+1 && n < len(f); n++ {
			f[n] = '0'
		}
	}
	if n > 1 {
		dst = append(dst, f[:n]...)
	}
	return append(dst, 'Z', '"')
}

func put2(b []byte, v int) {
	b[0] = byte('0' + v/10)
	b[1] = byte('0' + v%10)
}

func put4(b []byte, v int) {
	put2(b, v/100)
	put2(b[2:], v%100)
}

// appendIntervalString writes Debezium's interval.handling.mode=string
// form of an interval given in its exact ISO-8601 form
// ("P1Y2M3DT4H5M6.78S", every field present, as the sources write it):
// the same, but the seconds as Debezium computes them, through a Java
// double (PGInterval.getSeconds: whole seconds + microseconds / 1e6),
// Double.toString, and at most nine fraction digits, truncated:
// 1.235 becomes "1.234999999".
func appendIntervalString(dst, iso []byte) []byte {
	m := bytes.LastIndexByte(iso, 'M')
	if m < 0 || len(iso) == 0 || iso[len(iso)-1] != 'S' {
		return appendString(dst, iso)
	}
	sec := iso[m+1 : len(iso)-1]
	whole, frac, _ := bytes.Cut(sec, []byte{'.'})
	neg := len(whole) > 0 && whole[0] == '-'
	w, err := strconv.ParseInt(string(whole), 10, 64)
	if err != nil {
		return appendString(dst, iso)
	}
	var us int64
	for i := 0; i < 6; i++ {
		us *= 10
		if i < len(frac) {
			us += int64(frac[i] - '0')
		}
	}
	if neg {
		us = -us
	}
	f := float64(w) + float64(us)/1e6
	dst = append(dst, '"')
	dst = append(dst, iso[:m+1]...)
	dst = appendJavaBigDecimal9(dst, f)
	return append(dst, 'S', '"')
}

// appendJavaBigDecimal9 writes
// BigDecimal.valueOf(f).setScale(9, DOWN) (when its scale exceeds 9)
// .stripTrailingZeros().toPlainString().
func appendJavaBigDecimal9(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0')
	}
	var buf [40]byte
	j := appendJavaFloat(buf[:0], f, 64) // the digits Double.toString chose
	neg := j[0] == '-'
	if neg {
		j = j[1:]
	}
	// Split into digits and the exponent of the decimal point.
	mant, expPart, hasExp := bytes.Cut(j, []byte{'E'})
	exp := 0
	if hasExp {
		exp, _ = strconv.Atoi(string(expPart))
	}
	ip, fp, _ := bytes.Cut(mant, []byte{'.'})
	digits := append(append([]byte{}, ip...), fp...)
	point := len(ip) + exp // digits before the decimal point
	for len(digits) > 0 && digits[0] == '0' && point > 0 {
		digits = digits[1:]
		point--
	}
	var intPart, fracPart []byte
	switch {
	case point <= 0:
		fracPart = append(bytes.Repeat([]byte{'0'}, -point), digits...)
	case point >= len(digits):
		intPart = append(digits, bytes.Repeat([]byte{'0'}, point-len(digits))...)
	default:
		intPart, fracPart = digits[:point], digits[point:]
	}
	if len(fracPart) > 9 {
		fracPart = fracPart[:9]
	}
	for len(fracPart) > 0 && fracPart[len(fracPart)-1] == '0' {
		fracPart = fracPart[:len(fracPart)-1]
	}
	if len(intPart) == 0 {
		intPart = []byte{'0'}
	}
	if len(fracPart) == 0 && string(intPart) == "0" {
		return append(dst, '0')
	}
	if neg {
		dst = append(dst, '-')
	}
	dst = append(dst, intPart...)
	if len(fracPart) > 0 {
		dst = append(dst, '.')
		dst = append(dst, fracPart...)
	}
	return dst
}
