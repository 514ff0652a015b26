package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

// This file maps PostgreSQL types to sluice columns and decodes the TEXT
// form of pgoutput tuple data (protocol v1, binary 'false') into values,
// stored exactly as the root package's row.go documents per sluice.Type.
//
// The text form of some types depends on settings of the session that
// runs the output functions, which for pgoutput is the walsender of the
// replication connection. The decoder expects these (the server defaults
// except TimeZone), and the replication connection should set them in its
// startup options rather than inherit a database's or role's:
//
//	DateStyle          ISO       "2024-01-31", "0044-03-15 BC" (any date order: ISO ignores it)
//	IntervalStyle      postgres  "1 year 2 mons 3 days 04:05:06.78", "-1 days +02:00:00"
//	TimeZone           UTC       not required: every "+hh[:mm[:ss]]" offset is applied
//	bytea_output       hex       the escape format is accepted too
//	lc_monetary        C, en_US  money "$1,234.56", "-$1,234.56": 2 fraction digits
//	extra_float_digits 1         (PG 12+ default) shortest text that reads back exactly
//
// Another DateStyle or IntervalStyle, or a money locale without '$',
// makes decodeText fail with an error naming the column. A lower
// extra_float_digits rounds floats on the server and cannot be detected.

// varhdrsz is PostgreSQL's VARHDRSZ, included in varchar, bpchar and
// numeric type modifiers. A type modifier of -1 means "not declared".
const varhdrsz = 4

// columnFor describes a column of type ti with type modifier typmod (the
// attribute's atttypmod from the Relation message). For an array type elem
// is the element's typeInfo; it may be nil, in which case only a built-in
// element type is recognised. Domains map to their base type and keep the
// domain's name in DBType; composite, range, multirange, pseudo and
// unknown types map to TypeText (their text form).
//
// Decimals: Scale is the declared scale (-1 unconstrained; money 2) and
// Length the precision. Time types: Scale is the declared fractional
// precision (-1 unconstrained). bit, varbit, char and varchar: Length is
// the declared length (0 unconstrained). bit(1) is TypeBit; other bit and
// all varbit columns are TypeBits. For arrays, Elem, Scale, Length and
// Enum describe the element type (an array column's typmod is its
// element's).
func columnFor(name string, ti *typeInfo, elem *typeInfo, typmod int32, notNull bool) sluice.Column {
	col := sluice.Column{Name: name, Optional: !notNull, DBType: "unknown"}
	if ti == nil {
		return col // TypeText
	}
	col.DBType = ti.name
	if ti.kind == 'd' && typmod < 0 {
		typmod = ti.baseMod
	}
	if ti.elem != 0 {
		if elem == nil || elem.oid != ti.elem {
			elem = builtinTypes[ti.elem]
		}
		col.Type = sluice.TypeArray
		col.Elem, col.Scale, col.Length, col.Enum = scalarFor(elem, typmod)
		return col
	}
	col.Type, col.Scale, col.Length, col.Enum = scalarFor(ti, typmod)
	return col
}

// scalarFor maps a non-array type (after domain resolution) to its
// logical type, scale, length and enum labels.
func scalarFor(ti *typeInfo, typmod int32) (t sluice.Type, scale, length int, enum []string) {
	if ti == nil {
		return sluice.TypeText, 0, 0, nil
	}
	oid := ti.oid
	switch ti.kind {
	case 'd':
		if ti.elem != 0 {
			// A domain over an array used as an array element: its
			// text form is an array literal; keep it as text.
			return sluice.TypeText, 0, 0, nil
		}
		if typmod < 0 {
			typmod = ti.baseMod
		}
		oid = ti.base
		fallthrough
	case 'e':
		if ti.labels != nil {
			return sluice.TypeEnum, 0, 0, slices.Clone(ti.labels)
		}
	}
	if ti.kind != 'b' && ti.kind != 'd' {
		return sluice.TypeText, 0, 0, nil
	}
	t, scale, length = builtinScalar(oid, typmod)
	return t, scale, length, nil
}

// builtinScalar maps a built-in scalar type oid; anything else is text.
func builtinScalar(oid uint32, typmod int32) (t sluice.Type, scale, length int) {
	timePrec := -1
	if typmod >= 0 {
		timePrec = int(typmod)
	}
	switch oid {
	case pgtype.BoolOID:
		return sluice.TypeBool, 0, 0
	case pgtype.Int2OID:
		return sluice.TypeInt16, 0, 0
	case pgtype.Int4OID:
		return sluice.TypeInt32, 0, 0
	case pgtype.Int8OID, pgtype.OIDOID:
		return sluice.TypeInt64, 0, 0
	case pgtype.Float4OID:
		return sluice.TypeFloat32, 0, 0
	case pgtype.Float8OID:
		return sluice.TypeFloat64, 0, 0
	case pgtype.NumericOID:
		if typmod < varhdrsz {
			return sluice.TypeDecimal, -1, 0
		}
		m := typmod - varhdrsz
		// PG 15+ allows a negative scale: 11 bits, sign-extended.
		return sluice.TypeDecimal, int(((m & 0x7ff) ^ 1024) - 1024), int((m >> 16) & 0xffff)
	case moneyOID:
		return sluice.TypeDecimal, 2, 0
	case pgtype.VarcharOID, pgtype.BPCharOID:
		if typmod >= varhdrsz {
			return sluice.TypeText, 0, int(typmod - varhdrsz)
		}
		return sluice.TypeText, 0, 0
	case pgtype.ByteaOID:
		return sluice.TypeBytes, 0, 0
	case pgtype.UUIDOID:
		return sluice.TypeUUID, 0, 0
	case pgtype.JSONOID, pgtype.JSONBOID:
		return sluice.TypeJSON, 0, 0
	case pgtype.XMLOID:
		return sluice.TypeXML, 0, 0
	case pgtype.DateOID:
		return sluice.TypeDate, 0, 0
	case pgtype.TimeOID:
		return sluice.TypeTime, timePrec, 0
	case pgtype.TimetzOID:
		return sluice.TypeTimeTZ, timePrec, 0
	case pgtype.TimestampOID:
		return sluice.TypeTimestamp, timePrec, 0
	case pgtype.TimestamptzOID:
		return sluice.TypeTimestampTZ, timePrec, 0
	case pgtype.IntervalOID:
		// typmod = range mask << 16 | precision; 0xffff is "full".
		if typmod < 0 || typmod&0xffff == 0xffff {
			return sluice.TypeInterval, -1, 0
		}
		return sluice.TypeInterval, int(typmod & 0xffff), 0
	case pgtype.BitOID:
		if typmod == 1 {
			return sluice.TypeBit, 0, 1
		}
		return sluice.TypeBits, 0, max(int(typmod), 0)
	case pgtype.VarbitOID:
		return sluice.TypeBits, 0, max(int(typmod), 0)
	}
	// text, name, "char", inet, cidr, macaddr, macaddr8 and all others.
	return sluice.TypeText, 0, 0
}

// errors returned (wrapped) by decodeText.
var (
	errSyntax   = errors.New("invalid text form")
	errRange    = errors.New("value out of range")
	errBadType  = errors.New("unsupported logical type")
	errTooDeep  = errors.New("array has more than 6 dimensions")
	errBadArray = errors.New("malformed array literal")
)

// syntaxErr reports src as not being the expected text form of what. The
// input is quoted (at most 40 bytes) to help diagnose session settings;
// it is on the error path only.
func syntaxErr(what string, src []byte) error {
	const limit = 40
	s, more := src, ""
	if len(s) > limit {
		s, more = s[:limit], "…"
	}
	return fmt.Errorf("%w of %s: %q%s", errSyntax, what, s, more)
}

// decodeText parses the text output form of a column's value (pgoutput
// tuple data kind 't') into a Value of the column's Type, as row.go
// documents. NULL ('n') and unchanged TOAST ('u') never reach it. src is
// not retained: fixed-size values (numbers, bools, dates, times,
// timestamps) allocate nothing; variable-length values make one
// allocation, arrays at most two (the element slice, and one buffer
// shared by the elements' bytes, each element's slice capped so appends
// never overlap).
//
// Errors name the column and its database type. Malformed input is an
// error, never a panic.
func decodeText(col *sluice.Column, src []byte) (sluice.Value, error) {
	var v sluice.Value
	var err error
	if col.Type == sluice.TypeArray {
		err = decodeArray(&v, col, src)
	} else {
		var dst []byte
		if hasBytes(col.Type) {
			dst = make([]byte, 0, bytesBound(col.Type, len(src)))
		}
		_, err = decodeInto(&v, col.Type, src, dst)
	}
	if err != nil {
		return sluice.Value{}, fmt.Errorf("column %s (%s): %w", col.Name, col.DBType, err)
	}
	return v, nil
}

// hasBytes reports whether values of t keep their data in Value.Bytes.
func hasBytes(t sluice.Type) bool {
	switch t {
	case sluice.TypeText, sluice.TypeDecimal, sluice.TypeBytes, sluice.TypeUUID, sluice.TypeJSON,
		sluice.TypeXML, sluice.TypeEnum, sluice.TypeTimeTZ, sluice.TypeInterval, sluice.TypeBits:
		return true
	}
	return false
}

// bytesBound is an upper bound of the decoded size of a text form of n
// bytes. Only the interval's ISO-8601 form can be longer than its input
// ("1 day" is "P0Y0M1DT0H0M0S").
func bytesBound(t sluice.Type, n int) int {
	if t == sluice.TypeInterval {
		return n + 16
	}
	return n
}

// setInt and setBytes fill a zero Value; setBytes caps the slice at its
// length so that appending to it never writes into bytes that belong to
// another value.
func setInt(v *sluice.Value, i int64) {
	v.Kind = sluice.KindPresent
	v.Int = i
}

func setBytes(v *sluice.Value, dst []byte, start int) {
	v.Kind = sluice.KindPresent
	v.Bytes = dst[start:len(dst):len(dst)]
}

// decodeInto decodes one non-array value of type t into the zero Value
// *v. Types stored in Bytes append their data to dst (which the caller
// sized) and return it. On error *v is left unset.
func decodeInto(v *sluice.Value, t sluice.Type, src, dst []byte) ([]byte, error) {
	start := len(dst)
	var err error
	switch t {
	case sluice.TypeText, sluice.TypeJSON, sluice.TypeXML, sluice.TypeEnum:
		dst = append(dst, src...)
		setBytes(v, dst, start)
		return dst, nil
	case sluice.TypeInt32:
		n, ok := parseInt(src, math.MinInt32, math.MaxInt32)
		if !ok {
			return dst, syntaxErr("int4", src)
		}
		setInt(v, n)
		return dst, nil
	case sluice.TypeInt64:
		n, ok := parseInt(src, math.MinInt64, math.MaxInt64)
		if !ok {
			return dst, syntaxErr("int8", src)
		}
		setInt(v, n)
		return dst, nil
	case sluice.TypeInt16:
		n, ok := parseInt(src, math.MinInt16, math.MaxInt16)
		if !ok {
			return dst, syntaxErr("int2", src)
		}
		setInt(v, n)
		return dst, nil
	case sluice.TypeBool:
		switch string(src) {
		case "t", "true":
			setInt(v, 1)
		case "f", "false":
			setInt(v, 0)
		default:
			return dst, syntaxErr("bool", src)
		}
		return dst, nil
	case sluice.TypeFloat32, sluice.TypeFloat64:
		size := 64
		if t == sluice.TypeFloat32 {
			size = 32
		}
		// strconv accepts PostgreSQL's NaN, Infinity and -Infinity.
		// The string conversion does not allocate: strconv copies its
		// input before putting it in an error.
		f, err := strconv.ParseFloat(string(src), size)
		if err != nil {
			return dst, syntaxErr("float", src)
		}
		v.Kind, v.Float = sluice.KindPresent, f
		return dst, nil
	case sluice.TypeDecimal:
		dst, err = appendDecimal(dst, src)
	case sluice.TypeBytes:
		dst, err = appendBytea(dst, src)
	case sluice.TypeUUID:
		dst, err = appendUUID(dst, src)
	case sluice.TypeTimeTZ:
		dst, err = appendTimeTZ(dst, src)
	case sluice.TypeDate:
		d, err := parseDate(src)
		if err != nil {
			return dst, err
		}
		setInt(v, d)
		return dst, nil
	case sluice.TypeTime:
		us, n, _, ok := parseClock(src, true)
		if !ok || n != len(src) {
			return dst, syntaxErr("time", src)
		}
		setInt(v, us)
		return dst, nil
	case sluice.TypeTimestamp, sluice.TypeTimestampTZ:
		us, err := parseTimestamp(src, t == sluice.TypeTimestampTZ)
		if err != nil {
			return dst, err
		}
		setInt(v, us)
		return dst, nil
	case sluice.TypeInterval:
		var us int64
		if us, dst, err = appendInterval(dst, src); err != nil {
			return dst, err
		}
		setBytes(v, dst, start)
		v.Int = us
		return dst, nil
	case sluice.TypeBit:
		if len(src) != 1 || (src[0] != '0' && src[0] != '1') {
			return dst, syntaxErr("bit(1)", src)
		}
		setInt(v, int64(src[0]-'0'))
		return dst, nil
	case sluice.TypeBits:
		if dst, err = appendBits(dst, src); err != nil {
			return dst, err
		}
		setBytes(v, dst, start)
		v.Int = int64(len(src))
		return dst, nil
	default:
		return dst, fmt.Errorf("%w %s", errBadType, t)
	}
	// decimal, bytea, uuid, timetz
	if err != nil {
		return dst, err
	}
	setBytes(v, dst, start)
	return dst, nil
}

// parseInt parses an optionally signed decimal integer within [lo, hi].
func parseInt(s []byte, lo, hi int64) (int64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	neg := false
	i := 0
	switch s[0] {
	case '-':
		neg, i = true, 1
	case '+':
		i = 1
	}
	if i == len(s) {
		return 0, false
	}
	var n uint64
	for ; i < len(s); i++ {
		c := s[i] - '0'
		if c > 9 || n > math.MaxInt64/10 {
			return 0, false
		}
		n = n*10 + uint64(c)
	}
	if neg {
		if n > 1<<63 || -int64(n) < lo { // -int64(1<<63) is MinInt64
			return 0, false
		}
		return -int64(n), true
	}
	if n > uint64(hi) {
		return 0, false
	}
	return int64(n), true
}

// appendDecimal appends the exact decimal text of a numeric or money
// value. numeric output is "-123.4500", "NaN", "Infinity" or "-Infinity"
// and is kept digit for digit. money output is "$1,234.56" or
// "-$1,234.56" (lc_monetary C or en_US: '$', ',' every three digits, '.'
// and two fraction digits); the sign and digits are kept, giving
// "1234.56" and "-1234.56". A '$' form that deviates from that pattern is
// rejected, so another locale's "$1.235" is an error, not 1.235.
func appendDecimal(dst, src []byte) ([]byte, error) {
	switch string(src) {
	case "NaN", "Infinity", "-Infinity":
		return append(dst, src...), nil
	}
	i := 0
	if i < len(src) && src[i] == '-' {
		i++
	}
	if i < len(src) && src[i] == '$' {
		if i > 0 {
			dst = append(dst, '-')
		}
		return appendMoney(dst, src, i+1)
	}
	// numeric: check "-?d+(.d+)?" and copy it unchanged.
	digits := i
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	ok := i > digits
	if ok && i < len(src) && src[i] == '.' {
		i++
		frac := i
		for i < len(src) && isDigit(src[i]) {
			i++
		}
		ok = i > frac
	}
	if !ok || i != len(src) {
		return dst, syntaxErr("numeric or money (money assumes lc_monetary C or en_US)", src)
	}
	return append(dst, src...), nil
}

// appendMoney appends the digits of the money text src[i:] after "$":
// 1 to 3 digits, then groups of ",ddd", then ".dd".
func appendMoney(dst, src []byte, i int) ([]byte, error) {
	group, first := 0, true // digits in the current group
	for ; i < len(src); i++ {
		c := src[i]
		switch {
		case c >= '0' && c <= '9':
			dst = append(dst, c)
			group++
			if group > 3 {
				return dst, syntaxErr("money (lc_monetary C or en_US expected)", src)
			}
			continue
		case c == ',' && group > 0 && (first || group == 3):
			group, first = 0, false
			continue
		case c == '.' && group > 0 && (first || group == 3) && i+3 == len(src) && isDigit(src[i+1]) && isDigit(src[i+2]):
			return append(dst, src[i:]...), nil
		}
		break
	}
	return dst, syntaxErr("money (lc_monetary C or en_US expected)", src)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// appendBytea decodes bytea's hex output ("\x0aff"), or the escape format
// ("a\\b\001") when bytea_output=escape.
func appendBytea(dst, src []byte) ([]byte, error) {
	if len(src) >= 2 && src[0] == '\\' && src[1] == 'x' {
		h := src[2:]
		if len(h)%2 != 0 {
			return dst, syntaxErr("bytea", src)
		}
		for i := 0; i < len(h); i += 2 {
			hi, ok1 := unhex(h[i])
			lo, ok2 := unhex(h[i+1])
			if !ok1 || !ok2 {
				return dst, syntaxErr("bytea", src)
			}
			dst = append(dst, hi<<4|lo)
		}
		return dst, nil
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		if i+1 < len(src) && src[i+1] == '\\' {
			dst = append(dst, '\\')
			i++
			continue
		}
		if i+3 < len(src) && isOct(src[i+1]) && isOct(src[i+2]) && isOct(src[i+3]) && src[i+1] <= '3' {
			dst = append(dst, (src[i+1]-'0')<<6|(src[i+2]-'0')<<3|(src[i+3]-'0'))
			i += 3
			continue
		}
		return dst, syntaxErr("bytea", src)
	}
	return dst, nil
}

func isOct(c byte) bool { return c >= '0' && c <= '7' }

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendUUID checks the canonical 8-4-4-4-12 form and appends it in lower
// case.
func appendUUID(dst, src []byte) ([]byte, error) {
	if len(src) != 36 {
		return dst, syntaxErr("uuid", src)
	}
	for i, c := range src {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return dst, syntaxErr("uuid", src)
			}
		} else if _, ok := unhex(c); !ok {
			return dst, syntaxErr("uuid", src)
		} else if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// appendBits appends a bit string ("0101") as Debezium's PostgreSQL
// connector encodes io.debezium.data.Bits: the string read as an unsigned
// binary number (last character = bit 0), as little-endian bytes with no
// trailing zero bytes (Java's BitSet.toByteArray); an all-zero string is
// zero bytes. The caller stores the bit count in Value.Int.
func appendBits(dst, src []byte) ([]byte, error) {
	first := -1 // index of the most significant 1
	for i, c := range src {
		if c != '0' && c != '1' {
			return dst, syntaxErr("bit string", src)
		}
		if c == '1' && first < 0 {
			first = i
		}
	}
	if first < 0 {
		return dst, nil
	}
	nbits := len(src) - first
	start := len(dst)
	for range (nbits + 7) / 8 {
		dst = append(dst, 0)
	}
	out := dst[start:]
	for i := first; i < len(src); i++ {
		if src[i] == '1' {
			b := len(src) - 1 - i
			out[b/8] |= 1 << (b % 8)
		}
	}
	return dst, nil
}

// Time constants in microseconds.
const (
	usPerSec  = 1_000_000
	usPerMin  = 60 * usPerSec
	usPerHour = 60 * usPerMin
	usPerDay  = 24 * usPerHour
)

// parseDigits reads exactly n decimal digits at s[i:].
func parseDigits(s []byte, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range s[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// parseYMD reads "Y…Y-MM-DD" (a year of 1 to 8 digits) and returns the
// date's fields and the number of bytes read.
func parseYMD(s []byte) (year int64, month, day, n int, ok bool) {
	for n < len(s) && n < 9 && s[n] >= '0' && s[n] <= '9' {
		year = year*10 + int64(s[n]-'0')
		n++
	}
	if n == 0 || n > 8 || n >= len(s) || s[n] != '-' {
		return 0, 0, 0, 0, false
	}
	if month, ok = parseDigits(s, n+1, 2); !ok || n+3 >= len(s) || s[n+3] != '-' {
		return 0, 0, 0, 0, false
	}
	if day, ok = parseDigits(s, n+4, 2); !ok {
		return 0, 0, 0, 0, false
	}
	return year, month, day, n + 6, true
}

// daysSinceEpoch converts a proleptic Gregorian date (astronomical year:
// 1 BC is year 0) to days since 1970-01-01, checking the day of month.
func daysSinceEpoch(year int64, month, day int) (int64, bool) {
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return 0, false
	}
	leap := year%4 == 0 && (year%100 != 0 || year%400 == 0)
	if day > 28 && day > daysIn(month, leap) {
		return 0, false
	}
	// Howard Hinnant's days_from_civil.
	y := year
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((month + 9) % 12)
	doy := (153*mp+2)/5 + int64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468, true
}

func daysIn(month int, leap bool) int {
	switch month {
	case 2:
		if leap {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// hasBC reports whether s ends in " BC".
func hasBC(s []byte) bool {
	n := len(s)
	return n >= 3 && s[n-3] == ' ' && s[n-2] == 'B' && s[n-1] == 'C'
}

// datePart parses the date that starts s (with its " BC" suffix already
// removed by the caller when bc is true) into days since the epoch.
func datePart(s []byte, bc bool) (days int64, n int, ok bool) {
	y, m, d, n, ok := parseYMD(s)
	if !ok || y == 0 { // there is no year 0, AD or BC
		return 0, 0, false
	}
	if bc {
		y = 1 - y
	}
	days, ok = daysSinceEpoch(y, m, d)
	return days, n, ok
}

// parseDate parses DateStyle ISO date output into days since 1970-01-01.
func parseDate(src []byte) (int64, error) {
	switch string(src) {
	case "infinity":
		return sluice.InfinityPos, nil
	case "-infinity":
		return sluice.InfinityNeg, nil
	}
	s, bc := src, hasBC(src)
	if bc {
		s = s[:len(s)-3]
	}
	days, n, ok := datePart(s, bc)
	if !ok || n != len(s) {
		return 0, syntaxErr("date (DateStyle ISO expected)", src)
	}
	return days, nil
}

// parseClock reads "HH:MM:SS[.ffffff]" at the start of s and returns the
// microseconds since midnight, the bytes read and the index of the
// fraction's '.' (or the end of the seconds when there is none). 24:00:00
// is accepted when allow24.
func parseClock(s []byte, allow24 bool) (us int64, n, dot int, ok bool) {
	h, ok1 := parseDigits(s, 0, 2)
	m, ok2 := parseDigits(s, 3, 2)
	sec, ok3 := parseDigits(s, 6, 2)
	if !ok1 || !ok2 || !ok3 || s[2] != ':' || s[5] != ':' || m > 59 || sec > 59 {
		return 0, 0, 0, false
	}
	us = int64(h)*usPerHour + int64(m)*usPerMin + int64(sec)*usPerSec
	n, dot = 8, 8
	if n < len(s) && s[n] == '.' {
		n++
		scale := int64(100_000)
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			if scale == 0 {
				return 0, 0, 0, false // more than 6 digits
			}
			us += int64(s[n]-'0') * scale
			scale /= 10
			n++
		}
		if n == dot+1 {
			return 0, 0, 0, false
		}
	}
	if h > 24 || (h == 24 && (!allow24 || us != usPerDay)) {
		return 0, 0, 0, false
	}
	return us, n, dot, true
}

// parseOffset reads a UTC offset "+hh", "+hh:mm" or "+hh:mm:ss" (or with
// '-') that makes up all of s, in seconds east of UTC.
func parseOffset(s []byte) (int64, bool) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	h, ok := parseDigits(s, 1, 2)
	if !ok {
		return 0, false
	}
	off := int64(h) * 3600
	i := 3
	for _, unit := range [2]int64{60, 1} {
		if i == len(s) {
			break
		}
		v, ok := parseDigits(s, i+1, 2)
		if !ok || s[i] != ':' || v > 59 {
			return 0, false
		}
		off += int64(v) * unit
		i += 3
	}
	if i != len(s) {
		return 0, false
	}
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// appendTimeTZ converts timetz output ("12:34:56.789+02") to UTC and
// appends it as "HH:MM:SS[.fff]Z", keeping exactly the fraction digits
// PostgreSQL sent. The result wraps around midnight.
func appendTimeTZ(dst, src []byte) ([]byte, error) {
	us, n, dot, ok := parseClock(src, true)
	if !ok {
		return dst, syntaxErr("timetz", src)
	}
	off, ok := parseOffset(src[n:])
	if !ok {
		return dst, syntaxErr("timetz", src)
	}
	secs := (us/usPerSec - off) % 86400
	if secs < 0 {
		secs += 86400
	}
	dst = append2(dst, int(secs/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(secs/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(secs%60))
	dst = append(dst, src[dot:n]...) // ".789" or nothing
	return append(dst, 'Z'), nil
}

// append2 appends v (0..99) as two digits.
func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

// parseTimestamp parses DateStyle ISO timestamp or timestamptz output,
// e.g. "2018-06-20 15:13:16.945104", "2018-06-20 17:13:16+02",
// "0044-03-15 12:00:00+00 BC", into microseconds since 1970-01-01 UTC
// (for timestamp: of the wall clock read as UTC).
func parseTimestamp(src []byte, tz bool) (int64, error) {
	switch string(src) {
	case "infinity":
		return sluice.InfinityPos, nil
	case "-infinity":
		return sluice.InfinityNeg, nil
	}
	what := "timestamp (DateStyle ISO expected)"
	if tz {
		what = "timestamptz (DateStyle ISO expected)"
	}
	s, bc := src, hasBC(src)
	if bc {
		s = s[:len(s)-3]
	}
	days, n, ok := datePart(s, bc)
	if !ok || n >= len(s) || s[n] != ' ' {
		return 0, syntaxErr(what, src)
	}
	s = s[n+1:]
	tm, n, _, ok := parseClock(s, false)
	if !ok {
		return 0, syntaxErr(what, src)
	}
	var off int64
	if tz {
		if off, ok = parseOffset(s[n:]); !ok {
			return 0, syntaxErr(what, src)
		}
	} else if n != len(s) {
		return 0, syntaxErr(what, src)
	}
	const maxDays = math.MaxInt64 / usPerDay
	if days > maxDays || days < -maxDays {
		return 0, fmt.Errorf("%w: %s is beyond int64 microseconds since 1970", errRange, src)
	}
	us, ok := add64(days*usPerDay, tm-off*usPerSec)
	if !ok {
		return 0, fmt.Errorf("%w: %s is beyond int64 microseconds since 1970", errRange, src)
	}
	return us, nil
}

func add64(a, b int64) (int64, bool) {
	c := a + b
	if (b > 0 && c < a) || (b < 0 && c > a) {
		return 0, false
	}
	return c, true
}

// Microseconds of a month as Debezium's MicroDuration counts it: 365.25/12
// = 30.4375 days, an exact number of microseconds.
const usPerMonth = 30_4375 * usPerDay / 10_000

// appendInterval parses interval output in IntervalStyle postgres, e.g.
// "1 year 2 mons 3 days 04:05:06.78", "-1 days +02:00:00", "-00:00:00.5"
// (and PostgreSQL 17's "infinity"). It returns the duration in
// microseconds with a month as 30.4375 days (Debezium's MicroDuration,
// computed exactly in integers; saturated to the int64 range, as Java's
// double-to-long cast does) and appends the ISO-8601 form Debezium's
// interval.handling.mode=string writes: every field present, each with
// the sign PostgreSQL gave it, e.g. "P1Y2M3DT4H5M6.78S",
// "P0Y0M-1DT2H0M0S", "P0Y0M0DT-4H-5M-6.78S". The seconds keep exactly the
// digits PostgreSQL sent, without trailing zeros.
func appendInterval(dst, src []byte) (int64, []byte, error) {
	switch string(src) {
	case "infinity":
		return math.MaxInt64, append(dst, src...), nil
	case "-infinity":
		return math.MinInt64, append(dst, src...), nil
	}
	const what = "interval (IntervalStyle postgres expected)"
	var years, mons, days int64
	var hours, mins int64
	var secUS int64            // seconds incl. fraction, in microseconds, unsigned
	var secInt, secFrac []byte // the seconds' digits, for the ISO form
	timeNeg, seen := false, 0
	s := src
	for len(s) > 0 {
		if seen&8 != 0 {
			return 0, dst, syntaxErr(what, src) // nothing follows the time
		}
		// A field is "<int> <unit>" or the time "[+-]H…H:MM:SS[.ffffff]".
		end := 0
		for end < len(s) && s[end] != ' ' {
			end++
		}
		tok := s[:end]
		if colon := indexByte(tok, ':'); colon >= 0 {
			i := 0
			if tok[0] == '-' || tok[0] == '+' {
				timeNeg = tok[0] == '-'
				i = 1
			}
			h, ok := parseInt(tok[i:colon], 0, math.MaxInt64/usPerHour)
			if !ok || colon-i < 2 || len(tok) < colon+6 || tok[colon+3] != ':' {
				return 0, dst, syntaxErr(what, src)
			}
			m, ok1 := parseDigits(tok, colon+1, 2)
			sec, ok2 := parseDigits(tok, colon+4, 2)
			if !ok1 || !ok2 || m > 59 || sec > 59 {
				return 0, dst, syntaxErr(what, src)
			}
			hours, mins = h, int64(m)
			secUS = int64(sec) * usPerSec
			secInt = tok[colon+4 : colon+6]
			if rest := tok[colon+6:]; len(rest) > 0 {
				if rest[0] != '.' || len(rest) < 2 || len(rest) > 7 {
					return 0, dst, syntaxErr(what, src)
				}
				scale := int64(100_000)
				for _, c := range rest[1:] {
					if c < '0' || c > '9' {
						return 0, dst, syntaxErr(what, src)
					}
					secUS += int64(c-'0') * scale
					scale /= 10
				}
				secFrac = rest[1:]
			}
			seen |= 8
			s = s[end:]
		} else {
			n, ok := parseInt(tok, math.MinInt32, math.MaxInt32)
			if !ok || end >= len(s) {
				return 0, dst, syntaxErr(what, src)
			}
			s = s[end+1:]
			uend := 0
			for uend < len(s) && s[uend] != ' ' {
				uend++
			}
			var bit int
			switch string(s[:uend]) {
			case "year", "years":
				years, bit = n, 1
			case "mon", "mons":
				mons, bit = n, 2
			case "day", "days":
				days, bit = n, 4
			default:
				return 0, dst, syntaxErr(what, src)
			}
			if seen >= bit {
				return 0, dst, syntaxErr(what, src) // out of order or repeated
			}
			seen |= bit
			s = s[uend:]
		}
		if len(s) > 0 {
			if s[0] != ' ' || len(s) == 1 {
				return 0, dst, syntaxErr(what, src)
			}
			s = s[1:]
		}
	}
	if seen == 0 {
		return 0, dst, syntaxErr(what, src)
	}

	timeUS := hours*usPerHour + mins*usPerMin + secUS // < MaxInt64 by the hours bound
	if timeNeg {
		timeUS = -timeUS
	}
	us := intervalMicros(years*12+mons, days, timeUS)

	sign := func(dst []byte, v int64) []byte {
		if timeNeg && v != 0 {
			dst = append(dst, '-')
		}
		return strconv.AppendInt(dst, v, 10)
	}
	dst = append(dst, 'P')
	dst = strconv.AppendInt(dst, years, 10)
	dst = append(dst, 'Y')
	dst = strconv.AppendInt(dst, mons, 10)
	dst = append(dst, 'M')
	dst = strconv.AppendInt(dst, days, 10)
	dst = append(dst, 'D', 'T')
	dst = sign(dst, hours)
	dst = append(dst, 'H')
	dst = sign(dst, mins)
	dst = append(dst, 'M')
	if timeNeg && secUS != 0 {
		dst = append(dst, '-')
	}
	if len(secInt) == 2 && secInt[0] == '0' {
		secInt = secInt[1:]
	}
	if len(secInt) == 0 {
		secInt = []byte{'0'}
	}
	dst = append(dst, secInt...)
	for len(secFrac) > 0 && secFrac[len(secFrac)-1] == '0' {
		secFrac = secFrac[:len(secFrac)-1]
	}
	if len(secFrac) > 0 {
		dst = append(dst, '.')
		dst = append(dst, secFrac...)
	}
	return us, append(dst, 'S'), nil
}

// intervalMicros is months*30.4375 days + days + timeUS in microseconds,
// saturated to the int64 range.
func intervalMicros(months, days, timeUS int64) int64 {
	// |months| < 2^32 and usPerMonth < 2^42; the fast path needs
	// products that fit, which covers intervals up to ~290,000 years.
	const lim = math.MaxInt64 / usPerMonth
	if months > -lim && months < lim {
		if a, ok := add64(months*usPerMonth, days*usPerDay); ok {
			if r, ok := add64(a, timeUS); ok {
				return r
			}
		}
	}
	r := new(big.Int).Mul(big.NewInt(months), big.NewInt(usPerMonth))
	r.Add(r, new(big.Int).Mul(big.NewInt(days), big.NewInt(usPerDay)))
	r.Add(r, big.NewInt(timeUS))
	if r.IsInt64() {
		return r.Int64()
	}
	if r.Sign() > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}

func indexByte(s []byte, c byte) int {
	for i, b := range s {
		if b == c {
			return i
		}
	}
	return -1
}

// Arrays.
//
// PostgreSQL's array output is "{1,2,NULL}", with elements double-quoted
// when they are empty, "NULL", or contain braces, quotes, backslashes,
// the delimiter or white space ("{"a b","c\"d",NULL,"NULL"}"), nested
// braces per dimension ("{{1,2},{3,4}}"), and a "[0:1]=" prefix when a
// lower bound is not 1. The decoded Value holds one Elems entry per item
// of the outer braces: for a one-dimensional array the elements, for a
// multi-dimensional one a Value per sub-array (Kind present, Elems set),
// nested like the braces: {{1,2},{3,4}} is [[1,2],[3,4]]. Leaf elements
// never have Elems; sub-arrays always have at least one entry (PostgreSQL
// prints every empty array as "{}"). Bounds are dropped: the first
// element is Elems[0] whatever the lower bound.

// maxArrayDims is PostgreSQL's MAXDIM.
const maxArrayDims = 6

func decodeArray(v *sluice.Value, col *sluice.Column, src []byte) error {
	s := src
	if len(s) > 0 && s[0] == '[' {
		eq := skipBounds(s)
		if eq < 0 {
			return syntaxErr("array bounds", src)
		}
		s = s[eq+1:]
	}
	if len(s) == 2 && s[0] == '{' && s[1] == '}' {
		v.Kind, v.Elems = sluice.KindPresent, []sluice.Value{} // no allocation
		return nil
	}
	delim := byte(',')
	if col.DBType == "_box" { // the only built-in type whose typdelim is not ','
		delim = ';'
	}
	nvals := countArrayValues(s, delim)
	p := arrayParser{src: s, delim: delim, elem: col.Elem, vals: make([]sluice.Value, nvals)}
	if hasBytes(col.Elem) {
		n := len(s)
		if col.Elem == sluice.TypeInterval {
			n += 16 * nvals
		}
		p.arena = make([]byte, 0, n)
	}
	p.skipSpace()
	if err := p.list(v, 0); err != nil {
		return err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return errBadArray
	}
	return nil
}

// skipBounds returns the index of the '=' after "[lb:ub]…" dimension
// decorations, or -1.
func skipBounds(s []byte) int {
	i := 0
	for i < len(s) && s[i] == '[' {
		j := i + 1
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '-' || s[j] == '+' || s[j] == ':') {
			j++
		}
		if j >= len(s) || s[j] != ']' {
			return -1
		}
		i = j + 1
	}
	if i == 0 || i >= len(s) || s[i] != '=' {
		return -1
	}
	return i
}

// countArrayValues returns an upper bound of the Values an array literal
// needs below its top-level Value: one per element or sub-array, i.e. per
// delimiter plus one per non-empty list. Delimiters and braces inside
// quoted elements are counted too: the bound is loose for them, but
// bytes.Count is far faster than a quote-aware scan.
func countArrayValues(s []byte, delim byte) int {
	return bytes.Count(s, []byte{delim}) + bytes.Count(s, []byte{'{'})
}

type arrayParser struct {
	src     []byte
	pos     int
	delim   byte
	elem    sluice.Type
	vals    []sluice.Value // all Values below the top level, carved per list
	used    int
	arena   []byte // all element bytes, carved per element
	scratch []byte // unescaped text of a quoted non-text element
	leaf    int    // elements seen, for error messages
}

func (p *arrayParser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// isSpace matches the white space array_in skips around elements.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// list parses "{…}" at p.pos into *v.
func (p *arrayParser) list(v *sluice.Value, depth int) error {
	if depth >= maxArrayDims {
		return errTooDeep
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '{' {
		return errBadArray
	}
	p.pos++
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] != '{' {
		return p.leaves(v)
	}
	k, ok := p.items()
	if !ok || k > len(p.vals)-p.used {
		return errBadArray
	}
	items := p.vals[p.used : p.used+k : p.used+k]
	p.used += k
	for i := range items {
		p.skipSpace()
		if i > 0 {
			if p.pos >= len(p.src) || p.src[p.pos] != p.delim {
				return errBadArray
			}
			p.pos++
			p.skipSpace()
		}
		var err error
		if p.pos < len(p.src) && p.src[p.pos] == '{' {
			err = p.list(&items[i], depth+1)
		} else {
			err = p.element(&items[i])
		}
		if err != nil {
			return err
		}
	}
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != '}' {
		return errBadArray
	}
	p.pos++
	v.Kind, v.Elems = sluice.KindPresent, items
	return nil
}

// leaves parses the rest of a list of elements (no sub-lists) into *v,
// taking Values from the pool as it goes.
func (p *arrayParser) leaves(v *sluice.Value) error {
	first := p.used
	if p.src[p.pos] != '}' {
		for {
			if p.used == len(p.vals) {
				return errBadArray
			}
			if err := p.element(&p.vals[p.used]); err != nil {
				return err
			}
			p.used++
			p.skipSpace()
			if p.pos >= len(p.src) || p.src[p.pos] != p.delim {
				break
			}
			p.pos++
			p.skipSpace()
		}
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '}' {
		return errBadArray
	}
	p.pos++
	v.Kind, v.Elems = sluice.KindPresent, p.vals[first:p.used:p.used]
	return nil
}

// items counts the items of the list whose content starts at p.pos,
// without moving.
func (p *arrayParser) items() (int, bool) {
	i := p.pos
	for i < len(p.src) && isSpace(p.src[i]) {
		i++
	}
	if i < len(p.src) && p.src[i] == '}' {
		return 0, true
	}
	n, depth, quoted := 1, 0, false
	for ; i < len(p.src); i++ {
		c := p.src[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '\\':
			i++
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				return n, true
			}
			depth--
		case c == p.delim && depth == 0:
			n++
		}
	}
	return 0, false
}

// element parses one quoted or unquoted element at p.pos and decodes it
// into the zero Value *v.
func (p *arrayParser) element(v *sluice.Value) error {
	p.leaf++
	var raw []byte
	escaped := false
	if p.pos < len(p.src) && p.src[p.pos] == '"' {
		start := p.pos + 1
		i := start
		for ; i < len(p.src) && p.src[i] != '"'; i++ {
			if p.src[i] == '\\' {
				escaped = true
				i++
			}
		}
		if i >= len(p.src) {
			return errBadArray
		}
		raw, p.pos = p.src[start:i], i+1
	} else {
		start := p.pos
		i := start
		for ; i < len(p.src); i++ {
			c := p.src[i]
			if c == p.delim || c == '}' {
				break
			}
			if c == '{' || c == '"' {
				return errBadArray
			}
			if c == '\\' {
				escaped = true
				i++
			}
		}
		if i > len(p.src) {
			return errBadArray
		}
		end := i
		for end > start && isSpace(p.src[end-1]) {
			end--
		}
		raw, p.pos = p.src[start:end], i
		if len(raw) == 0 {
			return errBadArray
		}
		if !escaped && len(raw) == 4 && (raw[0]|0x20) == 'n' && (raw[1]|0x20) == 'u' && (raw[2]|0x20) == 'l' && (raw[3]|0x20) == 'l' {
			return nil // KindNull
		}
	}
	var err error
	switch {
	case !escaped:
		p.arena, err = decodeInto(v, p.elem, raw, p.arena)
	case p.elem == sluice.TypeText || p.elem == sluice.TypeJSON || p.elem == sluice.TypeXML || p.elem == sluice.TypeEnum:
		start := len(p.arena)
		p.arena = unescape(p.arena, raw)
		setBytes(v, p.arena, start)
	default:
		p.scratch = unescape(p.scratch[:0], raw)
		p.arena, err = decodeInto(v, p.elem, p.scratch, p.arena)
	}
	if err != nil {
		return fmt.Errorf("array element %d: %w", p.leaf, err)
	}
	return nil
}

// unescape appends raw with each backslash escape replaced by the byte it
// protects.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) {
			i++
		}
		dst = append(dst, raw[i])
	}
	return dst
}
