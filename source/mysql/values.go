package mysql

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-mysql-org/go-mysql/mysql"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"

	"github.com/sluice-cdc/sluice"
)

// kind is the MySQL column type family a value is converted by; the
// binlog and the information schema both map onto it, so a snapshot read
// and a streamed change of one row encode alike.
type kind uint8

const (
	kInt       kind = iota // TINYINT … BIGINT, signed
	kUint                  // TINYINT … INT UNSIGNED
	kUint64                // BIGINT UNSIGNED (exceeds int64: a decimal)
	kDecimal               // DECIMAL / NUMERIC
	kFloat                 // FLOAT
	kDouble                // DOUBLE
	kBit                   // BIT(n)
	kText                  // CHAR, VARCHAR, TEXT in a character set
	kBinary                // BINARY, VARBINARY, BLOB
	kJSON                  // JSON (MySQL binary JSON, or MariaDB's checked LONGTEXT)
	kEnum                  // ENUM
	kSet                   // SET
	kDate                  // DATE
	kTime                  // TIME
	kDatetime              // DATETIME: a zone-less wall clock
	kTimestamp             // TIMESTAMP: an instant, kept in UTC
	kYear                  // YEAR
	kGeometry              // GEOMETRY and its subtypes: SRID + WKB
)

// colInfo is what converting a column's values needs beyond sluice.Column.
type colInfo struct {
	kind    kind
	bits    int               // BIT width
	dec     *encoding.Decoder // charset → UTF-8 for non-UTF-8 text; nil when none is needed
	labels  []string          // ENUM / SET labels
	notNull bool              // zero dates in NOT NULL columns become the epoch, else null
}

// colType is a MySQL column type as the binlog's table map or the
// information schema describes it.
type colType struct {
	kind     kind
	width    int // bytes of an integer type: 1 TINYINT … 8 BIGINT
	unsigned bool
	fsp      int // fractional second precision of time types
	prec     int // decimal precision
	scale    int // decimal scale
	bits     int // BIT width
	labels   []string
	dec      *encoding.Decoder // character set → UTF-8 of text; nil when none is needed
}

// newColumn builds the sluice column of a MySQL column and what
// converting its values needs.
func newColumn(name string, t colType, nullable bool) (sluice.Column, colInfo) {
	k := t.kind
	if k == kInt && t.unsigned {
		k = kUint
		if t.width == 8 {
			k = kUint64 // beyond int64: a decimal
		}
	}
	c := sluice.Column{Name: name, DBType: kindName[k], Optional: nullable, Scale: -1, Enum: t.labels}
	switch k {
	case kInt, kUint:
		c.Type = intType(t.width, k == kUint)
	case kUint64:
		c.Type, c.Scale, c.Length = sluice.TypeDecimal, 0, 20
	case kDecimal:
		c.Type, c.Scale, c.Length = sluice.TypeDecimal, t.scale, t.prec
	case kFloat:
		c.Type = sluice.TypeFloat32
	case kDouble:
		c.Type = sluice.TypeFloat64
	case kBit:
		if t.bits == 1 {
			c.Type, c.Length = sluice.TypeBit, 1
		} else {
			c.Type, c.Length = sluice.TypeBits, t.bits
		}
	case kText:
		c.Type = sluice.TypeText
	case kBinary:
		c.Type = sluice.TypeBytes
	case kJSON:
		c.Type = sluice.TypeJSON
	case kEnum:
		c.Type = sluice.TypeEnum
	case kSet:
		c.Type = sluice.TypeSet
	case kDate:
		c.Type = sluice.TypeDate
	case kTime:
		c.Type, c.Scale = sluice.TypeTime, t.fsp
	case kDatetime:
		c.Type, c.Scale = sluice.TypeTimestamp, t.fsp
	case kTimestamp:
		c.Type, c.Scale = sluice.TypeTimestampTZ, t.fsp
	case kYear:
		c.Type = sluice.TypeYear
	case kGeometry:
		c.Type = sluice.TypeGeometry
	}
	return c, colInfo{kind: k, bits: t.bits, dec: t.dec, labels: t.labels, notNull: !nullable}
}

// intType is Debezium's Connect type for an integer of the given byte
// width: TINYINT and SMALLINT are INT16, MEDIUMINT and INT INT32, BIGINT
// INT64; an unsigned column gets the next wider type.
func intType(width int, unsigned bool) sluice.Type {
	switch {
	case width <= 1:
		return sluice.TypeInt16
	case width == 2 && !unsigned:
		return sluice.TypeInt16
	case width <= 3 || width == 4 && !unsigned:
		return sluice.TypeInt32
	}
	return sluice.TypeInt64
}

// decoderFor returns the converter of a MySQL character set to UTF-8;
// nil for the UTF-8 sets, ASCII and sets sluice passes through as is.
func decoderFor(charset string) *encoding.Decoder {
	var e encoding.Encoding
	switch strings.ToLower(charset) {
	case "latin1":
		e = charmap.Windows1252 // MySQL's latin1 is cp1252
	case "latin2":
		e = charmap.ISO8859_2
	case "cp1250":
		e = charmap.Windows1250
	case "cp1251":
		e = charmap.Windows1251
	case "cp1256":
		e = charmap.Windows1256
	case "cp1257":
		e = charmap.Windows1257
	case "greek":
		e = charmap.ISO8859_7
	case "hebrew":
		e = charmap.ISO8859_8
	case "latin5":
		e = charmap.ISO8859_9
	case "latin7":
		e = charmap.ISO8859_13
	case "koi8r":
		e = charmap.KOI8R
	case "koi8u":
		e = charmap.KOI8U
	case "cp850":
		e = charmap.CodePage850
	case "cp866":
		e = charmap.CodePage866
	case "ucs2", "utf16":
		e = unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	case "utf16le":
		e = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case "utf32":
		e = utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)
	default:
		return nil
	}
	return e.NewDecoder()
}

func present(v sluice.Value) sluice.Value { v.Kind = sluice.KindPresent; return v }

var errZero = errors.New("zero date")

// fromBinlog converts a value as go-mysql decodes it from a row image.
func (ci *colInfo) fromBinlog(c *sluice.Column, v any) (sluice.Value, error) {
	if v == nil {
		return sluice.Value{}, nil
	}
	switch ci.kind {
	case kInt, kUint, kYear:
		var i int64
		switch x := v.(type) {
		case int8:
			i = int64(x)
			if ci.kind == kUint {
				i = int64(uint8(x))
			}
		case int16:
			i = int64(x)
			if ci.kind == kUint {
				i = int64(uint16(x))
			}
		case int32:
			i = int64(x)
			if ci.kind == kUint {
				if c.Type == sluice.TypeInt32 { // MEDIUMINT UNSIGNED: 24 bits
					i = int64(uint32(x) & 0xffffff)
				} else {
					i = int64(uint32(x))
				}
			}
		case int64:
			i = x
		case int:
			i = int64(x)
		default:
			return sluice.Value{}, fmt.Errorf("unexpected %T for an integer", v)
		}
		return present(sluice.Value{Int: i}), nil
	case kUint64:
		x, ok := v.(int64)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for BIGINT UNSIGNED", v)
		}
		return present(sluice.Value{Bytes: strconv.AppendUint(nil, uint64(x), 10)}), nil
	case kDecimal:
		s, ok := v.(string)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for DECIMAL", v)
		}
		return present(sluice.Value{Bytes: []byte(s)}), nil
	case kFloat:
		x, ok := v.(float32)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for FLOAT", v)
		}
		return present(sluice.Value{Float: float64(x)}), nil
	case kDouble:
		x, ok := v.(float64)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for DOUBLE", v)
		}
		return present(sluice.Value{Float: x}), nil
	case kBit:
		x, ok := v.(int64)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for BIT", v)
		}
		return ci.bitValue(uint64(x)), nil
	case kEnum:
		x, ok := v.(int64)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for ENUM", v)
		}
		if x == 0 { // the empty string MySQL stores for an invalid label
			return present(sluice.Value{Bytes: []byte{}}), nil
		}
		if int(x) > len(ci.labels) {
			return sluice.Value{}, fmt.Errorf("ENUM index %d beyond its %d labels", x, len(ci.labels))
		}
		return present(sluice.Value{Bytes: []byte(ci.labels[x-1])}), nil
	case kSet:
		x, ok := v.(int64)
		if !ok {
			return sluice.Value{}, fmt.Errorf("unexpected %T for SET", v)
		}
		var b []byte
		for i, l := range ci.labels {
			if x&(1<<i) != 0 {
				if len(b) > 0 {
					b = append(b, ',')
				}
				b = append(b, l...)
			}
		}
		if b == nil {
			b = []byte{}
		}
		return present(sluice.Value{Bytes: b}), nil
	}
	// The rest arrive as text or bytes.
	var b []byte
	switch x := v.(type) {
	case string:
		b = []byte(x)
	case []byte:
		b = append([]byte{}, x...) // may alias the event buffer
	default:
		return sluice.Value{}, fmt.Errorf("unexpected %T for a %s column", v, c.Type)
	}
	return ci.fromText(b)
}

// fromField converts a value of a text-protocol result row (snapshots).
func (ci *colInfo) fromField(c *sluice.Column, f *mysql.FieldValue) (sluice.Value, error) {
	switch f.Type {
	case mysql.FieldValueTypeNull:
		return sluice.Value{}, nil
	case mysql.FieldValueTypeSigned:
		if ci.kind == kUint64 {
			return present(sluice.Value{Bytes: strconv.AppendInt(nil, f.AsInt64(), 10)}), nil
		}
		return present(sluice.Value{Int: f.AsInt64()}), nil
	case mysql.FieldValueTypeUnsigned:
		if ci.kind == kUint64 {
			return present(sluice.Value{Bytes: strconv.AppendUint(nil, f.AsUint64(), 10)}), nil
		}
		return present(sluice.Value{Int: int64(f.AsUint64())}), nil
	case mysql.FieldValueTypeFloat:
		if ci.kind == kFloat {
			return present(sluice.Value{Float: float64(float32(f.AsFloat64()))}), nil
		}
		return present(sluice.Value{Float: f.AsFloat64()}), nil
	}
	b := append([]byte{}, f.AsString()...) // the row buffer is reused
	switch ci.kind {
	case kInt, kUint, kYear:
		i, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return sluice.Value{}, fmt.Errorf("integer %q: %w", b, err)
		}
		return present(sluice.Value{Int: i}), nil
	case kUint64, kDecimal:
		return present(sluice.Value{Bytes: b}), nil
	case kFloat, kDouble:
		x, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return sluice.Value{}, fmt.Errorf("float %q: %w", b, err)
		}
		if ci.kind == kFloat {
			x = float64(float32(x))
		}
		return present(sluice.Value{Float: x}), nil
	case kBit:
		var x uint64
		for _, c := range b { // big-endian bytes
			x = x<<8 | uint64(c)
		}
		return ci.bitValue(x), nil
	case kEnum, kSet:
		return present(sluice.Value{Bytes: b}), nil
	case kText, kJSON:
		// The session's character set is utf8mb4: the server converted.
		return present(sluice.Value{Bytes: b}), nil
	}
	return ci.parse(b)
}

// fromText converts text or bytes from a row image: character data is
// still in the column's character set.
func (ci *colInfo) fromText(b []byte) (sluice.Value, error) {
	switch ci.kind {
	case kText, kJSON:
		if ci.dec != nil {
			out, err := ci.dec.Bytes(b)
			if err != nil {
				return sluice.Value{}, fmt.Errorf("convert to UTF-8: %w", err)
			}
			b = out
		}
		if !utf8.Valid(b) {
			b = []byte(strings.ToValidUTF8(string(b), "\uFFFD"))
		}
		return present(sluice.Value{Bytes: b}), nil
	}
	return ci.parse(b)
}

// parse handles the kinds whose text form the binlog decoder and the
// text protocol share.
func (ci *colInfo) parse(b []byte) (sluice.Value, error) {
	switch ci.kind {
	case kBinary:
		return present(sluice.Value{Bytes: b}), nil
	case kGeometry:
		if len(b) < 4 {
			return sluice.Value{}, fmt.Errorf("geometry of %d bytes has no SRID", len(b))
		}
		return present(sluice.Value{Int: int64(binary.LittleEndian.Uint32(b)), Bytes: b[4:]}), nil
	case kDate:
		days, err := parseDate(b)
		if err == errZero {
			return ci.zero(), nil
		}
		if err != nil {
			return sluice.Value{}, err
		}
		return present(sluice.Value{Int: days}), nil
	case kDatetime, kTimestamp:
		us, err := parseDatetime(b)
		if err == errZero {
			return ci.zero(), nil
		}
		if err != nil {
			return sluice.Value{}, err
		}
		return present(sluice.Value{Int: us}), nil
	case kTime:
		us, err := parseTime(b)
		if err != nil {
			return sluice.Value{}, err
		}
		return present(sluice.Value{Int: us}), nil
	}
	return present(sluice.Value{Bytes: b}), nil
}

// zero is what a zero date becomes: null, or the epoch in a NOT NULL
// column, as Debezium does.
func (ci *colInfo) zero() sluice.Value {
	if ci.notNull {
		return present(sluice.Value{})
	}
	return sluice.Value{}
}

// bitValue stores BIT(1) as a boolean and wider BITs as Debezium's
// io.debezium.data.Bits: the bytes little-endian.
func (ci *colInfo) bitValue(x uint64) sluice.Value {
	if ci.bits <= 1 {
		return present(sluice.Value{Int: int64(x & 1)})
	}
	n := (ci.bits + 7) / 8
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(x >> (8 * i))
	}
	return present(sluice.Value{Int: int64(ci.bits), Bytes: b})
}

// digits parses a fixed-width run of decimal digits.
func digits(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysFromCivil counts days from 1970-01-01 to y-m-d (proleptic
// Gregorian), Howard Hinnant's algorithm.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// parseDate parses YYYY-MM-DD into days since the epoch; a date with a
// zero year, month or day part is errZero.
func parseDate(b []byte) (int64, error) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", b)
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", b)
	}
	if m == 0 || d == 0 {
		return 0, errZero
	}
	if m > 12 || d > 31 {
		return 0, fmt.Errorf("date %q out of range", b)
	}
	return daysFromCivil(y, m, d), nil
}

// parseFraction parses ".ffffff" (1 to 6 digits) into microseconds.
func parseFraction(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if b[0] != '.' || len(b) > 7 || len(b) < 2 {
		return 0, fmt.Errorf("fraction %q", b)
	}
	f, ok := digits(b[1:])
	if !ok {
		return 0, fmt.Errorf("fraction %q", b)
	}
	for i := len(b) - 1; i < 6; i++ {
		f *= 10
	}
	return int64(f), nil
}

// parseDatetime parses YYYY-MM-DD HH:MM:SS[.ffffff] as a wall clock read
// in UTC, in microseconds since the epoch.
func parseDatetime(b []byte) (int64, error) {
	if len(b) < 19 || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return 0, fmt.Errorf("datetime %q is not YYYY-MM-DD HH:MM:SS", b)
	}
	days, err := parseDate(b[:10])
	if err != nil {
		return 0, err
	}
	h, ok1 := digits(b[11:13])
	mi, ok2 := digits(b[14:16])
	s, ok3 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("datetime %q is not YYYY-MM-DD HH:MM:SS", b)
	}
	frac, err := parseFraction(b[19:])
	if err != nil {
		return 0, fmt.Errorf("datetime %q: %w", b, err)
	}
	return (days*86400+int64(h*3600+mi*60+s))*1_000_000 + frac, nil
}

// parseTime parses [-]HHH:MM:SS[.ffffff] (MySQL TIME spans ±838:59:59)
// into signed microseconds.
func parseTime(b []byte) (int64, error) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	c1 := strings.IndexByte(string(b), ':')
	if c1 < 1 || len(b) < c1+6 || b[c1+3] != ':' {
		return 0, fmt.Errorf("time %q is not HH:MM:SS", b)
	}
	h, ok1 := digits(b[:c1])
	m, ok2 := digits(b[c1+1 : c1+3])
	s, ok3 := digits(b[c1+4 : c1+6])
	if !ok1 || !ok2 || !ok3 {
		return 0, fmt.Errorf("time %q is not HH:MM:SS", b)
	}
	frac, err := parseFraction(b[c1+6:])
	if err != nil {
		return 0, fmt.Errorf("time %q: %w", b, err)
	}
	us := int64(h*3600+m*60+s)*1_000_000 + frac
	if neg {
		us = -us
	}
	return us, nil
}
