package postgres

import (
	"fmt"
	"math"

	"github.com/sluice-cdc/sluice"
)

// Time constants in microseconds.
const (
	usPerSec  = 1_000_000
	usPerMin  = 60 * usPerSec
	usPerHour = 60 * usPerMin
	usPerDay  = 24 * usPerHour
)

// parseDigits reads exactly n decimal digits at s[i:].
func parseDigits(s []byte, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range s[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseYMD reads "Y…Y-MM-DD" (a year of 1 to 8 digits) and returns the
// date's fields and the number of bytes read.
func parseYMD(s []byte) (year int64, month, day, n int, ok bool) {
	for n < len(s) && n < 9 && s[n] >= '0' && s[n] <= '9' {
		year = year*10 + int64(s[n]-'0')
		n++
	}
	if n == 0 || n > 8 || n >= len(s) || s[n] != '-' {
		return 0, 0, 0, 0, false
	}
	if month, ok = parseDigits(s, n+1, 2); !ok || n+3 >= len(s) || s[n+3] != '-' {
		return 0, 0, 0, 0, false
	}
	if day, ok = parseDigits(s, n+4, 2); !ok {
		return 0, 0, 0, 0, false
	}
	return year, month, day, n + 6, true
}

// daysSinceEpoch converts a proleptic Gregorian date (astronomical year:
// 1 BC is year 0) to days since 1970-01-01, checking the day of month.
func daysSinceEpoch(year int64, month, day int) (int64, bool) {
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return 0, false
	}
	leap := year%4 == 0 && (year%100 != 0 || year%400 == 0)
	if day > 28 && day > daysIn(month, leap) {
		return 0, false
	}
	// Howard Hinnant's days_from_civil.
	y := year
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((month + 9) % 12)
	doy := (153*mp+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468, true
}

func daysIn(month int, leap bool) int {
	switch month {
	case 2:
		if leap {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// hasBC reports whether s ends in " BC".
func hasBC(s []byte) bool {
	n := len(s)
	return n >= 3 && s[n-3] == ' ' && s[n-2] == 'B' && s[n-1] == 'C'
}

// datePart parses the date that starts s (with its " BC" suffix already
// removed by the caller when bc is true) into days since the epoch.
func datePart(s []byte, bc bool) (days int64, n int, ok bool) {
	y, m, d, n, ok := parseYMD(s)
	if !ok || y == 0 { // there is no year 0, AD or BC
		return 0, 0, false
	}
	if bc {
		y = 1 - y
	}
	days, ok = daysSinceEpoch(y, m, d)
	return days, n, ok
}

// parseDate parses DateStyle ISO date output into days since 1970-01-01.
func parseDate(src []byte) (int64, error) {
	switch string(src) {
	case "infinity":
		return sluice.InfinityPos, nil
	case "-infinity":
		return sluice.InfinityNeg, nil
	}
	s, bc := src, hasBC(src)
	if bc {
		s = s[:len(s)-3]
	}
	days, n, ok := datePart(s, bc)
	if !ok || n != len(s) {
		return 0, syntaxErr("date (DateStyle ISO expected)", src)
	}
	return days, nil
}

// parseClock reads "HH:MM:SS[.ffffff]" at the start of s and returns the
// microseconds since midnight, the bytes read and the index of the
// fraction's '.' (or the end of the seconds when there is none). 24:00:00
// is accepted when allow24.
func parseClock(s []byte, allow24 bool) (us int64, n, dot int, ok bool) {
	h, ok1 := parseDigits(s, 0, 2)
	m, ok2 := parseDigits(s, 3, 2)
	sec, ok3 := parseDigits(s, 6, 2)
	if !ok1 || !ok2 || !ok3 || s[2] != ':' || s[5] != ':' || m > 59 || sec > 59 {
		return 0, 0, 0, false
	}
	us = int64(h)*usPerHour + int64(m)*usPerMin + int64(sec)*usPerSec
	n, dot = 8, 8
	if n < len(s) && s[n] == '.' {
		n++
		scale := int64(100_000)
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			if scale == 0 {
				return 0, 0, 0, false // more than 6 digits
			}
			us += int64(s[n]-'0') * scale
			scale /= 10
			n++
		}
		if n == dot+1 {
			return 0, 0, 0, false
		}
	}
	if h > 24 || (h == 24 && (!allow24 || us != usPerDay)) {
		return 0, 0, 0, false
	}
	return us, n, dot, true
}

// parseOffset reads a UTC offset "+hh", "+hh:mm" or "+hh:mm:ss" (or with
// '-') that makes up all of s, in seconds east of UTC.
func parseOffset(s []byte) (int64, bool) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	h, ok := parseDigits(s, 1, 2)
	if !ok {
		return 0, false
	}
	off := int64(h) * 3600
	i := 3
	for _, unit := range [2]int64{60, 1} {
		if i == len(s) {
			break
		}
		v, ok := parseDigits(s, i+1, 2)
		if !ok || s[i] != ':' || v > 59 {
			return 0, false
		}
		off += int64(v) * unit
		i += 3
	}
	if i != len(s) {
		return 0, false
	}
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// appendTimeTZ converts timetz output ("12:34:56.789+02") to UTC and
// appends it as "HH:MM:SS[.fff]Z", keeping exactly the fraction digits
// PostgreSQL sent. The result wraps around midnight.
func appendTimeTZ(dst, src []byte) ([]byte, error) {
	us, n, dot, ok := parseClock(src, true)
	if !ok {
		return dst, syntaxErr("timetz", src)
	}
	off, ok := parseOffset(src[n:])
	if !ok {
		return dst, syntaxErr("timetz", src)
	}
	secs := (us/usPerSec - off) % 86400
	if secs < 0 {
		secs += 86400
	}
	dst = append2(dst, int(secs/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(secs/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(secs%60))
	dst = append(dst, src[dot:n]...) // ".789" or nothing
	return append(dst, 'Z'), nil
}

// append2 appends v (0..99) as two digits.
func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

// parseTimestamp parses DateStyle ISO timestamp or timestamptz output,
// e.g. "2018-06-20 15:13:16.945104", "2018-06-20 17:13:16+02",
// "0044-03-15 12:00:00+00 BC", into microseconds since 1970-01-01 UTC
// (for timestamp: of the wall clock read as UTC).
func parseTimestamp(src []byte, tz bool) (int64, error) {
	switch string(src) {
	case "infinity":
		return sluice.InfinityPos, nil
	case "-infinity":
		return sluice.InfinityNeg, nil
	}
	what := "timestamp (DateStyle ISO expected)"
	if tz {
		what = "timestamptz (DateStyle ISO expected)"
	}
	s, bc := src, hasBC(src)
	if bc {
		s = s[:len(s)-3]
	}
	days, n, ok := datePart(s, bc)
	if !ok || n >= len(s) || s[n] != ' ' {
		return 0, syntaxErr(what, src)
	}
	s = s[n+1:]
	tm, n, _, ok := parseClock(s, false)
	if !ok {
		return 0, syntaxErr(what, src)
	}
	var off int64
	if tz {
		if off, ok = parseOffset(s[n:]); !ok {
			return 0, syntaxErr(what, src)
		}
	} else if n != len(s) {
		return 0, syntaxErr(what, src)
	}
	const maxDays = math.MaxInt64 / usPerDay
	if days > maxDays || days < -maxDays {
		return 0, fmt.Errorf("%w: %s is beyond int64 microseconds since 1970", errRange, src)
	}
	us, ok := add64(days*usPerDay, tm-off*usPerSec)
	if !ok {
		return 0, fmt.Errorf("%w: %s is beyond int64 microseconds since 1970", errRange, src)
	}
	return us, nil
}

func add64(a, b int64) (int64, bool) {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		return 0, false
	}
	return c, true
}
