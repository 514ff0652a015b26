package postgres

import (
	"bytes"
	"encoding/hex"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

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

// PostgreSQL's output forms of numeric, money (lc_monetary C), uuid,
// bytea's escape format and bit strings, as the session settings of
// types.go make them. An input that matches one of these could really
// be received.
var (
	fzNumericRE  = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	fzMoneyRE    = regexp.MustCompile(`^-?\$[0-9]{1,3}(,[0-9]{3})*\.[0-9]{2}$`)
	fzMoneyPGRE  = regexp.MustCompile(`^-?\$(0|[1-9][0-9]{0,2}(,[0-9]{3})*)\.[0-9]{2}$`) // no leading zero group, as cash_out prints
	fzUUIDRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	fzByteaEscRE = regexp.MustCompile(`^(?:[^\\]|\\\\|\\[0-3][0-7][0-7])*$`)
	fzBitsRE     = regexp.MustCompile(`^[01]*$`)
)

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
