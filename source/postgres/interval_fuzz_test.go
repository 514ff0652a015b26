package postgres

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

// FuzzDecodeInterval: the microseconds and the ISO-8601 text against
// pgx's months, days and microseconds.
func FuzzDecodeInterval(f *testing.F) {
	fzValueTarget(f, []string{"interval", "interval(3)"},
		[]string{"00:00:00", "1 year 2 mons 3 days 04:05:06.78", "-1 days +02:00:00", "-00:00:00.5", "1 day", "2 years",
			"178956970 years 7 mons", "-178956970 years -8 mons", "2147483647 days 2562047787:59:59.999999", "1:02:03",
			"1 year 1 year", "3 days 2 mons", "infinity", "-infinity", "1 day ", " 1 day", "+1 years", "100:00:00.1234567"})
}

// fzISORE is the ISO-8601 text of a decoded interval (its Bytes).
var fzISORE = regexp.MustCompile(`^P(-?[0-9]+)Y(-?[0-9]+)M(-?[0-9]+)DT(-?[0-9]+)H(-?[0-9]+)M(-?)([0-9]+)(?:\.([0-9]{1,6}))?S$`)

// checkInterval compares with pgx's months, days and microseconds, both
// the Debezium MicroDuration in Int and the ISO-8601 text in Bytes.
func (o *fzOracle) checkInterval(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	s := string(in)
	if s == "infinity" || s == "-infinity" {
		// PostgreSQL 17; pgx has no infinite interval.
		want := int64(math.MaxInt64)
		if s[0] == '-' {
			want = math.MinInt64
		}
		if err != nil || v.Int != want || string(v.Bytes) != s {
			t.Fatalf("interval %q: decoded %d %q (%v)", in, v.Int, v.Bytes, err)
		}
		return
	}
	var iv pgtype.Interval
	perr := o.scan(pgtype.IntervalOID, in, &iv)
	canon, inRange := fzPGInterval(s)
	switch {
	case err == nil && perr != nil && canon:
		t.Fatalf("interval %q: decoded %d %q, pgx refuses it: %v", in, v.Int, v.Bytes, perr)
	case err == nil && perr != nil:
		// Not PostgreSQL's output (e.g. "++0:00:00": appendInterval
		// takes a sign, then parseInt another): nothing to compare.
		return
	case err != nil && canon:
		t.Fatalf("interval %q: refused (%v), but it is PostgreSQL's output form (pgx: %+v, %v)", in, err, iv, perr)
	case err != nil:
		return
	}
	if !inRange {
		// Months beyond int32 or a time beyond int64 microseconds:
		// PostgreSQL cannot hold them, and pgx wraps them around.
		return
	}
	m := fzISORE.FindSubmatch(v.Bytes)
	if m == nil {
		t.Fatalf("interval %q: ISO-8601 form %q does not parse", in, v.Bytes)
	}
	n := func(i int) int64 { x, _ := strconv.ParseInt(string(m[i]), 10, 64); return x }
	frac := string(m[8]) + strings.Repeat("0", 6-len(m[8]))
	secUS := n(7)*1_000_000 + must64(strconv.ParseInt(frac, 10, 64))
	if len(m[6]) > 0 {
		secUS = -secUS
	}
	timeUS := new(big.Int).Mul(big.NewInt(n(4)), big.NewInt(3600_000_000))
	timeUS.Add(timeUS, big.NewInt(n(5)*60_000_000+secUS))
	if n(1)*12+n(2) != int64(iv.Months) || n(3) != int64(iv.Days) || !timeUS.IsInt64() || timeUS.Int64() != iv.Microseconds {
		t.Fatalf("interval %q: ISO form %q, pgx reads %d months %d days %d µs", in, v.Bytes, iv.Months, iv.Days, iv.Microseconds)
	}
	// MicroDuration as Debezium computes it from pgjdbc's PGInterval: in
	// doubles, from the time split into hours, minutes and seconds that
	// carry its sign, truncated and saturated to int64.
	tus := iv.Microseconds
	sec := float64(tus%60_000_000/1_000_000) + float64(tus%1_000_000)/1e6
	days := float64(float64(iv.Months)*30.4375) + float64(iv.Days)
	secs := float64(float64(float64(float64(days*24)+float64(tus/3600_000_000))*60)+float64(tus%3600_000_000/60_000_000))*60 + sec
	want := int64(math.MaxInt64)
	switch f := secs * 1e6; {
	case f <= math.MinInt64:
		want = math.MinInt64
	case f < math.MaxInt64:
		want = int64(f)
	}
	if v.Int != want {
		t.Fatalf("interval %q: decoded %d µs, want %d (pgx %+v)", in, v.Int, want, iv)
	}
}

func must64(x int64, _ error) int64 { return x }

// fzPGInterval reports whether s is IntervalStyle postgres output: "N
// year(s)", "N mon(s)", "N day(s)" in that order, each optional, then an
// optional "[+-]HH:MM:SS[.ffffff]" (hours of at least 2 digits); at least
// one part. inRange reports whether its months fit int32 and its time
// int64 microseconds, as PostgreSQL's interval holds them; canonical
// output is always in range.
func fzPGInterval(s string) (canon, inRange bool) {
	if s == "" {
		return false, true
	}
	var months int64
	timeUS := new(big.Int)
	toks := strings.Split(s, " ")
	order := 0
	defer func() {
		lim := new(big.Int).Lsh(big.NewInt(1), 63)
		inRange = months >= math.MinInt32 && months <= math.MaxInt32 && timeUS.CmpAbs(lim) < 0
		canon = canon && inRange
	}()
	for len(toks) >= 2 {
		n, err := strconv.ParseInt(toks[0], 10, 32)
		if err != nil {
			break
		}
		var rank int
		switch toks[1] {
		case "year", "years":
			rank, months = 1, months+12*n
		case "mon", "mons":
			rank, months = 2, months+n
		case "day", "days":
			rank = 3
		default:
			return false, true
		}
		if rank <= order {
			return false, true
		}
		order = rank
		toks = toks[2:]
	}
	switch len(toks) {
	case 0:
		return true, true
	case 1:
		m := fzIntervalTimeRE.FindStringSubmatch(toks[0])
		if m == nil {
			return false, true
		}
		h, _ := new(big.Int).SetString(m[2], 10)
		mi, _ := strconv.ParseInt(m[3], 10, 64)
		sec, _ := strconv.ParseInt(m[4], 10, 64)
		frac, _ := strconv.ParseInt((m[5] + "000000")[:6], 10, 64)
		timeUS.Mul(h, big.NewInt(3600_000_000))
		timeUS.Add(timeUS, big.NewInt(mi*60_000_000+sec*1_000_000+frac))
		return true, true
	}
	return false, true
}

var fzIntervalTimeRE = regexp.MustCompile(`^([+-]?)([0-9]{2,}):([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{1,6}))?$`)
