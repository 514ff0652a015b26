package postgres

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

// FuzzDecodeDateTime: date, time, timetz, timestamp and timestamptz.
func FuzzDecodeDateTime(f *testing.F) {
	fzValueTarget(f, []string{"date", "time", "time(3)", "timetz", "timestamp", "timestamp(0)", "timestamptz"},
		[]string{"2024-02-29", "2023-02-29", "0001-01-01 BC", "4714-11-24 BC", "4714-11-23 BC", "5874897-12-31", "10000-01-01",
			"1-01-01", "infinity", "-infinity", "24:00:00", "24:00:00.5", "23:59:59.999999", "1:02:03", "12:00:00.1234567",
			"12:34:56+05:30", "00:00:00-15:59:59", "12:00:00Z", "2018-06-20 15:13:16.945104", "2018-06-20 17:13:16+02",
			"0044-03-15 12:00:00+00 BC", "294276-12-31 23:59:59+00", "294247-01-10 04:00:54.775807+00", "2024-01-01 00:00:00+100",
			"2024-01-01 00:00:00.0000005+00", "1970-01-01 00:00:00 BC"})
}

// PostgreSQL's output forms of times and timestamps, as the session
// settings of types.go make them (DateStyle ISO, TimeZone UTC). An
// input that matches one of these could really be received.
var (
	fzTimeRE    = regexp.MustCompile(`^([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?$`)
	fzTimeTZRE  = regexp.MustCompile(`^([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?([+-])([0-9]{2})(?::([0-9]{2})(?::([0-9]{2}))?)?$`)
	fzStampPGRE = regexp.MustCompile(`^[0-9]{4,7}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?( BC)?$`)
	fzStampTZRE = regexp.MustCompile(`^[0-9]{4,7}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?[+-][0-9]{2}(:[0-9]{2}){0,2}( BC)?$`)
)

// PostgreSQL's (and pgx's) range of dates and timestamps: from 4714-11-24
// BC; dates end before 5874898-01-01, timestamps before 294277-01-01.
var (
	fzMinMicros = time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC).UnixMicro()
	fzMinDays   = fzMinMicros / (86400 * 1_000_000)
	fzEndDays   = fzDays(time.Date(5874898, 1, 1, 0, 0, 0, 0, time.UTC))
	// The last instant int64 microseconds since 1970 hold.
	fzMaxStamp = time.UnixMicro(math.MaxInt64).UTC()
)

// fzDays is the day number since 1970-01-01 of t, a UTC midnight (Unix
// seconds do not overflow for PostgreSQL's far dates; nanoseconds would).
func fzDays(t time.Time) int64 {
	d := t.Unix() / 86400
	if t.Unix()%86400 < 0 {
		d--
	}
	return d
}

// fzYearDigits counts the digits a date or timestamp starts with.
func fzYearDigits(in []byte) int {
	n := 0
	for n < len(in) && in[n] >= '0' && in[n] <= '9' {
		n++
	}
	return n
}

func (o *fzOracle) checkDate(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	var d pgtype.Date
	perr := o.scan(pgtype.DateOID, in, &d)
	switch {
	case err == nil && perr == nil:
		want := fzDays(d.Time)
		switch d.InfinityModifier {
		case pgtype.Infinity:
			want = sluice.InfinityPos
		case pgtype.NegativeInfinity:
			want = sluice.InfinityNeg
		}
		if v.Int != want {
			t.Fatalf("date %q: decoded day %d, pgx %v (day %d)", in, v.Int, d.Time, want)
		}
	case err == nil:
		// Documented: sluice reads years of 1 to 8 digits (PostgreSQL
		// pads to 4 and ends in 5874897) and no range check.
		if n := fzYearDigits(in); n >= 4 && n <= 7 && v.Int >= fzMinDays && v.Int < fzEndDays {
			t.Fatalf("date %q: decoded day %d, pgx refuses it: %v", in, v.Int, perr)
		}
	case perr == nil:
		t.Fatalf("date %q: refused (%v), pgx reads %v", in, err, d.Time)
	}
}

func (o *fzOracle) checkTime(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	m := fzTimeRE.FindSubmatch(in)
	ok := m != nil
	if ok {
		h, _ := strconv.Atoi(string(m[1]))
		mi, _ := strconv.Atoi(string(m[2]))
		s, _ := strconv.Atoi(string(m[3]))
		frac := strings.TrimLeft(strings.TrimPrefix(string(m[4]), "."), "0")
		ok = mi <= 59 && s <= 59 && (h < 24 || h == 24 && mi == 0 && s == 0 && frac == "")
	}
	fzAccepts(t, col, in, err, ok, "HH:MM:SS[.ffffff] up to 24:00:00")
	if err != nil {
		return
	}
	var tm pgtype.Time
	if perr := o.scan(pgtype.TimeOID, in, &tm); perr != nil || tm.Microseconds != v.Int {
		t.Fatalf("time %q: decoded %d µs, pgx %d (%v)", in, v.Int, tm.Microseconds, perr)
	}
}

// checkTimeTZ: pgx has no timetz codec; the decoded "HH:MM:SS[.f]Z" must
// be the input's clock moved to UTC, with the fraction's digits kept.
func (o *fzOracle) checkTimeTZ(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	m := fzTimeTZRE.FindSubmatch(in)
	var h, mi, s, oh, om, os int
	ok := m != nil
	if ok {
		h, _ = strconv.Atoi(string(m[1]))
		mi, _ = strconv.Atoi(string(m[2]))
		s, _ = strconv.Atoi(string(m[3]))
		oh, _ = strconv.Atoi(string(m[6]))
		om, _ = strconv.Atoi(string(m[7]))
		os, _ = strconv.Atoi(string(m[8]))
		frac := strings.TrimLeft(strings.TrimPrefix(string(m[4]), "."), "0")
		ok = mi <= 59 && s <= 59 && om <= 59 && os <= 59 && (h < 24 || h == 24 && mi == 0 && s == 0 && frac == "")
	}
	fzAccepts(t, col, in, err, ok, "HH:MM:SS[.ffffff]±hh[:mm[:ss]]")
	if err != nil {
		return
	}
	off := oh*3600 + om*60 + os
	if string(m[5]) == "-" {
		off = -off
	}
	secs := ((h*3600+mi*60+s-off)%86400 + 86400) % 86400
	want := fmt.Sprintf("%02d:%02d:%02d%sZ", secs/3600, secs/60%60, secs%60, m[4])
	if string(v.Bytes) != want {
		t.Fatalf("timetz %q: decoded %q, want %q", in, v.Bytes, want)
	}
}

func (o *fzOracle) checkTimestamp(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	tz := col.Type == sluice.TypeTimestampTZ
	var pt time.Time
	var inf pgtype.InfinityModifier
	var perr error
	pgForm := fzStampPGRE
	if tz {
		var x pgtype.Timestamptz
		perr = o.scan(pgtype.TimestamptzOID, in, &x)
		pt, inf = x.Time, x.InfinityModifier
		pgForm = fzStampTZRE
	} else {
		var x pgtype.Timestamp
		perr = o.scan(pgtype.TimestampOID, in, &x)
		pt, inf = x.Time, x.InfinityModifier
	}
	switch {
	case err == nil && perr == nil:
		want := pt.UnixMicro()
		switch inf {
		case pgtype.Infinity:
			want = sluice.InfinityPos
		case pgtype.NegativeInfinity:
			want = sluice.InfinityNeg
		}
		if v.Int != want {
			t.Fatalf("%s %q: decoded %d µs, pgx %v (%d µs)", col.DBType, in, v.Int, pt, want)
		}
	case err == nil:
		// Documented: years of 1 to 3 digits (PostgreSQL pads to 4), and
		// instants before PostgreSQL's first day, are read as well.
		if n := fzYearDigits(in); n >= 4 && n <= 7 && v.Int >= fzMinMicros {
			t.Fatalf("%s %q: decoded %d µs, pgx refuses it: %v", col.DBType, in, v.Int, perr)
		}
	case perr == nil:
		switch {
		case !pgForm.Match(in):
			// Not PostgreSQL's output (a Z offset, more than 6 fraction
			// digits, an offset of 3 hour digits): refusing it is fine.
		case errors.Is(err, errRange) && pt.After(fzMaxStamp):
			// Documented: beyond int64 microseconds since 1970.
		default:
			t.Fatalf("%s %q: refused (%v), pgx reads %v", col.DBType, in, err, pt)
		}
	}
}
