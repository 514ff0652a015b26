package codec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice"
)

// The fast paths added for the benchmark's hot path must give exactly the
// bytes of the general code they bypass.

func TestAppendZonedMatchesTime(t *testing.T) {
	slow := func(us int64) string {
		return `"` + time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.999999Z") + `"`
	}
	cases := []int64{0, 1, -1, 999_999, -999_999, 1_000_000, 86_400_000_000 - 1, -86_400_000_000,
		951_782_400_000_000,                                  // 2000-02-29
		-62135596800 * 1_000_000, -62135596800*1_000_000 - 1, // 0001-01-01 and just before
		253402300800*1_000_000 - 1, 253402300800 * 1_000_000, // 9999-12-31T23:59:59.999999 and just after
		1704190657014245, 1704190657000000, 1704190657120000, math.MaxInt64 / 2, math.MinInt64 / 2}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		cases = append(cases, r.Int64N(2*253402300800*1_000_000)-253402300800*1_000_000, r.Int64N(4e15))
	}
	for _, us := range cases {
		if got, want := string(appendZoned(nil, us, -1)), slow(us); got != want {
			t.Fatalf("%d: got %s want %s", us, got, want)
		}
	}
	// AppendTimestamp at every precision and with and without the zone,
	// and AppendDate, against package time on the same instants.
	layouts := map[int]string{-1: "2006-01-02T15:04:05.999999", 0: "2006-01-02T15:04:05",
		3: "2006-01-02T15:04:05.000", 6: "2006-01-02T15:04:05.000000"}
	for _, us := range cases {
		tm := time.UnixMicro(us).UTC()
		for prec, layout := range layouts {
			for _, zulu := range []bool{false, true} {
				want := tm.Format(layout)
				if zulu {
					want += "Z"
				}
				if got := string(AppendTimestamp([]byte("x"), us, prec, zulu)); got != "x"+want {
					t.Fatalf("%d at %d, zone %v: got %s want x%s", us, prec, zulu, got, want)
				}
			}
		}
		days := us / 86_400_000_000
		if got, want := string(AppendDate(nil, days)), time.Unix(days*86400, 0).UTC().Format("2006-01-02"); got != want {
			t.Fatalf("day %d: got %s want %s", days, got, want)
		}
	}
}

func TestUnscaledSmallMatchesBig(t *testing.T) {
	texts := []string{"0", "-0", "0.00", "1", "-1", "127", "128", "-128", "-129", "255", "256", "7.90", "1.5",
		"12345678.90", "-0.05", "999999999999999999", "-999999999999999999", "1000000000000000000",
		"0.000000000000000001", "123456789012345678.9", "3.14159265358979323846264338327950288", "+12.5", "",
		"9223372036854775807", "-9223372036854775808", "00012.3400"}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20_000 {
		s := strconv.FormatInt(r.Int64N(1e17)-5e16, 10)
		if k := r.IntN(len(s)); k > 0 && s[k-1] != '-' {
			s = s[:k] + "." + s[k:]
		}
		texts = append(texts, s)
	}
	for _, text := range texts {
		for _, scale := range []int{-1, 0, 1, 2, 4, 10, 19} {
			unscaled, wantScale := unscaledDecimal([]byte(text), scale)
			want := twosComplement(unscaled)
			var buf [8]byte
			got, gotScale, ok := unscaledSmall(&buf, []byte(text), scale)
			if !ok {
				if len(unscaled.String()) <= 18 && unscaled.Sign() != 0 {
					t.Errorf("%q scale %d: fell back for %s", text, scale, unscaled)
				}
				continue
			}
			if !bytes.Equal(got, want) || gotScale != wantScale {
				t.Errorf("%q scale %d: got %x/%d want %x/%d", text, scale, got, gotScale, want, wantScale)
			}
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	inputs := []string{"", "a", "plain ascii text longer than eight bytes", `quote " in the middle of a long string`,
		`back\slash`, "tab\there and newline\n", "\x00\x01\x1f\x7f", "Grüezi mitenand, ça va?", "\xff\xfe invalid",
		"12345678", "1234567\"", "\"1234567", "é1234567", "1234567é", "€€€€€€€€€€€€"}
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte("abcXYZ 0123\"\\\n\t\x01\x7f\xc3\xa9\xe2\x82\xac\xff")
	for range 20_000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		got := appendString(nil, []byte(in))
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: invalid JSON %s: %v", in, got, err)
		}
		want := slowAppendString(nil, []byte(in))
		if !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s want %s", in, got, want)
		}
	}
}

// slowAppendString is appendString without the eight-byte skip.
func slowAppendString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c < 0x20:
				dst = fmt.Appendf(dst, "\\u%04X", c)
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			dst = fmt.Appendf(dst, "\\u%04X\\u%04X", hi, lo)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

func TestAppendTimes(t *testing.T) {
	for _, ns := range []int64{0, 1, 999_999_999, 1_000_000_000, 1_559_033_904_863_841_257, -5_000_000_000, math.MaxInt64} {
		var tm time.Time
		if ns != 0 {
			tm = time.Unix(0, ns)
		}
		want := `"ts_ms":` + strconv.FormatInt(ns/1e6, 10) + `,"ts_us":` + strconv.FormatInt(ns/1e3, 10) + `,"ts_ns":` + strconv.FormatInt(ns, 10)
		if got := string(appendTimes(nil, tm)); got != want {
			t.Errorf("%d: got %s want %s", ns, got, want)
		}
	}
}

// AppendValueAt writes the given instant; a Clock still wins.
func TestAppendValueAt(t *testing.T) {
	at := time.Unix(0, 1_700_000_000_123_456_789)
	ev := benchInsert(smallTable, smallRow())
	enc, _ := New(Options{Name: "x", Connector: "postgresql"})
	if got := enc.AppendValueAt(nil, ev, at); !bytes.Contains(got, []byte(`"op":"c","ts_ms":1700000000123,"ts_us":1700000000123456,"ts_ns":1700000000123456789`)) {
		t.Errorf("processing time not written: %s", got)
	}
	fixed := time.Unix(0, 1_559_033_904_863_841_257)
	enc2, _ := New(Options{Name: "x", Connector: "postgresql", Clock: func() time.Time { return fixed }})
	if !bytes.Equal(enc2.AppendValueAt(nil, ev, at), enc2.AppendValue(nil, ev)) {
		t.Error("Clock not used by AppendValueAt")
	}
	// Two tables alternating exercise the fragment cache's slow path.
	evWide := benchInsert(wideTable, wideRow())
	a1, b1 := enc.AppendValueAt(nil, ev, at), enc.AppendValueAt(nil, evWide, at)
	a2, b2 := enc.AppendValueAt(nil, ev, at), enc.AppendValueAt(nil, evWide, at)
	if !bytes.Equal(a1, a2) || !bytes.Equal(b1, b2) || !json.Valid(a1) || !json.Valid(b1) {
		t.Error("encoding changed between calls")
	}
	_ = sluice.OpCreate
}
