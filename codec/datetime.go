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
// infinities become "infinity"/"-infinity".
func appendZoned(dst []byte, micros int64, prec int) []byte {
	switch micros {
	case sluice.InfinityPos:
		return append(dst, `"infinity"`...)
	case sluice.InfinityNeg:
		return append(dst, `"-infinity"`...)
	}
	if micros < minMicros || micros > maxMicros {
		dst = append(dst, '"')
		dst = AppendTimestamp(dst, micros, prec, true)
		return append(dst, '"')
	}
	var b [40]byte
	b[0] = '"'
	n := 1 + putTimestamp((*[32]byte)(b[1:33]), micros, prec, true)
	b[n] = '"'
	return append(dst, b[:n+1]...)
}

const (
	minMicros = -62135596800 * 1_000_000   // 0001-01-01T00:00:00Z
	maxMicros = 253402300800*1_000_000 - 1 // 9999-12-31T23:59:59.999999Z
	usPerDay  = 86400 * 1_000_000
	unixToDay = 719468 // days from 0000-03-01 to 1970-01-01
)

// AppendTimestamp writes micros since the Unix epoch as ISO-8601 in UTC,
// e.g. 2024-01-02T03:04:05.12, with prec fraction digits (0 to 9: none
// for 0) or with the trailing zeros of the fraction dropped when prec < 0,
// then Z when zulu. Years 1 to 9999 are formatted directly, about three
// times faster than time.Time.AppendFormat; others go through package
// time. The infinities (sluice.InfinityPos, InfinityNeg) are the caller's
// to spell.
func AppendTimestamp(dst []byte, micros int64, prec int, zulu bool) []byte {
	if micros < minMicros || micros > maxMicros {
		t := time.UnixMicro(micros).UTC()
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05")
		var f [10]byte
		dst = append(dst, f[:putFraction(&f, int64(t.Nanosecond()/1000), prec)]...)
		if zulu {
			dst = append(dst, 'Z')
		}
		return dst
	}
	var b [32]byte
	return append(dst, b[:putTimestamp(&b, micros, prec, zulu)]...)
}

// putTimestamp is AppendTimestamp for years 1 to 9999, into b; it
// returns the bytes written.
func putTimestamp(b *[32]byte, micros int64, prec int, zulu bool) int {
	days := micros / usPerDay
	us := micros % usPerDay
	if us < 0 {
		days--
		us += usPerDay
	}
	putDate((*[10]byte)(b[:10]), days)
	secs := us / 1_000_000
	b[10] = 'T'
	put2(b[11:], int(secs/3600))
	b[13] = ':'
	put2(b[14:], int(secs/60%60))
	b[16] = ':'
	put2(b[17:], int(secs%60))
	n := 19 + putFraction((*[10]byte)(b[19:29]), us%1_000_000, prec)
	if zulu {
		b[n] = 'Z'
		n++
	}
	return n
}

// AppendDate writes days since the Unix epoch as an ISO-8601 date,
// e.g. 2024-01-02, directly for years 1 to 9999 and through package time
// otherwise. The infinities are the caller's to spell.
func AppendDate(dst []byte, days int64) []byte {
	if days < minMicros/usPerDay || days > maxMicros/usPerDay {
		return time.Unix(days*86400, 0).UTC().AppendFormat(dst, "2006-01-02")
	}
	var b [10]byte
	putDate(&b, days)
	return append(dst, b[:]...)
}

// putDate writes the date days after 1970-01-01 as YYYY-MM-DD into b,
// for years 0 to 9999.
func putDate(b *[10]byte, days int64) {
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
	put4(b[:], int(year))
	b[4] = '-'
	put2(b[5:], int(month))
	b[7] = '-'
	put2(b[8:], int(day))
}

// AppendFraction appends the microseconds us of a second (0 to 999,999)
// as the encoder writes a timestamp's fraction: a dot and the digits
// without trailing zeros, nothing for 0 (or a negative us). The
// Elasticsearch sink's documents write their timestamps with it.
func AppendFraction(dst []byte, us int64) []byte {
	if us <= 0 || us >= 1e6 {
		return dst
	}
	var f [10]byte
	return append(dst, f[:putFraction(&f, us, -1)]...)
}

// putFraction writes the microseconds frac of a second into f as a dot
// and prec digits (0: nothing; 7 to 9 pad with zeros), or trimmed of
// trailing zeros (nothing when they all are) when prec < 0; it returns
// the bytes written.
func putFraction(f *[10]byte, frac int64, prec int) int {
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
		for ; n < prec+1 && n < 10; n++ {
			f[n] = '0'
		}
	}
	if n == 1 {
		return 0
	}
	return n
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
