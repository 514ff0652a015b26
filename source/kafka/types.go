package kafka

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice"
)

// The types of a change event's columns come back from its Connect
// schema (JSON with schemas, or Avro's connect.* properties): the Connect
// type and the logical name Debezium gives it (io.debezium.time.Date, …)
// say what sluice.Type the column had at the source, so a sink such as
// Elasticsearch writes a date as a date whether it got the row from the
// database or from a topic. Without a schema the type is guessed from the
// JSON value (see inferColumn).

// Connect's primitive types, as JSON schemas and Avro's connect.type name
// them.
const (
	connInt8    = "int8"
	connInt16   = "int16"
	connInt32   = "int32"
	connInt64   = "int64"
	connFloat32 = "float"
	connFloat64 = "double"
	connBool    = "boolean"
	connString  = "string"
	connBytes   = "bytes"
	connStruct  = "struct"
	connArray   = "array"
	connMap     = "map"
)

// timeUnit says how a time column's integer is scaled into sluice's
// microseconds (Column.Length of a time type is not used by sluice, so
// the unit travels in unitOf instead).
type timeUnit int8

const (
	unitNone  timeUnit = iota
	unitMilli          // io.debezium.time.Timestamp, Time; Connect's Timestamp, Time
	unitMicro
	unitNano
)

// column is a decoded column: the sluice column plus how its wire values
// are scaled. Elem describes an array's elements; Fields a struct's.
type column struct {
	sluice.Column
	unit   timeUnit
	elem   *column  // TypeArray: the element
	fields []column // TypeStruct (and the Debezium structs below): the fields
	// special is a Debezium struct that stands for one value.
	special special
	// unknown marks a column guessed (without a schema) from null
	// values only: its type is text until a value says otherwise.
	unknown bool
}

type special uint8

const (
	specialNone     special = iota
	specialVarScale         // io.debezium.data.VariableScaleDecimal {scale, value}
	specialGeometry         // io.debezium.data.geometry.* {wkb, srid}
)

// logical is what a logical name without parameters says of a column.
type logical struct {
	typ     sluice.Type
	unit    timeUnit
	scale   int // Column.Scale; 0 leaves it unconstrained (-1)
	special special
}

// logicalTypes are Debezium's and Connect's logical names whose column
// needs no parameter (Enum, EnumSet, Bits and Decimal read theirs in
// connectColumn).
var logicalTypes = map[string]logical{
	"io.debezium.time.Date":                   {typ: sluice.TypeDate},
	"org.apache.kafka.connect.data.Date":      {typ: sluice.TypeDate},
	"io.debezium.time.Time":                   {typ: sluice.TypeTime, unit: unitMilli},
	"org.apache.kafka.connect.data.Time":      {typ: sluice.TypeTime, unit: unitMilli},
	"io.debezium.time.MicroTime":              {typ: sluice.TypeTime, unit: unitMicro},
	"io.debezium.time.NanoTime":               {typ: sluice.TypeTime, unit: unitNano},
	"io.debezium.time.Timestamp":              {typ: sluice.TypeTimestamp, unit: unitMilli, scale: 3},
	"org.apache.kafka.connect.data.Timestamp": {typ: sluice.TypeTimestamp, unit: unitMilli, scale: 3},
	"io.debezium.time.MicroTimestamp":         {typ: sluice.TypeTimestamp, unit: unitMicro, scale: 6},
	"io.debezium.time.NanoTimestamp":          {typ: sluice.TypeTimestamp, unit: unitNano},
	"io.debezium.time.ZonedTimestamp":         {typ: sluice.TypeTimestampTZ},
	"io.debezium.time.ZonedTime":              {typ: sluice.TypeTimeTZ},
	"io.debezium.time.MicroDuration":          {typ: sluice.TypeInterval, unit: unitMicro},
	"io.debezium.time.Interval":               {typ: sluice.TypeInterval},
	"io.debezium.time.Year":                   {typ: sluice.TypeYear},
	"io.debezium.data.Uuid":                   {typ: sluice.TypeUUID},
	"io.debezium.data.Json":                   {typ: sluice.TypeJSON},
	"io.debezium.data.Xml":                    {typ: sluice.TypeXML},
	"io.debezium.data.VariableScaleDecimal":   {typ: sluice.TypeDecimal, special: specialVarScale},
	"io.debezium.data.geometry.Geometry":      {typ: sluice.TypeGeometry, special: specialGeometry},
	"io.debezium.data.geometry.Point":         {typ: sluice.TypeGeometry, special: specialGeometry},
	"io.debezium.data.geometry.Geography":     {typ: sluice.TypeGeometry, special: specialGeometry},
}

// connectColumn maps a Connect schema (type, logical name, parameters)
// to a column. params may be nil.
func connectColumn(name, typ, logical string, params func(string) string, optional bool) column {
	c := column{Column: sluice.Column{Name: name, Optional: optional, Scale: -1}}
	param := func(k string) string {
		if params == nil {
			return ""
		}
		return params(k)
	}
	c.DBType = logical
	if l, ok := logicalTypes[logical]; ok {
		c.Type, c.unit, c.special = l.typ, l.unit, l.special
		if l.scale != 0 {
			c.Scale = l.scale
		}
		return c
	}
	switch logical {
	case "io.debezium.data.Enum":
		c.Type = sluice.TypeEnum
		if a := param("allowed"); a != "" {
			c.Enum = strings.Split(a, ",")
		}
		return c
	case "io.debezium.data.EnumSet":
		c.Type = sluice.TypeSet
		if a := param("allowed"); a != "" {
			c.Enum = strings.Split(a, ",")
		}
		return c
	case "io.debezium.data.Bits":
		c.Type = sluice.TypeBits
		c.Length, _ = strconv.Atoi(param("length"))
		return c
	case "org.apache.kafka.connect.data.Decimal":
		c.Type = sluice.TypeDecimal
		if s, err := strconv.Atoi(param("scale")); err == nil {
			c.Scale = s
		}
		c.Length, _ = strconv.Atoi(param("connect.decimal.precision"))
		return c
	}
	c.DBType = ""
	switch typ {
	case connInt8, connInt16:
		c.Type = sluice.TypeInt16
	case connInt32:
		c.Type = sluice.TypeInt32
	case connInt64:
		c.Type = sluice.TypeInt64
	case connFloat32:
		c.Type = sluice.TypeFloat32
	case connFloat64:
		c.Type = sluice.TypeFloat64
	case connBool:
		c.Type = sluice.TypeBool
	case connBytes:
		c.Type = sluice.TypeBytes
	case connArray:
		c.Type = sluice.TypeArray
	case connStruct:
		c.Type, c.DBType = sluice.TypeStruct, logical
	default: // string, map and anything newer: text (maps are kept as JSON text)
		c.Type = sluice.TypeText
		if typ == connMap {
			c.Type = sluice.TypeJSON
		}
	}
	return c
}

// setElem makes c an array of elem.
func (c *column) setElem(elem column) {
	c.elem = &elem
	c.Elem = elem.Type
}

// setFields gives a struct column its fields (also for the Debezium
// structs that stand for one value).
func (c *column) setFields(fs []column) {
	c.fields = fs
	if c.Type == sluice.TypeStruct {
		c.Fields = make([]sluice.Column, len(fs))
		for i := range fs {
			c.Fields[i] = fs[i].Column
		}
	}
}

// The int32 days io.debezium.time.Date carries for PostgreSQL's date
// infinity and -infinity.
const (
	dateInfinity      = -2147472692
	dateMinusInfinity = -2147472691
)

// fromInt converts an integer wire value.
func fromInt(c *column, n int64) (sluice.Value, error) {
	switch c.Type {
	case sluice.TypeTime, sluice.TypeTimestamp, sluice.TypeInterval:
		switch c.unit {
		case unitMilli:
			if n == sluice.InfinityPos || n == sluice.InfinityNeg {
				return sluice.Value{Kind: sluice.KindPresent, Int: n}, nil
			}
			n *= 1000
		case unitNano:
			n /= 1000
		}
	case sluice.TypeDate:
		// PostgreSQL's date infinity and -infinity, as Debezium streams
		// them (DATEVAL_NOEND/NOBEGIN moved to the Unix epoch in int32):
		// no real date is that far out.
		switch n {
		case dateInfinity:
			n = sluice.InfinityPos
		case dateMinusInfinity:
			n = sluice.InfinityNeg
		}
	case sluice.TypeBool:
		if n != 0 {
			n = 1
		}
	case sluice.TypeFloat32, sluice.TypeFloat64:
		return sluice.Value{Kind: sluice.KindPresent, Float: float64(n)}, nil
	case sluice.TypeText, sluice.TypeDecimal:
		return sluice.Value{Kind: sluice.KindPresent, Bytes: strconv.AppendInt(nil, n, 10)}, nil
	}
	return sluice.Value{Kind: sluice.KindPresent, Int: n}, nil
}

// fromFloat converts a floating-point wire value.
func fromFloat(c *column, f float64) (sluice.Value, error) {
	switch c.Type {
	case sluice.TypeFloat32, sluice.TypeFloat64:
		return sluice.Value{Kind: sluice.KindPresent, Float: f}, nil
	case sluice.TypeDecimal, sluice.TypeText:
		return sluice.Value{Kind: sluice.KindPresent, Bytes: strconv.AppendFloat(nil, f, 'f', -1, 64)}, nil
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<62 {
		return fromInt(c, int64(f))
	}
	return sluice.Value{}, fmt.Errorf("column %s: %v is not a whole number (%s)", c.Name, f, c.Type)
}

// fromString converts a text wire value: strings, and the text forms
// of floats ("NaN", "Infinity") and timestamps.
func fromString(c *column, s string) (sluice.Value, error) {
	switch c.Type {
	case sluice.TypeFloat32, sluice.TypeFloat64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return sluice.Value{}, fmt.Errorf("column %s: %q is not a number", c.Name, s)
		}
		return sluice.Value{Kind: sluice.KindPresent, Float: f}, nil
	case sluice.TypeTimestampTZ:
		return parseZoned(c, s)
	case sluice.TypeBytes, sluice.TypeBits:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return sluice.Value{}, fmt.Errorf("column %s: bytes are not base64: %w", c.Name, err)
		}
		return fromBytes(c, b)
	case sluice.TypeDecimal:
		if c.special == specialNone && c.Scale >= 0 && c.DBType != "" { // Connect Decimal: base64 of the unscaled value
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return sluice.Value{}, fmt.Errorf("column %s: decimal is not base64: %w", c.Name, err)
			}
			return fromBytes(c, b)
		}
	case sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64, sluice.TypeDate, sluice.TypeTime, sluice.TypeTimestamp, sluice.TypeYear, sluice.TypeBool:
		return sluice.Value{}, fmt.Errorf("column %s: string %q where %s was expected", c.Name, s, c.Type)
	}
	return sluice.Value{Kind: sluice.KindPresent, Bytes: []byte(s)}, nil
}

// fromBytes converts a binary wire value (already decoded from base64
// where the wire is JSON).
func fromBytes(c *column, b []byte) (sluice.Value, error) {
	switch c.Type {
	case sluice.TypeDecimal:
		text, err := decimalText(b, max(c.Scale, 0))
		if err != nil {
			return sluice.Value{}, fmt.Errorf("column %s: %w", c.Name, err)
		}
		return sluice.Value{Kind: sluice.KindPresent, Bytes: text}, nil
	case sluice.TypeBits:
		// Debezium's Bits keep no bit count: length is the declared one
		// (2147483647 for an unbounded varbit), at most what b holds.
		n := int64(8 * len(b))
		if c.Length > 0 && int64(c.Length) < n {
			n = int64(c.Length)
		}
		return sluice.Value{Kind: sluice.KindPresent, Bytes: b, Int: n}, nil
	}
	return sluice.Value{Kind: sluice.KindPresent, Bytes: b}, nil
}

// maxDecimalScale bounds the scale of a decimal read from a record or
// its schema. PostgreSQL's numeric keeps at most 16383 digits after the
// point, MySQL's decimal 30; a larger scale is a malformed record, for
// which decimalText would build a string of that many zeros (2^62 of
// them for an 11-byte Avro value, a crash of the daemon).
const maxDecimalScale = 16383

// decimalText writes the big-endian two's complement unscaled integer b
// with scale digits after the point, as sluice keeps decimals.
func decimalText(b []byte, scale int) ([]byte, error) {
	if scale > maxDecimalScale {
		return nil, fmt.Errorf("decimal scale %d is above %d", scale, maxDecimalScale)
	}
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	digits := n.Text(10)
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	if scale > 0 {
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		digits = "-" + digits
	}
	return []byte(digits), nil
}

// parseZoned reads io.debezium.time.ZonedTimestamp's ISO-8601 text into
// microseconds since the epoch; infinite values keep Debezium's text
// "infinity" / "-infinity".
func parseZoned(c *column, s string) (sluice.Value, error) {
	switch s {
	case "infinity":
		return sluice.Value{Kind: sluice.KindPresent, Int: sluice.InfinityPos}, nil
	case "-infinity":
		return sluice.Value{Kind: sluice.KindPresent, Int: sluice.InfinityNeg}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return sluice.Value{}, fmt.Errorf("column %s: %q is not an ISO-8601 timestamp", c.Name, s)
	}
	return sluice.Value{Kind: sluice.KindPresent, Int: t.UnixMicro()}, nil
}

// varScaleDecimal builds the value of io.debezium.data.VariableScaleDecimal.
func varScaleDecimal(scale int64, unscaled []byte) (sluice.Value, error) {
	text, err := decimalText(unscaled, int(min(max(scale, 0), maxDecimalScale+1)))
	if err != nil {
		return sluice.Value{}, err
	}
	return sluice.Value{Kind: sluice.KindPresent, Bytes: text}, nil
}

// geometry builds the value of a Debezium geometry struct.
func geometry(wkb []byte, srid int64) sluice.Value {
	return sluice.Value{Kind: sluice.KindPresent, Bytes: wkb, Int: srid}
}
