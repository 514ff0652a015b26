package mysql

import (
	"strings"
	"unicode/utf8"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
	"golang.org/x/text/transform"

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

// kindName is the MySQL type family name written into Column.DBType.
var kindName = [...]string{kInt: "int", kUint: "int unsigned", kUint64: "bigint unsigned", kDecimal: "decimal",
	kFloat: "float", kDouble: "double", kBit: "bit", kText: "text", kBinary: "blob", kJSON: "json", kEnum: "enum",
	kSet: "set", kDate: "date", kTime: "time", kDatetime: "datetime", kTimestamp: "timestamp", kYear: "year",
	kGeometry: "geometry"}

// colInfo is what converting a column's values needs beyond sluice.Column.
type colInfo struct {
	kind    kind
	bits    int               // BIT width
	dec     *encoding.Decoder // charset → UTF-8 for non-UTF-8 text; nil when none is needed
	labels  []string          // ENUM / SET labels
	notNull bool              // zero dates in NOT NULL columns become def or the epoch, else null
	// def is the column's default (sluice.Column.Default), which a zero
	// date in a NOT NULL column becomes.
	def sluice.Value
	// pad is the length of a BINARY(n) column read from the binlog, which
	// drops the trailing zero bytes the column stores (a snapshot reads
	// them): values are padded back to it, as Debezium writes them. 0:
	// no padding.
	pad int
	// wire and meta are the column's type in a row image and its table
	// map metadata (rowimage.go); zero for a relation read from the
	// information schema.
	wire byte
	meta uint16
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
	// fixed is the byte length of a binlog MYSQL_TYPE_STRING column
	// (CHAR, BINARY); 0 for other types and the information schema.
	fixed int
	// point marks a POINT column among the geometries: Debezium writes
	// it as io.debezium.data.geometry.Point, the others as Geometry.
	point bool
}

// columnFor builds the sluice column of a MySQL column and what
// converting its values needs.
func columnFor(name string, t colType, nullable bool) (sluice.Column, colInfo) {
	k := t.kind
	if k == kInt && t.unsigned {
		k = kUint
		if t.width == 8 {
			k = kUint64 // beyond int64: a decimal
		}
	}
	c := sluice.Column{Name: name, DBType: kindName[k], Optional: nullable, Scale: -1, Enum: t.labels}
	var pad int
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
		c.Type, pad = sluice.TypeBytes, t.fixed
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
		if t.point {
			c.DBType = "point" // the codec's Point
		}
	}
	return c, colInfo{kind: k, bits: t.bits, dec: t.dec, labels: t.labels, notNull: !nullable, pad: pad}
}

// setDefault sets the default of column c (ci its conversion) from the
// text of its literal default (refinements.defaults). Only DATE,
// DATETIME and character columns get one: the types whose default
// Debezium's recording shows (a DATE's days, a DATETIME's instant, a
// VARCHAR's text), converted as their values are. A default that does
// not convert (a zero date, an expression) leaves the column without.
func setDefault(c *sluice.Column, ci *colInfo, lit string) {
	var v sluice.Value
	switch ci.kind {
	case kDate:
		days, err := parseDate([]byte(lit))
		if err != nil {
			return
		}
		v.Int = days
	case kDatetime:
		us, err := parseDatetime([]byte(lit))
		if err != nil {
			return
		}
		v.Int = us
	case kText:
		v.Bytes = []byte(lit)
	default:
		return
	}
	v = present(v)
	c.Default, ci.def = v, v
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

// typeOf maps a binlog column type and its metadata onto a colType. For
// MYSQL_TYPE_STRING the real type (ENUM, SET, CHAR) is in the metadata
// (wireOf).
func typeOf(tm *replication.TableMapEvent, i int) colType {
	meta := tm.ColumnMeta[i]
	t := wireOf(tm.ColumnType[i], meta)
	switch t {
	case mysql.MYSQL_TYPE_TINY:
		return colType{kind: kInt, width: 1}
	case mysql.MYSQL_TYPE_SHORT:
		return colType{kind: kInt, width: 2}
	case mysql.MYSQL_TYPE_INT24:
		return colType{kind: kInt, width: 3}
	case mysql.MYSQL_TYPE_LONG:
		return colType{kind: kInt, width: 4}
	case mysql.MYSQL_TYPE_LONGLONG:
		return colType{kind: kInt, width: 8}
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		return colType{kind: kDecimal, prec: int(meta >> 8), scale: int(meta & 0xff)}
	case mysql.MYSQL_TYPE_FLOAT:
		return colType{kind: kFloat}
	case mysql.MYSQL_TYPE_DOUBLE:
		return colType{kind: kDouble}
	case mysql.MYSQL_TYPE_BIT:
		return colType{kind: kBit, bits: int(meta>>8)*8 + int(meta&0xff)}
	case mysql.MYSQL_TYPE_TIMESTAMP:
		return colType{kind: kTimestamp}
	case mysql.MYSQL_TYPE_TIMESTAMP2:
		return colType{kind: kTimestamp, fsp: int(meta)}
	case mysql.MYSQL_TYPE_DATETIME:
		return colType{kind: kDatetime}
	case mysql.MYSQL_TYPE_DATETIME2:
		return colType{kind: kDatetime, fsp: int(meta)}
	case mysql.MYSQL_TYPE_TIME:
		return colType{kind: kTime}
	case mysql.MYSQL_TYPE_TIME2:
		return colType{kind: kTime, fsp: int(meta)}
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		return colType{kind: kDate}
	case mysql.MYSQL_TYPE_YEAR:
		return colType{kind: kYear}
	case mysql.MYSQL_TYPE_ENUM:
		return colType{kind: kEnum}
	case mysql.MYSQL_TYPE_SET:
		return colType{kind: kSet}
	case mysql.MYSQL_TYPE_JSON:
		return colType{kind: kJSON}
	case mysql.MYSQL_TYPE_GEOMETRY:
		return colType{kind: kGeometry}
	}
	if t == mysql.MYSQL_TYPE_STRING {
		return colType{kind: kText, fixed: stringLength(meta)}
	}
	// VARCHAR, VAR_STRING, BLOB: text or binary by character set.
	return colType{kind: kText}
}

// stringLength is the byte length of a MYSQL_TYPE_STRING column from its
// table map metadata: the real type's byte, whose bits 4 and 5 (stored
// inverted) extend the length byte beyond 255, then the length's low byte.
func stringLength(meta uint16) int {
	if meta < 256 {
		return int(meta)
	}
	b0, b1 := byte(meta>>8), byte(meta)
	if b0&0x30 != 0x30 {
		return int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
	}
	return int(b1)
}

// schemaType maps an information-schema DATA_TYPE onto a colType.
func schemaType(dataType string) colType {
	switch dataType {
	case "tinyint":
		return colType{kind: kInt, width: 1}
	case "smallint":
		return colType{kind: kInt, width: 2}
	case "mediumint":
		return colType{kind: kInt, width: 3}
	case "int", "integer":
		return colType{kind: kInt, width: 4}
	case "bigint":
		return colType{kind: kInt, width: 8}
	case "decimal", "numeric":
		return colType{kind: kDecimal}
	case "float":
		return colType{kind: kFloat}
	case "double", "real":
		return colType{kind: kDouble}
	case "bit":
		return colType{kind: kBit}
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return colType{kind: kBinary}
	case "json":
		return colType{kind: kJSON}
	case "enum":
		return colType{kind: kEnum}
	case "set":
		return colType{kind: kSet}
	case "date":
		return colType{kind: kDate}
	case "time":
		return colType{kind: kTime}
	case "datetime":
		return colType{kind: kDatetime}
	case "timestamp":
		return colType{kind: kTimestamp}
	case "year":
		return colType{kind: kYear}
	case "point":
		return colType{kind: kGeometry, point: true}
	case "geometry", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		return colType{kind: kGeometry}
	}
	return colType{kind: kText} // char, varchar, the text types and anything else
}

// parseLabels reads the labels of enum('a','b”c') or set(…).
func parseLabels(columnType string) []string {
	open := strings.IndexByte(columnType, '(')
	if open < 0 {
		return nil
	}
	s := columnType[open+1:]
	var out []string
	for len(s) > 0 && s[0] == '\'' {
		var b strings.Builder
		i := 1
		for i < len(s) {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					b.WriteByte('\'')
					i += 2
					continue
				}
				break
			}
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			b.WriteByte(s[i])
			i++
		}
		out = append(out, b.String())
		s = s[min(i+1, len(s)):]
		s = strings.TrimPrefix(s, ",")
	}
	return out
}

// decoderFor returns the converter of a MySQL character set to UTF-8;
// nil for the UTF-8 sets, ASCII and sets sluice passes through as is.
func decoderFor(charset string) *encoding.Decoder {
	var e encoding.Encoding
	switch strings.ToLower(charset) {
	case "latin1":
		return &encoding.Decoder{Transformer: latin1Decoder{}}
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

// mysqlLatin1 maps the bytes of MySQL's latin1 to runes: cp1252, except
// that its five unassigned bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) are the C1
// controls of the same number, as MySQL converts them (charmap.Windows1252
// would make them U+FFFD), so a snapshot read, which the server converts,
// and the binlog's bytes give the same text.
var mysqlLatin1 = func() (m [256]rune) {
	for i := range m {
		m[i] = charmap.Windows1252.DecodeByte(byte(i))
	}
	for _, b := range []byte{0x81, 0x8d, 0x8f, 0x90, 0x9d} {
		m[b] = rune(b)
	}
	return m
}()

// latin1Decoder decodes MySQL's latin1 (mysqlLatin1) to UTF-8.
type latin1Decoder struct{ transform.NopResetter }

func (latin1Decoder) Transform(dst, src []byte, _ bool) (nDst, nSrc int, err error) {
	for ; nSrc < len(src); nSrc++ {
		r := mysqlLatin1[src[nSrc]]
		if r < utf8.RuneSelf {
			if nDst >= len(dst) {
				return nDst, nSrc, transform.ErrShortDst
			}
			dst[nDst] = byte(r)
			nDst++
			continue
		}
		if nDst+utf8.RuneLen(r) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += utf8.EncodeRune(dst[nDst:], r)
	}
	return nDst, nSrc, nil
}
