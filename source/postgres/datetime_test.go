package postgres

import (
	"time"

	"github.com/sluice-cdc/sluice"
)

// Expected values computed with package time (independently of the decoder).
func daysOf(y, m, d int) int64 {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}
func microsOf(y, m, d, hh, mm, ss, us int) int64 {
	return time.Date(y, time.Month(m), d, hh, mm, ss, us*1000, time.UTC).UnixMicro()
}
func clockOf(hh, mm, ss, us int) int64 {
	return ((int64(hh)*60+int64(mm))*60+int64(ss))*1e6 + int64(us)
}

// dateTimeCases are the date, time, timetz, timestamp and timestamptz
// decodeCases.
var dateTimeCases = []decodeCase{
	{"date", "1970-01-01", intV(0)},
	{"date", "1969-12-31", intV(-1)},
	{"date", "2024-01-31", intV(daysOf(2024, 1, 31))},
	{"date", "2000-02-29", intV(daysOf(2000, 2, 29))},
	{"date", "0044-03-15 BC", intV(daysOf(-43, 3, 15))},
	{"date", "0001-01-01 BC", intV(daysOf(0, 1, 1))},
	{"date", "0001-01-01", intV(daysOf(1, 1, 1))},
	{"date", "4713-01-01 BC", intV(daysOf(-4712, 1, 1))},
	{"date", "5874897-12-31", intV(daysOf(5874897, 12, 31))},
	{"date", "infinity", intV(sluice.InfinityPos)},
	{"date", "-infinity", intV(sluice.InfinityNeg)},

	{"time", "00:00:00", intV(0)},
	{"time", "12:34:56.789", intV(clockOf(12, 34, 56, 789000))},
	{"time", "23:59:59.999999", intV(clockOf(23, 59, 59, 999999))},
	{"time", "24:00:00", intV(86400000000)},
	{"time(3)", "10:00:00.12", intV(clockOf(10, 0, 0, 120000))},

	{"timetz", "12:34:56.789+02", bytesV("10:34:56.789Z")},
	{"timetz", "12:00:00+05:30", bytesV("06:30:00Z")},
	{"timetz", "01:00:00-08", bytesV("09:00:00Z")},
	{"timetz", "23:30:00-01", bytesV("00:30:00Z")},
	{"timetz", "00:30:00+01", bytesV("23:30:00Z")},
	{"timetz", "24:00:00-15:59:59", bytesV("15:59:59Z")},
	{"timetz", "10:00:00.000001+00", bytesV("10:00:00.000001Z")},
	{"timetz", "12:00:00+05:21:10", bytesV("06:38:50Z")},

	{"timestamp", "2018-06-20 15:13:16.945104", intV(1529507596945104)}, // Debezium's documented example
	{"timestamp", "1970-01-01 00:00:00", intV(0)},
	{"timestamp", "1969-12-31 23:59:59.999999", intV(-1)},
	{"timestamp", "0044-03-15 12:00:00 BC", intV(microsOf(-43, 3, 15, 12, 0, 0, 0))},
	{"timestamp", "4713-01-01 00:00:00 BC", intV(microsOf(-4712, 1, 1, 0, 0, 0, 0))},
	{"timestamp", "4714-11-24 00:00:00 BC", intV(microsOf(-4713, 11, 24, 0, 0, 0, 0))}, // PostgreSQL's first timestamp
	{"timestamp", "10000-01-01 00:00:00", intV(microsOf(10000, 1, 1, 0, 0, 0, 0))},
	{"timestamp", "294246-12-31 23:59:59.999999", intV(microsOf(294246, 12, 31, 23, 59, 59, 999999))},
	{"timestamp", "infinity", intV(sluice.InfinityPos)},
	{"timestamp", "-infinity", intV(sluice.InfinityNeg)},
	{"timestamp(0)", "2024-01-31 08:00:01", intV(microsOf(2024, 1, 31, 8, 0, 1, 0))},

	{"timestamptz", "2018-06-20 15:13:16.945104+00", intV(1529507596945104)},
	{"timestamptz", "2018-06-20 17:13:16.945104+02", intV(1529507596945104)},
	{"timestamptz", "2020-01-01 05:30:00+05:30", intV(microsOf(2020, 1, 1, 0, 0, 0, 0))},
	{"timestamptz", "1899-12-31 20:29:08-03:30:52", intV(microsOf(1900, 1, 1, 0, 0, 0, 0))},
	{"timestamptz", "1900-01-01 05:21:10+05:21:10", intV(microsOf(1900, 1, 1, 0, 0, 0, 0))},
	{"timestamptz", "0044-03-15 12:00:00.5+00 BC", intV(microsOf(-43, 3, 15, 12, 0, 0, 500000))},
	{"timestamptz", "infinity", intV(sluice.InfinityPos)},
	{"timestamptz", "-infinity", intV(sluice.InfinityNeg)},
}

var dateTimeErrorCases = []errorCase{
	{"date", "01/31/2024", "DateStyle ISO expected"},
	{"date", "2023-02-29", "date"},
	{"date", "2024-13-01", "date"},
	{"date", "0000-01-01 BC", "date"},
	{"date", "0000-01-01", "date"},
	{"date", "2024-01-31 AD", "date"},
	{"time", "25:00:00", "time"},
	{"time", "24:00:00.000001", "time"},
	{"time", "12:60:00", "time"},
	{"time", "12:00:00.1234567", "time"},
	{"time", "12:00:00.", "time"},
	{"time", "12:00", "time"},
	{"timetz", "12:00:00", "timetz"},
	{"timetz", "12:00:00+5", "timetz"},
	{"timetz", "12:00:00+05:3", "timetz"},
	{"timetz", "12:00:00+05:30:00:00", "timetz"},
	{"timestamp", "2024-01-31T08:00:00", "timestamp"},
	{"timestamp", "2024-01-31 08:00:00+00", "timestamp"},
	{"timestamp", "Wed Jan 31 08:00:00 2024", "DateStyle ISO expected"},
	{"timestamp", "294276-12-31 23:59:59.999999", "out of range"},
	{"timestamptz", "2024-01-31 08:00:00", "timestamptz"},
	{"timestamptz", "2024-01-31 08:00:00 UTC", "timestamptz"},
}
