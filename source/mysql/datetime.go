package mysql

import (
	"fmt"
	"strings"
)

// digits parses a fixed-width run of decimal digits.
func digits(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysFromCivil counts days from 1970-01-01 to y-m-d (proleptic
// Gregorian), Howard Hinnant's algorithm.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// parseDate parses YYYY-MM-DD into days since the epoch; a date with a
// zero month or day part (0000-00-00, 2024-00-10) is errZero.
func parseDate(b []byte) (int64, error) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", b)
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", b)
	}
	if m == 0 || d == 0 {
		return 0, errZero
	}
	if m > 12 || d > 31 {
		return 0, fmt.Errorf("date %q out of range", b)
	}
	return daysFromCivil(y, m, d), nil
}

// parseFraction parses ".ffffff" (1 to 6 digits) into microseconds.
func parseFraction(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if b[0] != '.' || len(b) > 7 || len(b) < 2 {
		return 0, fmt.Errorf("fraction %q", b)
	}
	f, ok := digits(b[1:])
	if !ok {
		return 0, fmt.Errorf("fraction %q", b)
	}
	for i := len(b) - 1; i < 6; i++ {
		f *= 10
	}
	return int64(f), nil
}

// parseDatetime parses YYYY-MM-DD HH:MM:SS[.ffffff] as a wall clock read
// in UTC, in microseconds since the epoch.
func parseDatetime(b []byte) (int64, error) {
	if len(b) < 19 || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return 0, fmt.Errorf("datetime %q is not YYYY-MM-DD HH:MM:SS", b)
	}
	// The time and fraction are checked before the date, so a zero date
	// (errZero) is one whose whole text is well formed.
	h, ok1 := digits(b[11:13])
	mi, ok2 := digits(b[14:16])
	s, ok3 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("datetime %q is not YYYY-MM-DD HH:MM:SS", b)
	}
	frac, err := parseFraction(b[19:])
	if err != nil {
		return 0, fmt.Errorf("datetime %q: %w", b, err)
	}
	days, err := parseDate(b[:10])
	if err != nil {
		return 0, err
	}
	return (days*86400+int64(h*3600+mi*60+s))*1_000_000 + frac, nil
}

// parseTime parses [-]HHH:MM:SS[.ffffff] (MySQL TIME spans ±838:59:59)
// into signed microseconds.
func parseTime(b []byte) (int64, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	c1 := strings.IndexByte(string(b), ':')
	if c1 < 1 || len(b) < c1+6 || b[c1+3] != ':' {
		return 0, fmt.Errorf("time %q is not HH:MM:SS", b)
	}
	h, ok1 := digits(b[:c1])
	m, ok2 := digits(b[c1+1 : c1+3])
	s, ok3 := digits(b[c1+4 : c1+6])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("time %q is not HH:MM:SS", b)
	}
	frac, err := parseFraction(b[c1+6:])
	if err != nil {
		return 0, fmt.Errorf("time %q: %w", b, err)
	}
	us := int64(h*3600+m*60+s)*1_000_000 + frac
	if neg {
		us = -us
	}
	return us, nil
}

// oldTime converts a TIME of the format before MySQL 5.6.4 (MariaDB's
// with mysql56_temporal_format=OFF), the 3 bytes of a row image read
// unsigned, to signed microseconds. The server stores ±HHMMSS as a
// signed 24-bit integer (int3store) and reads it back sign-extended
// (sint3korr): -01:00:00 is -10000, bytes f0 d8 ff, not 16,767,216.
func oldTime(u uint64) int64 {
	x := int64(u<<40) >> 40 // sign-extend bit 23
	neg := x < 0
	if neg {
		x = -x
	}
	us := (x/10000*3600 + x/100%100*60 + x%100) * 1_000_000
	if neg {
		us = -us
	}
	return us
}

// goMySQLOldTime converts go-mysql's text of an old-format TIME to signed
// microseconds. go-mysql reads the 3 bytes unsigned and prints them as
// "%02d:%02d:%02d" of x/10000, x%10000/100 and x%100, so a negative time
// arrives as, e.g., "1676:72:16"; the fields give x back, which oldTime
// then reads as the server does.
func goMySQLOldTime(s string) (int64, error) {
	f := strings.Split(s, ":")
	if len(f) != 3 || len(f[1]) != 2 || len(f[2]) != 2 || len(f[0]) < 2 || len(f[0]) > 4 {
		return 0, fmt.Errorf("old-format time %q is not HH:MM:SS", s)
	}
	h, ok1 := digits([]byte(f[0]))
	m, ok2 := digits([]byte(f[1]))
	sec, ok3 := digits([]byte(f[2]))
	x := uint64(h)*10000 + uint64(m)*100 + uint64(sec)
	if !ok1 || !ok2 || !ok3 || x >= 1<<24 {
		return 0, fmt.Errorf("old-format time %q is not a 24-bit HHMMSS", s)
	}
	return oldTime(x), nil
}
