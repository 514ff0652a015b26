package codec

import (
	"testing"

	"github.com/sluice-cdc/sluice"
)

// ZonedTimestamp pads the fraction to the column's precision, as Debezium
// writes timestamptz and MySQL TIMESTAMP (testdata/golden/debezium).
func TestAppendZonedPrecision(t *testing.T) {
	const us = 1704161045120000 // 2024-01-02T02:04:05.12Z
	for prec, want := range map[int]string{
		-1: `"2024-01-02T02:04:05.12Z"`, 0: `"2024-01-02T02:04:05Z"`, 1: `"2024-01-02T02:04:05.1Z"`,
		3: `"2024-01-02T02:04:05.120Z"`, 6: `"2024-01-02T02:04:05.120000Z"`,
	} {
		if got := string(appendZoned(nil, us, prec)); got != want {
			t.Errorf("precision %d: got %s want %s", prec, got, want)
		}
	}
	for _, c := range []struct {
		us   int64
		prec int
		want string
	}{
		{sluice.InfinityPos, 6, `"infinity"`}, {sluice.InfinityNeg, 3, `"-infinity"`},
		{-62167219200 * 1_000_000, 6, `"0000-01-01T00:00:00.000000Z"`}, // 0001-01-01 00:00:00+00 BC
		{1709251199999999, 6, `"2024-02-29T23:59:59.999999Z"`},
	} {
		if got := string(appendZoned(nil, c.us, c.prec)); got != c.want {
			t.Errorf("%d at %d: got %s want %s", c.us, c.prec, got, c.want)
		}
	}
}

// interval.handling.mode=string: the seconds go through a Java double and
// BigDecimal as in Debezium (expected values printed by Java 25).
func TestAppendIntervalString(t *testing.T) {
	for in, want := range map[string]string{
		"P1Y2M3DT4H5M6.78S":       `"P1Y2M3DT4H5M6.78S"`,
		"P0Y0M1DT0H0M1.235S":      `"P0Y0M1DT0H0M1.234999999S"`,
		"P0Y0M0DT0H0M-0.001S":     `"P0Y0M0DT0H0M-0.001S"`,
		"P0Y0M-1DT2H0M0S":         `"P0Y0M-1DT2H0M0S"`,
		"P0Y0M0DT-4H-5M-6.78S":    `"P0Y0M0DT-4H-5M-6.78S"`,
		"P0Y0M0DT0H0M59.999999S":  `"P0Y0M0DT0H0M59.999999S"`,
		"P0Y0M0DT0H0M1.000001S":   `"P0Y0M0DT0H0M1.000001S"`,
		"P0Y0M0DT0H0M-1.0001S":    `"P0Y0M0DT0H0M-1.0001S"`,
		"P0Y0M0DT0H59M59.999999S": `"P0Y0M0DT0H59M59.999999S"`,
		"P0Y0M0DT0H0M0.0001S":     `"P0Y0M0DT0H0M0.0001S"`,
		"P178000000Y0M0DT0H0M0S":  `"P178000000Y0M0DT0H0M0S"`,
		"P-178000000Y0M0DT0H0M0S": `"P-178000000Y0M0DT0H0M0S"`,
	} {
		if got := string(appendIntervalString(nil, []byte(in))); got != want {
			t.Errorf("%s: got %s want %s", in, got, want)
		}
	}
}
