package postgres

import "math"

// intervalCases are the interval decodeCases.
var intervalCases = []decodeCase{
	{"interval", "1 year 2 mons 3 days 04:05:06.78", intBytesV(37091106780000, "P1Y2M3DT4H5M6.78S")},
	{"interval", "-1 days +02:00:00", intBytesV(-79200000000, "P0Y0M-1DT2H0M0S")},
	{"interval", "00:00:00.000001", intBytesV(1, "P0Y0M0DT0H0M0.000001S")},
	{"interval", "-1 years -2 mons +3 days -04:05:06", intBytesV(-36572706000000, "P-1Y-2M3DT-4H-5M-6S")},
	{"interval", "00:00:00", intBytesV(0, "P0Y0M0DT0H0M0S")},
	{"interval", "-00:00:00.5", intBytesV(-500000, "P0Y0M0DT0H0M-0.5S")},
	{"interval", "1 mon", intBytesV(2629800000000, "P0Y1M0DT0H0M0S")},
	{"interval", "-1 mons", intBytesV(-2629800000000, "P0Y-1M0DT0H0M0S")},
	{"interval", "1 year", intBytesV(12*2629800000000, "P1Y0M0DT0H0M0S")},
	{"interval", "1 day", intBytesV(86400000000, "P0Y0M1DT0H0M0S")},
	{"interval", "1 day -00:00:01", intBytesV(86399000000, "P0Y0M1DT0H0M-1S")},
	{"interval", "-11 mons", intBytesV(-11*2629800000000, "P0Y-11M0DT0H0M0S")},
	{"interval", "100:00:00", intBytesV(360000000000, "P0Y0M0DT100H0M0S")},
	{"interval", "00:00:59.999999", intBytesV(59999999, "P0Y0M0DT0H0M59.999999S")},
	{"interval", "178000000 years", intBytesV(math.MaxInt64, "P178000000Y0M0DT0H0M0S")},
	{"interval", "-178000000 years", intBytesV(math.MinInt64, "P-178000000Y0M0DT0H0M0S")},
	{"interval", "2147483647 days 2562047788:00:54.775807", intBytesV(math.MaxInt64, "P0Y0M2147483647DT2562047788H0M54.775807S")},
	{"interval", "infinity", intBytesV(math.MaxInt64, "infinity")}, // PostgreSQL 17+
	{"interval", "-infinity", intBytesV(math.MinInt64, "-infinity")},
}

var intervalErrorCases = []errorCase{
	{"interval", "@ 1 year 2 mons", "IntervalStyle postgres expected"},
	{"interval", "P1Y2M", "IntervalStyle postgres expected"},
	{"interval", "1-2", "IntervalStyle postgres expected"},
	{"interval", "1 year 1 year", "interval"},
	{"interval", "1 day 1 year", "interval"},
	{"interval", "00:00:00 1 day", "interval"},
	{"interval", "1 fortnight", "interval"},
	{"interval", "1", "interval"},
	{"interval", "", "interval"},
	{"interval", "1 day ", "interval"},
	{"interval", "0:00:00", "interval"},
	{"interval", "00:00:00.1234567", "interval"},
	{"interval", "00:60:00", "interval"},
}
