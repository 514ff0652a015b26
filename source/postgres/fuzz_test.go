package postgres

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Fuzz targets of the pgoutput decoder (whole TupleData messages, and
// every text decoder family: numbers and decimals with money, bytea, bit
// strings and uuid, dates and times, intervals, arrays) and of the signal
// table's payload. FuzzDecodeText (types_test.go) covers every type for
// panics; the targets here add an oracle.
//
// The oracle of a decoded value (fzOracle.check) is pgx's own decoding of
// the same text (pgtype.Map, TextFormatCode) where pgx has a text codec:
// when both accept, both must mean the same value. The two parsers do not
// accept the same inputs, and each documented difference is spelled out
// where it is checked:
//
//   - sluice reads the exact form PostgreSQL prints under the session
//     settings the source fixes (types.go) and refuses spellings that
//     PostgreSQL never prints but pgx tolerates (bool "yes", time "1:2:3",
//     numeric ".5", a "Z" offset, more than 6 fraction digits, a uuid
//     without dashes, bit strings of other characters). Refusing such an
//     input is fine; refusing PostgreSQL's own output form (fzPG…) is not.
//   - sluice accepts forms pgx has no codec for: money, bytea's escape
//     format, timetz, PostgreSQL 17's interval "infinity". Their oracle is
//     PostgreSQL's output grammar and a re-encoding of the decoded value.
//   - sluice also takes a few spellings PostgreSQL never prints (a year
//     of 1 to 3 digits, an interval "++0:00:00", an array "{{}}"): they
//     cannot be received, and are not compared.
//   - ranges: dates and timestamps are int64 days and microseconds since
//     1970 (row.go), so a timestamp after 294247-01-10 is errRange though
//     PostgreSQL keeps them to 294276; sluice does not enforce
//     PostgreSQL's own bounds (pgx does), nor the 4-digit year padding.

// fzOracle holds pgx's type map. Fuzz functions run sequentially in a
// worker process, so one map per target is enough.
type fzOracle struct{ m *pgtype.Map }

func newFzOracle() *fzOracle { return &fzOracle{m: pgtype.NewMap()} }

// scan decodes src with pgx's text codec of oid into dst. A panic inside
// pgx counts as a refusal: it is pgx's problem, not the decoder's.
func (o *fzOracle) scan(oid uint32, src []byte, dst any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pgx panicked: %v", r)
		}
	}()
	return o.m.Scan(oid, pgtype.TextFormatCode, src, dst)
}

// PostgreSQL's output forms, as the session settings of types.go make
// them (DateStyle ISO, IntervalStyle postgres, TimeZone UTC, lc_monetary
// C). An input that matches one of these could really be received.
var (
	fzNumericRE  = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	fzMoneyRE    = regexp.MustCompile(`^-?\$[0-9]{1,3}(,[0-9]{3})*\.[0-9]{2}$`)
	fzMoneyPGRE  = regexp.MustCompile(`^-?\$(0|[1-9][0-9]{0,2}(,[0-9]{3})*)\.[0-9]{2}$`) // no leading zero group, as cash_out prints
	fzUUIDRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	fzByteaEscRE = regexp.MustCompile(`^(?:[^\\]|\\\\|\\[0-3][0-7][0-7])*$`)
	fzBitsRE     = regexp.MustCompile(`^[01]*$`)
	fzTimeRE     = regexp.MustCompile(`^([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?$`)
	fzTimeTZRE   = regexp.MustCompile(`^([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?([+-])([0-9]{2})(?::([0-9]{2})(?::([0-9]{2}))?)?$`)
	fzStampPGRE  = regexp.MustCompile(`^[0-9]{4,7}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?( BC)?$`)
	fzStampTZRE  = regexp.MustCompile(`^[0-9]{4,7}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?[+-][0-9]{2}(:[0-9]{2}){0,2}( BC)?$`)
	fzISORE      = regexp.MustCompile(`^P(-?[0-9]+)Y(-?[0-9]+)M(-?[0-9]+)DT(-?[0-9]+)H(-?[0-9]+)M(-?)([0-9]+)(?:\.([0-9]{1,6}))?S$`)
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

// check verifies the decoder's result (v, err) for the text in of column
// col against the oracle of col's type. It is also called for array
// elements, with the element column.
func (o *fzOracle) check(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	if col.Type == sluice.TypeArray {
		o.checkArray(t, col, in, v, err)
		return
	}
	if err == nil && (v.Kind != sluice.KindPresent || v.Elems != nil) {
		t.Fatalf("%s %q: decoded without error to kind %d, elems %v", col.DBType, in, v.Kind, v.Elems)
	}
	switch col.Type {
	case sluice.TypeText, sluice.TypeJSON, sluice.TypeXML, sluice.TypeEnum:
		if err != nil || !bytes.Equal(v.Bytes, in) {
			t.Fatalf("%s %q: got %q, %v; text types keep their bytes", col.DBType, in, v.Bytes, err)
		}
	case sluice.TypeBool:
		o.checkBool(t, col, in, v, err)
	case sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64:
		o.checkInt(t, col, in, v, err)
	case sluice.TypeFloat32, sluice.TypeFloat64:
		o.checkFloat(t, col, in, v, err)
	case sluice.TypeDecimal:
		o.checkDecimal(t, col, in, v, err)
	case sluice.TypeBytes:
		o.checkBytea(t, col, in, v, err)
	case sluice.TypeUUID:
		o.checkUUID(t, col, in, v, err)
	case sluice.TypeBit, sluice.TypeBits:
		o.checkBits(t, col, in, v, err)
	case sluice.TypeDate:
		o.checkDate(t, col, in, v, err)
	case sluice.TypeTime:
		o.checkTime(t, col, in, v, err)
	case sluice.TypeTimeTZ:
		o.checkTimeTZ(t, col, in, v, err)
	case sluice.TypeTimestamp, sluice.TypeTimestampTZ:
		o.checkTimestamp(t, col, in, v, err)
	case sluice.TypeInterval:
		o.checkInterval(t, col, in, v, err)
	default:
		t.Fatalf("%s: no oracle for type %s", col.DBType, col.Type)
	}
}

// accepts fails unless the decoder accepted in exactly when want says so.
func fzAccepts(t *testing.T, col *sluice.Column, in []byte, err error, want bool, grammar string) {
	t.Helper()
	switch {
	case want && err != nil:
		t.Fatalf("%s %q: refused (%v), but it is PostgreSQL's output form (%s)", col.DBType, in, err, grammar)
	case !want && err == nil:
		t.Fatalf("%s %q: accepted, but it is not PostgreSQL's output form (%s)", col.DBType, in, grammar)
	}
}

func (o *fzOracle) checkBool(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	// PostgreSQL prints t and f; true and false are accepted too. pgx
	// also takes prefixes, yes/no, on/off and 1/0: documented, refused.
	s := string(in)
	fzAccepts(t, col, in, err, s == "t" || s == "f" || s == "true" || s == "false", "t, f, true, false")
	if err != nil {
		return
	}
	var b pgtype.Bool
	if perr := o.scan(pgtype.BoolOID, in, &b); perr != nil || !b.Valid || (v.Int != 0 && v.Int != 1) || (v.Int == 1) != b.Bool {
		t.Fatalf("bool %q: decoded %d, pgx %v (%v)", in, v.Int, b.Bool, perr)
	}
}

func (o *fzOracle) checkInt(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	// Both parse an optionally signed decimal integer within the type's
	// range (strconv.ParseInt in pgx): they must agree on every input.
	var want int64
	var perr error
	switch col.Type {
	case sluice.TypeInt16:
		var x pgtype.Int2
		perr = o.scan(pgtype.Int2OID, in, &x)
		want = int64(x.Int16)
	case sluice.TypeInt32:
		var x pgtype.Int4
		perr = o.scan(pgtype.Int4OID, in, &x)
		want = int64(x.Int32)
	default:
		var x pgtype.Int8
		perr = o.scan(pgtype.Int8OID, in, &x)
		want = x.Int64
	}
	if (err == nil) != (perr == nil) || (err == nil && v.Int != want) {
		t.Fatalf("%s %q: decoded %d (%v), pgx %d (%v)", col.DBType, in, v.Int, err, want, perr)
	}
}

func (o *fzOracle) checkFloat(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	// Both use strconv.ParseFloat (PostgreSQL's NaN, Infinity, -Infinity
	// included): they must agree on every input, bit for bit.
	var want float64
	var perr error
	if col.Type == sluice.TypeFloat32 {
		var x float32 // ParseFloat(…, 32); a pgtype.Float4 would parse 64 bits and round
		perr = o.scan(pgtype.Float4OID, in, &x)
		want = float64(x)
	} else {
		var x pgtype.Float8
		perr = o.scan(pgtype.Float8OID, in, &x)
		want = x.Float64
	}
	same := math.Float64bits(v.Float) == math.Float64bits(want) || math.IsNaN(v.Float) && math.IsNaN(want)
	if (err == nil) != (perr == nil) || (err == nil && !same) {
		t.Fatalf("%s %q: decoded %v (%v), pgx %v (%v)", col.DBType, in, v.Float, err, want, perr)
	}
}

// checkDecimal covers numeric and money: both are TypeDecimal and share
// one decoder, which reads either form whatever the column (documented in
// appendDecimal).
func (o *fzOracle) checkDecimal(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	s := string(in)
	special := s == "NaN" || s == "Infinity" || s == "-Infinity"
	numeric := fzNumericRE.Match(in)
	money := fzMoneyRE.Match(in)
	fzAccepts(t, col, in, err, special || numeric || money, `numeric -?d+(.d+)?, NaN, ±Infinity; money -?$d{1,3}(,ddd)*.dd`)
	if err != nil {
		return
	}
	if money {
		// The sign and digits are kept: "-$1,234.56" is "-1234.56".
		want := strings.NewReplacer("$", "", ",", "").Replace(s)
		if string(v.Bytes) != want {
			t.Fatalf("money %q: decoded %q, want %q", in, v.Bytes, want)
		}
		if fzMoneyPGRE.Match(in) {
			// Printed back as cash_out does, it is the input again.
			if out := fzMoneyOut(string(v.Bytes)); out != s {
				t.Fatalf("money %q: decoded %q, which prints as %q", in, v.Bytes, out)
			}
		}
		return
	}
	// numeric: kept digit for digit, and pgx reads the same number.
	if string(v.Bytes) != s {
		t.Fatalf("numeric %q: decoded %q, want the text unchanged", in, v.Bytes)
	}
	var n pgtype.Numeric
	if perr := o.scan(pgtype.NumericOID, in, &n); perr != nil {
		t.Fatalf("numeric %q: decoded %q, pgx refuses it: %v", in, v.Bytes, perr)
	}
	switch {
	case n.NaN || n.InfinityModifier != pgtype.Finite:
		if !special || (s == "NaN") != n.NaN || (s == "Infinity") != (n.InfinityModifier == pgtype.Infinity) {
			t.Fatalf("numeric %q: pgx reads NaN=%v inf=%v", in, n.NaN, n.InfinityModifier)
		}
	default:
		got, ok := new(big.Rat).SetString(s)
		want := new(big.Rat).SetInt(n.Int)
		if n.Exp > 0 {
			want.Mul(want, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n.Exp)), nil)))
		} else if n.Exp < 0 {
			want.Quo(want, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-n.Exp)), nil)))
		}
		if !ok || got.Cmp(want) != 0 {
			t.Fatalf("numeric %q: decoded %q, pgx reads %s", in, v.Bytes, want.FloatString(int(max(0, -n.Exp))))
		}
	}
}

// fzMoneyOut prints decimal text with two fraction digits as cash_out
// does in the C locale: "-1234.56" is "-$1,234.56".
func fzMoneyOut(d string) string {
	neg := strings.HasPrefix(d, "-")
	d = strings.TrimPrefix(d, "-")
	whole, frac, _ := strings.Cut(d, ".")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteByte('$')
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	b.WriteByte('.')
	b.WriteString(frac)
	return b.String()
}

// checkBytea: the hex format against pgx, the escape format (which pgx
// cannot read) against its grammar and a reference decoding.
func (o *fzOracle) checkBytea(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	if bytes.HasPrefix(in, []byte(`\x`)) {
		var b []byte
		perr := o.scan(pgtype.ByteaOID, in, &b)
		if (err == nil) != (perr == nil) || (err == nil && !bytes.Equal(v.Bytes, b)) {
			t.Fatalf("bytea %q: decoded %x (%v), pgx %x (%v)", in, v.Bytes, err, b, perr)
		}
	} else {
		fzAccepts(t, col, in, err, fzByteaEscRE.Match(in), `escape format: bytes, \\ and \ooo`)
		if err == nil && !bytes.Equal(v.Bytes, fzUnescapeBytea(in)) {
			t.Fatalf("bytea %q: decoded %x, want %x", in, v.Bytes, fzUnescapeBytea(in))
		}
	}
	if err != nil {
		return
	}
	// The value reads back from either output format.
	for _, form := range [][]byte{fzEscapeBytea(v.Bytes), append([]byte(`\x`), hex.EncodeToString(v.Bytes)...)} {
		w, err := decodeText(col, form)
		if err != nil || !bytes.Equal(w.Bytes, v.Bytes) {
			t.Fatalf("bytea %q: decoded %x, whose output form %q decodes to %x (%v)", in, v.Bytes, form, w.Bytes, err)
		}
	}
}

// fzUnescapeBytea decodes the escape format, which must match
// fzByteaEscRE.
func fzUnescapeBytea(s []byte) []byte {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] != '\\':
			out = append(out, s[i])
		case s[i+1] == '\\':
			out = append(out, '\\')
			i++
		default:
			n, _ := strconv.ParseUint(string(s[i+1:i+4]), 8, 8)
			out = append(out, byte(n))
			i += 3
		}
	}
	return out
}

// fzEscapeBytea is byteaout with bytea_output = escape.
func fzEscapeBytea(b []byte) []byte {
	var out []byte
	for _, c := range b {
		switch {
		case c == '\\':
			out = append(out, `\\`...)
		case c < 0x20 || c > 0x7e:
			out = append(out, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
		default:
			out = append(out, c)
		}
	}
	return out
}

func (o *fzOracle) checkUUID(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	// pgx also reads 32 hex digits without dashes, and anything at the
	// dashes' places: not PostgreSQL's output, refused.
	fzAccepts(t, col, in, err, fzUUIDRE.Match(in), "8-4-4-4-12 hex digits")
	if err != nil {
		return
	}
	var u pgtype.UUID
	if perr := o.scan(pgtype.UUIDOID, in, &u); perr != nil {
		t.Fatalf("uuid %q: pgx refuses it: %v", in, perr)
	}
	h := hex.EncodeToString(u.Bytes[:])
	want := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	if string(v.Bytes) != want || want != strings.ToLower(string(in)) {
		t.Fatalf("uuid %q: decoded %q, pgx %q", in, v.Bytes, want)
	}
}

func (o *fzOracle) checkBits(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	if col.Type == sluice.TypeBit {
		fzAccepts(t, col, in, err, len(in) == 1 && (in[0] == '0' || in[0] == '1'), "bit(1): 0 or 1")
		if err == nil && v.Int != int64(in[0]-'0') {
			t.Fatalf("bit(1) %q: decoded %d", in, v.Int)
		}
		return
	}
	// pgx reads any character other than '1' as a 0 bit: refused here.
	fzAccepts(t, col, in, err, fzBitsRE.Match(in), "0s and 1s")
	if err != nil {
		return
	}
	// Debezium's Bits: the string as an unsigned number, little-endian,
	// without trailing zero bytes (BitSet.toByteArray); Int the length.
	if v.Int != int64(len(in)) || len(v.Bytes) > (len(in)+7)/8 || len(v.Bytes) > 0 && v.Bytes[len(v.Bytes)-1] == 0 {
		t.Fatalf("bits %q: decoded %d bits, bytes %x", in, v.Int, v.Bytes)
	}
	got := make([]byte, v.Int)
	for i := range got {
		b := len(got) - 1 - i
		got[i] = '0'
		if b/8 < len(v.Bytes) && v.Bytes[b/8]&(1<<(b%8)) != 0 {
			got[i] = '1'
		}
	}
	var pb pgtype.Bits
	if perr := o.scan(pgtype.VarbitOID, in, &pb); perr != nil || int(pb.Len) != len(got) {
		t.Fatalf("bits %q: pgx %+v (%v)", in, pb, perr)
	}
	for i := range got {
		want := byte('0')
		if pb.Bytes[i/8]&(128>>(i%8)) != 0 {
			want = '1'
		}
		if got[i] != want {
			t.Fatalf("bits %q: decoded bytes %x read as %s; pgx reads bit %d as %c", in, v.Bytes, got, i, want)
		}
	}
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
	// MicroDuration: a month is 30.4375 days, saturated to int64.
	want := new(big.Int).Mul(big.NewInt(int64(iv.Months)), big.NewInt(2_629_800_000_000))
	want.Add(want, new(big.Int).Mul(big.NewInt(int64(iv.Days)), big.NewInt(86_400_000_000)))
	want.Add(want, big.NewInt(iv.Microseconds))
	switch {
	case want.Cmp(big.NewInt(math.MaxInt64)) > 0:
		want.SetInt64(math.MaxInt64)
	case want.Cmp(big.NewInt(math.MinInt64)) < 0:
		want.SetInt64(math.MinInt64)
	}
	if v.Int != want.Int64() {
		t.Fatalf("interval %q: decoded %d µs, want %s (pgx %+v)", in, v.Int, want, iv)
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

// checkArray: the decoded array's shape, and, for PostgreSQL's output form
// of an array (pgx's reading of it printed back as array_out does is the
// input), pgx's elements each checked with the element type's oracle.
func (o *fzOracle) checkArray(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	elem := sluice.Column{Name: col.Name, DBType: strings.TrimPrefix(col.DBType, "_"), Type: col.Elem, Scale: col.Scale, Length: col.Length, Enum: col.Enum}
	if err == nil {
		if v.Kind != sluice.KindPresent || v.Elems == nil {
			t.Fatalf("%s %q: decoded kind %d, elems %v", col.DBType, in, v.Kind, v.Elems)
		}
		fzArrayShape(t, col, in, v, 0)
		if fzTextLike(col.Elem) {
			// What is decoded reads back the same from its output form.
			out := fzArrayOutValue(v, fzDelim(col))
			w, err := decodeText(col, []byte(out))
			if err != nil || !w.Equal(v) {
				t.Fatalf("%s %q: decoded %s, whose output form %q reads back as %s (%v)", col.DBType, in,
					renderValue(col, col.Type, v), out, renderValue(col, col.Type, w), err)
			}
		}
	}
	if col.DBType == "_box" {
		return // ';' delimited: pgx's text[] codec cannot read it
	}
	var arr pgtype.Array[*string]
	if perr := o.scan(pgtype.TextArrayOID, in, &arr); perr != nil || len(arr.Dims) > maxArrayDims || fzArrayOut(arr) != string(in) {
		return // not PostgreSQL's output form of an array (MAXDIM is 6)
	}
	elems := make([]sluice.Value, len(arr.Elements))
	bad := error(nil)
	for i, e := range arr.Elements {
		if e == nil {
			continue
		}
		ev, eerr := decodeText(&elem, []byte(*e))
		o.check(t, &elem, []byte(*e), ev, eerr)
		elems[i] = ev
		if eerr != nil && bad == nil {
			bad = eerr
		}
	}
	if bad != nil {
		if err == nil {
			t.Fatalf("%s %q: accepted, though an element does not decode alone: %v", col.DBType, in, bad)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s %q: refused (%v), but it is PostgreSQL's output form and every element decodes", col.DBType, in, err)
	}
	// The same shape (bounds are dropped) and the same leaves.
	var leaves []sluice.Value
	var walk func(v sluice.Value, dim int)
	walk = func(v sluice.Value, dim int) {
		if dim == len(arr.Dims) {
			leaves = append(leaves, v)
			return
		}
		if len(v.Elems) != int(arr.Dims[dim].Length) {
			t.Fatalf("%s %q: dimension %d has %d items, pgx %d", col.DBType, in, dim+1, len(v.Elems), arr.Dims[dim].Length)
		}
		for _, e := range v.Elems {
			walk(e, dim+1)
		}
	}
	if len(arr.Dims) == 0 {
		if len(v.Elems) != 0 {
			t.Fatalf("%s %q: decoded %d items of an empty array", col.DBType, in, len(v.Elems))
		}
		return
	}
	walk(v, 0)
	for i, l := range leaves {
		want := elems[i]
		if arr.Elements[i] == nil {
			want = sluice.Value{Kind: sluice.KindNull}
		}
		if !l.Equal(want) {
			t.Fatalf("%s %q: element %d decoded %s, alone %s", col.DBType, in, i+1,
				renderValue(col, col.Elem, l), renderValue(col, col.Elem, want))
		}
	}
}

func fzTextLike(t sluice.Type) bool {
	return t == sluice.TypeText || t == sluice.TypeJSON || t == sluice.TypeXML || t == sluice.TypeEnum
}

// fzArrayShape checks array.go's promises: leaves have no Elems, at most
// 6 dimensions, and every slice is capped (appending to one never writes
// into another's bytes).
func fzArrayShape(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, depth int) {
	t.Helper()
	if depth >= maxArrayDims || cap(v.Elems) != len(v.Elems) {
		t.Fatalf("%s %q: depth %d, elems len %d cap %d", col.DBType, in, depth+1, len(v.Elems), cap(v.Elems))
	}
	for _, e := range v.Elems {
		switch {
		case e.Elems != nil:
			// An empty sub-array ("{{}}") is possible, though not from
			// PostgreSQL, which prints every empty array as "{}".
			if e.Kind != sluice.KindPresent {
				t.Fatalf("%s %q: an absent sub-array", col.DBType, in)
			}
			fzArrayShape(t, col, in, e, depth+1)
		case e.Kind == sluice.KindNull:
		case e.Kind != sluice.KindPresent || cap(e.Bytes) != len(e.Bytes):
			t.Fatalf("%s %q: element kind %d, bytes len %d cap %d", col.DBType, in, e.Kind, len(e.Bytes), cap(e.Bytes))
		}
	}
}

// fzDelim is the array delimiter of col's element type.
func fzDelim(col *sluice.Column) byte {
	if col.DBType == "_box" {
		return ';'
	}
	return ','
}

// fzQuote is array_out's rendering of one element.
func fzQuote(b *strings.Builder, s string, delim byte) {
	quote := s == "" || strings.EqualFold(s, "NULL") || strings.ContainsAny(s, "\"\\{} \t\n\r\v\f"+string(delim))
	if !quote {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// fzArrayOut prints pgx's reading of an array as array_out does.
func fzArrayOut(a pgtype.Array[*string]) string {
	var b strings.Builder
	if len(a.Dims) == 0 {
		return "{}"
	}
	if slices.ContainsFunc(a.Dims, func(d pgtype.ArrayDimension) bool { return d.LowerBound != 1 }) {
		for _, d := range a.Dims {
			fmt.Fprintf(&b, "[%d:%d]", d.LowerBound, d.LowerBound+d.Length-1)
		}
		b.WriteByte('=')
	}
	i := 0
	var dim func(d int)
	dim = func(d int) {
		b.WriteByte('{')
		for k := 0; k < int(a.Dims[d].Length); k++ {
			if k > 0 {
				b.WriteByte(',')
			}
			if d+1 < len(a.Dims) {
				dim(d + 1)
				continue
			}
			if e := a.Elements[i]; e == nil {
				b.WriteString("NULL")
			} else {
				fzQuote(&b, *e, ',')
			}
			i++
		}
		b.WriteByte('}')
	}
	dim(0)
	return b.String()
}

// fzArrayOutValue prints a decoded array of a text-like type as array_out
// does.
func fzArrayOutValue(v sluice.Value, delim byte) string {
	var b strings.Builder
	var list func(v sluice.Value)
	list = func(v sluice.Value) {
		b.WriteByte('{')
		for i, e := range v.Elems {
			if i > 0 {
				b.WriteByte(delim)
			}
			switch {
			case e.Elems != nil:
				list(e)
			case e.Kind == sluice.KindNull:
				b.WriteString("NULL")
			default:
				fzQuote(&b, string(e.Bytes), delim)
			}
		}
		b.WriteByte('}')
	}
	list(v)
	return b.String()
}

// fzColumns builds the columns of declarations for testColumn.
func fzColumns(tb testing.TB, decls ...string) []sluice.Column {
	cols := make([]sluice.Column, len(decls))
	for i, d := range decls {
		cols[i] = testColumn(tb, d)
		cols[i].Name = "c" + strconv.Itoa(i)
	}
	return cols
}

// fzValueTarget is the body of the per-family targets: decode in as the
// column which selects, and check it against the oracle.
func fzValueTarget(f *testing.F, decls []string, seeds []string) {
	cols := fzColumns(f, decls...)
	for _, s := range seeds {
		for i := range cols {
			f.Add(uint8(i), s)
		}
	}
	for _, c := range slices.Concat(decodeCases, arrayCases) {
		if i := slices.Index(decls, c.typ); i >= 0 {
			f.Add(uint8(i), c.in)
		}
	}
	for _, c := range errorCases {
		if i := slices.Index(decls, c.typ); i >= 0 {
			f.Add(uint8(i), c.in)
		}
	}
	o := newFzOracle()
	f.Fuzz(func(t *testing.T, which uint8, in string) {
		col := &cols[int(which)%len(cols)]
		src := []byte(in)
		v, err := decodeText(col, src)
		o.check(t, col, []byte(in), v, err)
		if err == nil {
			// src is not retained.
			want := fzClone(v)
			for i := range src {
				src[i] = 0xA5
			}
			if !v.Equal(want) {
				t.Fatalf("%s %q: the value changed with its input buffer", col.DBType, in)
			}
		}
	})
}

// fzClone deep-copies a value.
func fzClone(v sluice.Value) sluice.Value {
	w := v
	w.Bytes = bytes.Clone(v.Bytes)
	if v.Elems != nil {
		w.Elems = make([]sluice.Value, len(v.Elems))
		for i, e := range v.Elems {
			w.Elems[i] = fzClone(e)
		}
	}
	return w
}

// FuzzDecodeNumber: int2, int4, int8 and float4/8 must agree with pgx on
// every input; bool, numeric and money follow PostgreSQL's output forms,
// numeric's value as pgx reads it.
func FuzzDecodeNumber(f *testing.F) {
	fzValueTarget(f, []string{"bool", "int2", "int4", "int8", "float4", "float8", "numeric", "numeric(10,2)", "money"},
		[]string{"0", "-1", "+7", "007", "32768", "-2147483649", "9223372036854775808", "1e3", "0x1p-2", "1_000",
			"NaN", "-Infinity", "inf", ".5", "5.", "-0.000", "$0.00", "-$1,234.56", "$1234.56", "$0,001.00", "t", "yes", " 1"})
}

// FuzzDecodeBinary: bytea (hex format against pgx, escape format against
// its grammar), bit and varbit, uuid.
func FuzzDecodeBinary(f *testing.F) {
	fzValueTarget(f, []string{"bytea", "bit(1)", "bit(10)", "varbit", "uuid"},
		[]string{`\x`, `\x00ff`, `\xABcd`, `\x0`, `\xzz`, `a\\b\001\377`, `\400`, `\\\`, "", "0", "1", "0101", "000000000", "1x",
			"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0eebc99x9c0bx4ef8xbb6dx6bb9bd380a11"})
}

// FuzzDecodeDateTime: date, time, timetz, timestamp and timestamptz.
func FuzzDecodeDateTime(f *testing.F) {
	fzValueTarget(f, []string{"date", "time", "time(3)", "timetz", "timestamp", "timestamp(0)", "timestamptz"},
		[]string{"2024-02-29", "2023-02-29", "0001-01-01 BC", "4714-11-24 BC", "4714-11-23 BC", "5874897-12-31", "10000-01-01",
			"1-01-01", "infinity", "-infinity", "24:00:00", "24:00:00.5", "23:59:59.999999", "1:02:03", "12:00:00.1234567",
			"12:34:56+05:30", "00:00:00-15:59:59", "12:00:00Z", "2018-06-20 15:13:16.945104", "2018-06-20 17:13:16+02",
			"0044-03-15 12:00:00+00 BC", "294276-12-31 23:59:59+00", "294247-01-10 04:00:54.775807+00", "2024-01-01 00:00:00+100",
			"2024-01-01 00:00:00.0000005+00", "1970-01-01 00:00:00 BC"})
}

// FuzzDecodeInterval: the microseconds and the ISO-8601 text against
// pgx's months, days and microseconds.
func FuzzDecodeInterval(f *testing.F) {
	fzValueTarget(f, []string{"interval", "interval(3)"},
		[]string{"00:00:00", "1 year 2 mons 3 days 04:05:06.78", "-1 days +02:00:00", "-00:00:00.5", "1 day", "2 years",
			"178956970 years 7 mons", "-178956970 years -8 mons", "2147483647 days 2562047787:59:59.999999", "1:02:03",
			"1 year 1 year", "3 days 2 mons", "infinity", "-infinity", "1 day ", " 1 day", "+1 years", "100:00:00.1234567"})
}

// FuzzDecodeArray: arrays of several element types, against pgx's reading
// of PostgreSQL's output form of an array and the element oracles.
func FuzzDecodeArray(f *testing.F) {
	fzValueTarget(f, []string{"_text", "_int4", "_numeric", "_bool", "_float8", "_bytea", "_uuid", "_date", "_timestamptz",
		"_interval", "_varbit", "_jsonb", "_box"},
		[]string{"{}", "{NULL}", `{"NULL",null,NuLl}`, `{"a b","c\"d","",x}`, "{{1,2},{3,4}}", "{{1,2},{3}}", "[0:1]={1,2}",
			"[1:1][2:3]={{a,b}}", `{"\\x00",\x01}`, "{ a , b }", `{"2018-06-20 17:13:16+02"}`, `{"1 day"}`, "{{{{{{{1}}}}}}}",
			"{a,{b}}", "{1,2", `{"a\`, `{\}`, "{1;2}", "{(1,2),(3,4);(5,6),(7,8)}"})
}

// fzTupleDecls is the relation of the tuple targets.
var fzTupleDecls = []string{"int4", "int8", "text", "bool", "numeric", "float8", "date", "timestamptz", "bytea", "uuid", "_text", "interval"}

var fzTupleVals = []string{"42", "-9223372036854775808", "héllo\x00", "t", "-12.50", "NaN", "2024-02-29", "2018-06-20 17:13:16.945104+02",
	`\x00ff`, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `{"a b",NULL,c}`, "1 year 2 mons 3 days 04:05:06.78"}

func fzRelation(tb testing.TB) *relation {
	t := &sluice.Table{ID: 1, Schema: "public", Name: "fuzz", Columns: fzColumns(tb, fzTupleDecls...), Key: []int{0, 1}}
	t.Columns[0].Key, t.Columns[1].Key = true, true
	ident := make([]bool, len(t.Columns))
	ident[0], ident[1] = true, true
	return &relation{table: t, ident: ident}
}

// fzTuple is a TupleData reference parser: the kind and text of each
// column sent, the bytes after the tuple, or ok false when malformed.
type fzCol struct {
	kind byte
	text []byte
}

func fzParseTuple(p []byte, ncols int) (cols []fzCol, rest []byte, ok bool) {
	if len(p) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if n > ncols {
		return nil, nil, false
	}
	for range n {
		if len(p) < 1 {
			return nil, nil, false
		}
		c := fzCol{kind: p[0]}
		p = p[1:]
		switch c.kind {
		case 'n', 'u':
		case 't':
			if len(p) < 4 || uint64(binary.BigEndian.Uint32(p)) > uint64(len(p)-4) {
				return nil, nil, false
			}
			l := int(binary.BigEndian.Uint32(p))
			c.text, p = bytes.Clone(p[4:4+l]), p[4+l:]
		default:
			return nil, nil, false
		}
		cols = append(cols, c)
	}
	return cols, p, true
}

// checkTuple decodes p as decodeTuple does in handleRow and checks the
// row: framing against fzParseTuple, each text value against decodeText
// (the arena path and the single-value path agree) and the value oracle,
// and that nothing aliases p.
func (o *fzOracle) checkTuple(t *testing.T, rel *relation, p []byte, keyOnly bool) {
	t.Helper()
	want, wantRest, ok := fzParseTuple(p, len(rel.table.Columns))
	var wantErr error
	if ok {
		for i, c := range want {
			if c.kind == 't' {
				if _, err := decodeText(&rel.table.Columns[i], c.text); err != nil {
					wantErr = err
					break
				}
			}
		}
	}
	in := bytes.Clone(p)
	row, rest, err := decodeTuple(rel, p, keyOnly)
	switch {
	case !ok && err == nil:
		t.Fatalf("tuple %q: accepted malformed framing", in)
	case !ok:
		return
	case wantErr != nil && err == nil:
		t.Fatalf("tuple %q: accepted, though a column does not decode: %v", in, wantErr)
	case wantErr == nil && err != nil:
		t.Fatalf("tuple %q: refused: %v", in, err)
	case err != nil:
		return
	}
	if len(row) != len(rel.table.Columns) || !bytes.Equal(rest, wantRest) {
		t.Fatalf("tuple %q: %d values for %d columns, rest %q want %q", in, len(row), len(rel.table.Columns), rest, wantRest)
	}
	for i := range p {
		p[i] = 0xA5 // the connection's read buffer is reused
	}
	for i, v := range row {
		col := &rel.table.Columns[i]
		var wantV sluice.Value
		switch {
		case i >= len(want):
			wantV.Kind = sluice.KindMissing
		case want[i].kind == 'n' && keyOnly && !rel.ident[i]:
			wantV.Kind = sluice.KindMissing
		case want[i].kind == 'n':
			wantV.Kind = sluice.KindNull
		case want[i].kind == 'u':
			wantV.Kind = sluice.KindUnchanged
		default:
			wantV, _ = decodeText(col, want[i].text)
			o.check(t, col, want[i].text, v, nil)
			if cap(v.Bytes) != len(v.Bytes) || cap(v.Elems) != len(v.Elems) {
				t.Fatalf("tuple %q: column %d's slices are not capped (bytes %d/%d, elems %d/%d)", in, i, len(v.Bytes), cap(v.Bytes), len(v.Elems), cap(v.Elems))
			}
		}
		if !v.Equal(wantV) {
			t.Fatalf("tuple %q: column %d (%s) decoded %s, want %s", in, i, col.DBType,
				renderValue(col, col.Type, v), renderValue(col, col.Type, wantV))
		}
	}
}

// FuzzDecodeTuple feeds raw TupleData bytes to decodeTuple.
func FuzzDecodeTuple(f *testing.F) {
	rel := fzRelation(f)
	full := tupleBytes(fzTupleVals)
	f.Add(full, false)
	f.Add(full[:len(full)-1], false)
	f.Add(append(bytes.Clone(full), "rest"...), true)
	f.Add([]byte{0, 3, 'n', 'u', 't', 0, 0, 0, 1, '7'}, true)
	f.Add([]byte{0, 2, 't', 0, 0, 0, 1, '7', 'n'}, true)
	f.Add([]byte{0, 1, 't', 0xff, 0xff, 0xff, 0xff}, false)
	f.Add([]byte{0, 1, 'b', 0, 0, 0, 0}, false)
	f.Add([]byte{0, 13}, false)
	f.Add([]byte{0}, false)
	for i := range fzTupleVals {
		vals := slices.Clone(fzTupleVals[:i+1])
		vals[i] = "x"
		f.Add(tupleBytes(vals), false)
	}
	o := newFzOracle()
	f.Fuzz(func(t *testing.T, p []byte, keyOnly bool) {
		o.checkTuple(t, rel, p, keyOnly)
	})
}

// FuzzDecodeTupleValues builds a tuple of the relation's columns from
// fuzzed text values (a set bit of nulls sends the column as NULL) and
// checks the decoded row.
func FuzzDecodeTupleValues(f *testing.F) {
	rel := fzRelation(f)
	seeds := [][]string{fzTupleVals,
		{"-2147483648", "9223372036854775807", "", "false", "0.000", "-Infinity", "0044-03-15 BC", "infinity",
			`a\\b\001`, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{}", "-1 days +02:00:00"},
		{"2147483648", "1e3", "\xff", "yes", ".5", "1e400", "2024-13-01", "2018-06-20 15:13:16Z", `\x0`, "x", "{a", "1:2:3"},
	}
	for i, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], uint16(i*0x0421))
	}
	o := newFzOracle()
	f.Fuzz(func(t *testing.T, i4, i8, txt, b, num, f8, date, tstz, bytea, uuid, arr, iv string, nulls uint16) {
		vals := []string{i4, i8, txt, b, num, f8, date, tstz, bytea, uuid, arr, iv}
		p := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
		for i, v := range vals {
			if nulls&(1<<i) != 0 {
				p = append(p, 'n')
				continue
			}
			p = append(p, 't')
			p = binary.BigEndian.AppendUint32(p, uint32(len(v)))
			p = append(p, v...)
		}
		o.checkTuple(t, rel, p, false)
	})
}

// FuzzSignal feeds signal rows to handleSignal. A signal never makes it
// fail (a bad one is logged and ignored), and what it queues names only
// tables the source captures: well-formed schema.table names listed in
// data-collections, among source.tables when that lists them, and never
// the signal table itself, whose rows are not emitted (README; the
// initial snapshot leaves it out too, see snapshotTables).
func FuzzSignal(f *testing.F) {
	// testdata/fuzz/FuzzSignal keeps the inputs that found the signal table
	// and an uncaptured table being snapshotted.
	for _, s := range []struct {
		typ, data string
		listed    bool
	}{
		{"execute-snapshot", `{"data-collections": ["public.orders"], "type": "incremental"}`, true},
		{"execute-snapshot", `{"data-collections": ["orders", "shop.items", "a.b.c", ".x", "x.", ""], "additional-condition": "id > 1"}`, true},
		{"execute-snapshot", `{"data-collections": ["public.orders"], "additional-conditions": [{"data-collection": "orders", "filter": "id > 1000"}]}`, true},
		{"execute-snapshot", `{"data-collections": "public.orders"}`, true},
		{"execute-snapshot", `{"data-collections": [1, null]}`, true},
		{"execute-snapshot", `null`, true},
		{"execute-snapshot", `[]`, false},
		{"execute-snapshot", "{\"data-collections\": [\"public.orders\xff\"]}", false},
		{"stop-snapshot", `{"data-collections": ["public.orders"]}`, true},
		{"", "", false},
	} {
		f.Add(s.typ, s.data, s.listed)
	}
	captured := []string{"public.orders", "shop.items"}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, typ, data string, listed bool) {
		cfg := Config{SignalTable: "public.sluice_signal", Slot: "fuzz"}
		if listed {
			cfg.Tables = captured
		}
		s := &Source{cfg: cfg, log: zap.NewNop(), stateDir: dir, pipeline: "fuzz"}
		st := &stream{src: s, log: s.log}
		st.snap = newSnapshotter(s, &state{Version: 1, Slot: "fuzz"}, &stateKeeper{store: s.fileStore(), log: s.log})
		rel := &relation{table: &sluice.Table{Schema: "public", Name: "sluice_signal", Columns: []sluice.Column{
			{Name: "id", Type: sluice.TypeText}, {Name: "type", Type: sluice.TypeText}, {Name: "data", Type: sluice.TypeText}}}, signal: true}
		row := sluice.Row{{Kind: sluice.KindPresent, Bytes: []byte("fuzz-1")}, {Kind: sluice.KindPresent, Bytes: []byte(typ)},
			{Kind: sluice.KindPresent, Bytes: []byte(data)}}
		if err := st.handleSignal(rel, row); err != nil {
			t.Fatalf("signal %q %q: %v", typ, data, err)
		}
		jobs := st.snap.queue
		if typ != "execute-snapshot" && len(jobs) > 0 {
			t.Fatalf("signal of type %q queued %d snapshots", typ, len(jobs))
		}
		var named []string
		if len(jobs) > 0 {
			var d struct {
				DataCollections []string `json:"data-collections"`
			}
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				t.Fatalf("signal %q: queued %d snapshots of data encoding/json refuses: %v", data, len(jobs), err)
			}
			for _, dc := range d.DataCollections {
				if sc, n, ok := splitTable(dc); ok {
					named = append(named, sc+"."+n)
				}
			}
		}
		for _, j := range jobs {
			sc, n, ok := splitTable(j.Table)
			switch {
			case !ok || sc+"."+n != j.Table || !j.Incremental:
				t.Fatalf("signal %q: queued %+v, not a schema.table", data, j)
			case !slices.Contains(named, j.Table):
				t.Fatalf("signal %q: queued %s, which data-collections does not name", data, j.Table)
			case s.isSignalTable(j.Table):
				t.Fatalf("signal %q: queued a snapshot of %s, the signal table itself, whose rows must not be emitted", data, j.Table)
			case listed && !slices.Contains(captured, j.Table):
				t.Fatalf("signal %q: queued a snapshot of %s, which source.tables %v does not capture", data, j.Table, captured)
			}
		}
	})
}
