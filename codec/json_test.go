package codec

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Floats are written as Kafka Connect's JsonConverter writes them: Java's
// Double.toString and Float.toString (JDK 19+). testdata/javafloat.txt
// holds what Java 25 prints for random doubles and floats.
func TestJavaFloatFormat(t *testing.T) {
	cases := []struct {
		f    float64
		bits int
		want string
	}{
		{1, 64, "1.0"}, {2, 64, "2.0"}, {0.1, 64, "0.1"}, {100, 64, "100.0"}, {1234567, 64, "1234567.0"},
		{1e7, 64, "1.0E7"}, {12345678.9, 64, "1.23456789E7"}, {0.001, 64, "0.001"}, {0.0001, 64, "1.0E-4"},
		{1e-300, 64, "1.0E-300"}, {-1e300, 64, "-1.0E300"}, {math.SmallestNonzeroFloat64, 64, "4.9E-324"},
		{math.MaxFloat64, 64, "1.7976931348623157E308"}, {123456789.125, 64, "1.23456789125E8"},
		{9999999999, 64, "9.999999999E9"}, {-0.05, 64, "-0.05"}, {2e22, 64, "2.0E22"}, {1e23, 64, "1.0E23"},
		{math.Copysign(0, -1), 64, "-0.0"}, {0, 64, "0.0"}, {0.30000000000000004, 64, "0.30000000000000004"},
		{float64(float32(1.1)), 32, "1.1"}, {float64(float32(3.4028235e38)), 32, "3.4028235E38"},
		{float64(math.SmallestNonzeroFloat32), 32, "1.4E-45"}, {float64(float32(16777216)), 32, "1.6777216E7"},
		{math.NaN(), 64, `"NaN"`}, {math.Inf(1), 64, `"Infinity"`}, {math.Inf(-1), 32, `"-Infinity"`},
	}
	for _, c := range cases {
		if got := string(appendFloat(nil, c.f, c.bits)); got != c.want {
			t.Errorf("%v (%d bits): got %s want %s", c.f, c.bits, got, c.want)
		}
	}
	f, err := os.Open("testdata/javafloat.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		hexBits, want, _ := strings.Cut(rest, " ")
		var v float64
		bits := 64
		switch kind {
		case "d":
			b, _ := strconv.ParseUint(hexBits, 16, 64)
			v = math.Float64frombits(b)
		case "f":
			b, _ := strconv.ParseUint(hexBits, 16, 32)
			v, bits = float64(math.Float32frombits(uint32(b))), 32
		default:
			continue
		}
		n++
		if got := string(appendFloat(nil, v, bits)); got != want {
			t.Errorf("%s %s: got %s, Java %s", kind, hexBits, got, want)
		}
	}
	if n < 4000 {
		t.Errorf("only %d vectors read", n)
	}
}

// Strings are escaped as Jackson escapes them.
func TestAppendStringJackson(t *testing.T) {
	for in, want := range map[string]string{
		"a\"b\\c":        `"a\"b\\c"`,
		"\b\f\n\r\t\x01": `"\b\f\n\r\t\u0001"`,
		"\x1f\x7f":       `"\u001F` + "\x7f" + `"`,
		"Grüezi €":       `"Grüezi €"`,
		"😀":              `"\uD83D\uDE00"`,
		"x\xffy":         `"x\ufffdy"`,
		"</script>":      `"</script>"`,
	} {
		if got := string(appendString(nil, []byte(in))); got != want {
			t.Errorf("%q: got %s want %s", in, got, want)
		}
	}
}
