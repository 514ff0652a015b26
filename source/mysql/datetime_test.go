package mysql

import "testing"

func TestParseTemporal(t *testing.T) {
	cases := []struct {
		in   string
		f    func([]byte) (int64, error)
		want int64
		err  bool
	}{
		{"1970-01-01", parseDate, 0, false},
		{"2024-02-29", parseDate, 19782, false},
		{"0001-01-01", parseDate, -719162, false},
		{"1969-12-31", parseDate, -1, false},
		{"2024-13-01", parseDate, 0, true},
		{"2024-1-1", parseDate, 0, true},
		{"1970-01-01 00:00:00", parseDatetime, 0, false},
		{"2024-01-02 03:04:05", parseDatetime, 1704164645000000, false},
		{"2024-01-02 03:04:05.5", parseDatetime, 1704164645500000, false},
		{"2024-01-02 03:04:05.123456", parseDatetime, 1704164645123456, false},
		{"1969-12-31 23:59:59.999", parseDatetime, -1000, false},
		{"2024-01-02T03:04:05", parseDatetime, 0, true},
		{"2024-01-02 03:04:05.1234567", parseDatetime, 0, true},
		{"00:00:00", parseTime, 0, false},
		{"838:59:59", parseTime, 3020399000000, false},
		{"-838:59:59", parseTime, -3020399000000, false},
		{"-00:00:01.5", parseTime, -1500000, false},
		{"12:34:56.789012", parseTime, 45296789012, false},
		{"12:34", parseTime, 0, true},
	}
	for _, tc := range cases {
		got, err := tc.f([]byte(tc.in))
		if (err != nil) != tc.err || !tc.err && got != tc.want {
			t.Errorf("%q: got %d, %v; want %d (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
	for _, z := range []string{"0000-00-00", "2024-00-10", "2024-05-00"} {
		if _, err := parseDate([]byte(z)); err != errZero {
			t.Errorf("%q: %v, want a zero date", z, err)
		}
	}
}
