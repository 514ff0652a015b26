package postgres

import (
	"math"
	"strconv"
)

// appendInterval parses interval output in IntervalStyle postgres, e.g.
// "1 year 2 mons 3 days 04:05:06.78", "-1 days +02:00:00", "-00:00:00.5"
// (and PostgreSQL 17's "infinity"). It returns the duration in
// microseconds with a month as 30.4375 days, computed in float64 the way
// Debezium's MicroDuration does (see intervalMicros), and appends the ISO-8601 form Debezium's
// interval.handling.mode=string writes: every field present, each with
// the sign PostgreSQL gave it, e.g. "P1Y2M3DT4H5M6.78S",
// "P0Y0M-1DT2H0M0S", "P0Y0M0DT-4H-5M-6.78S". The seconds keep exactly the
// digits PostgreSQL sent, without trailing zeros.
func appendInterval(dst, src []byte) (int64, []byte, error) {
	switch string(src) {
	case "infinity":
		return math.MaxInt64, append(dst, src...), nil
	case "-infinity":
		return math.MinInt64, append(dst, src...), nil
	}
	const what = "interval (IntervalStyle postgres expected)"
	var years, mons, days int64
	var hours, mins int64
	var secUS int64            // seconds incl. fraction, in microseconds, unsigned
	var secInt, secFrac []byte // the seconds' digits, for the ISO form
	timeNeg, seen := false, 0
	s := src
	for len(s) > 0 {
		if seen&8 != 0 {
			return 0, dst, syntaxErr(what, src) // nothing follows the time
		}
		// A field is "<int> <unit>" or the time "[+-]H…H:MM:SS[.ffffff]".
		end := 0
		for end < len(s) && s[end] != ' ' {
			end++
		}
		tok := s[:end]
		if colon := indexByte(tok, ':'); colon >= 0 {
			i := 0
			if tok[0] == '-' || tok[0] == '+' {
				timeNeg = tok[0] == '-'
				i = 1
			}
			h, ok := parseInt(tok[i:colon], 0, math.MaxInt64/usPerHour)
			if !ok || colon-i < 2 || len(tok) < colon+6 || tok[colon+3] != ':' {
				return 0, dst, syntaxErr(what, src)
			}
			m, ok1 := parseDigits(tok, colon+1, 2)
			sec, ok2 := parseDigits(tok, colon+4, 2)
			if !ok1 || !ok2 || m > 59 || sec > 59 {
				return 0, dst, syntaxErr(what, src)
			}
			hours, mins = h, int64(m)
			secUS = int64(sec) * usPerSec
			secInt = tok[colon+4 : colon+6]
			if rest := tok[colon+6:]; len(rest) > 0 {
				if rest[0] != '.' || len(rest) < 2 || len(rest) > 7 {
					return 0, dst, syntaxErr(what, src)
				}
				scale := int64(100_000)
				for _, c := range rest[1:] {
					if c < '0' || c > '9' {
						return 0, dst, syntaxErr(what, src)
					}
					secUS += int64(c-'0') * scale
					scale /= 10
				}
				secFrac = rest[1:]
			}
			seen |= 8
			s = s[end:]
		} else {
			n, ok := parseInt(tok, math.MinInt32, math.MaxInt32)
			if !ok || end >= len(s) {
				return 0, dst, syntaxErr(what, src)
			}
			s = s[end+1:]
			uend := 0
			for uend < len(s) && s[uend] != ' ' {
				uend++
			}
			var bit int
			switch string(s[:uend]) {
			case "year", "years":
				years, bit = n, 1
			case "mon", "mons":
				mons, bit = n, 2
			case "day", "days":
				days, bit = n, 4
			default:
				return 0, dst, syntaxErr(what, src)
			}
			if seen >= bit {
				return 0, dst, syntaxErr(what, src) // out of order or repeated
			}
			seen |= bit
			s = s[uend:]
		}
		if len(s) > 0 {
			if s[0] != ' ' || len(s) == 1 {
				return 0, dst, syntaxErr(what, src)
			}
			s = s[1:]
		}
	}
	if seen == 0 {
		return 0, dst, syntaxErr(what, src)
	}

	var us int64
	if timeNeg {
		us = intervalMicros(years*12+mons, days, -hours, -mins, -secUS)
	} else {
		us = intervalMicros(years*12+mons, days, hours, mins, secUS)
	}

	sign := func(dst []byte, v int64) []byte {
		if timeNeg && v != 0 {
			dst = append(dst, '-')
		}
		return strconv.AppendInt(dst, v, 10)
	}
	dst = append(dst, 'P')
	dst = strconv.AppendInt(dst, years, 10)
	dst = append(dst, 'Y')
	dst = strconv.AppendInt(dst, mons, 10)
	dst = append(dst, 'M')
	dst = strconv.AppendInt(dst, days, 10)
	dst = append(dst, 'D', 'T')
	dst = sign(dst, hours)
	dst = append(dst, 'H')
	dst = sign(dst, mins)
	dst = append(dst, 'M')
	if timeNeg && secUS != 0 {
		dst = append(dst, '-')
	}
	if len(secInt) == 2 && secInt[0] == '0' {
		secInt = secInt[1:]
	}
	if len(secInt) == 0 {
		secInt = []byte{'0'}
	}
	dst = append(dst, secInt...)
	for len(secFrac) > 0 && secFrac[len(secFrac)-1] == '0' {
		secFrac = secFrac[:len(secFrac)-1]
	}
	if len(secFrac) > 0 {
		dst = append(dst, '.')
		dst = append(dst, secFrac...)
	}
	return us, append(dst, 'S'), nil
}

// intervalMicros is Debezium's MicroDuration of an interval of months,
// days, hours, minutes and secUS microseconds of seconds (the time fields
// each carrying the time's sign, as pgjdbc's PGInterval holds them).
// Debezium (PostgresValueConverter, MicroDuration.durationMicros) computes
// it in doubles, not exactly: the seconds are PGInterval.getSeconds(),
// whole seconds + microseconds/1e6; days = months*30.4375 + days; seconds
// = ((days*24 + hours)*60 + minutes)*60 + seconds; the result is
// (long)(seconds*1e6), which truncates toward zero and saturates to the
// int64 range. So a fraction can come out a microsecond short of the exact
// value: 00:00:00.000249 is 248, 00:00:01.000001 is 1000000. The same
// operations in the same order here give the same doubles; each product
// is converted explicitly so that the compiler cannot fuse it with the
// following addition (a fused multiply-add rounds once, Java twice).
func intervalMicros(months, days, hours, mins, secUS int64) int64 {
	const daysPerMonth = 365.25 / 12 // Debezium's DAYS_PER_MONTH_AVG, exactly 30.4375
	sec := float64(secUS/usPerSec) + float64(secUS%usPerSec)/1e6
	d := float64(float64(months)*daysPerMonth) + float64(days)
	s := float64(d*24) + float64(hours)
	s = float64(s*60) + float64(mins)
	s = float64(s*60) + sec
	us := s * 1e6
	switch {
	case us >= math.MaxInt64: // 2^63 as a float64
		return math.MaxInt64
	case us <= math.MinInt64:
		return math.MinInt64
	}
	return int64(us)
}

func indexByte(s []byte, c byte) int {
	for i, b := range s {
		if b == c {
			return i
		}
	}
	return -1
}
