package codec

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// colKind is how the values of one column are written: decided once per
// table (tableFrags.plans) from the column's type, its database type and
// the encoder's modes, so the per-value path is one switch.
type colKind uint8

const (
	kString          colKind = iota // Bytes as a JSON string (text, uuid, json, xml, enum, set, timetz, …)
	kBool                           // Int != 0
	kInt                            // Int
	kFloat32                        // Float, as Java's Float.toString
	kFloat64                        // Float, as Java's Double.toString
	kDecimal                        // decimal text, by decimal mode; Scale < 0 is VariableScaleDecimal
	kUnsignedLong                   // BIGINT UNSIGNED text as the int64 with its bits (long mode)
	kBytes                          // Bytes by binary mode
	kBits                           // Bytes as base64 (io.debezium.data.Bits)
	kBitsBool                       // a varbit(1)'s Bytes as a boolean, as Debezium writes bit strings of length 1
	kHstoreJSON                     // hstore text as a JSON object, in a string
	kHstoreMap                      // hstore text as a JSON object (a Connect map)
	kPgPoint                        // PostgreSQL point text "(x,y)" as io.debezium.data.geometry.Point
	kGeometry                       // WKB and SRID as io.debezium.data.geometry.Geometry
	kPoint                          // MySQL POINT: WKB as io.debezium.data.geometry.Point
	kPostgis                        // PostGIS geometry/geography: hex EWKB text as {"wkb","srid"}
	kDate                           // days since the epoch
	kTimeMicro                      // microseconds since midnight
	kTimeMilli                      // milliseconds since midnight
	kTimeMilliNonNeg                // milliseconds; a MySQL TIME outside 00:00-24:00 is null (connect mode)
	kTimestampMicro                 // microseconds since the epoch
	kTimestampMilli                 // milliseconds since the epoch
	kZoned                          // instant as ISO-8601 UTC, fraction padded to plan.prec digits
	kIntervalMicro                  // Int (MicroDuration)
	kIntervalString                 // Debezium's ISO-8601 string, seconds through a double
	kIntervalExact                  // Bytes: the exact ISO-8601 string
	kArray                          // Elems, each by plan.elem
	kStruct                         // Elems as a JSON object, each field by its own plan (plan.st)
)

// colPlan is how one column is written.
type colPlan struct {
	kind colKind
	elem colKind // kArray: the elements' kind
	// prec is the fraction digits of kZoned: the column's precision
	// (6 when unconstrained), or -1 to drop trailing zeros.
	prec int8
	// zonedSnap is the digits of kZoned in a snapshot read: Debezium's
	// MySQL snapshot trims the fraction its binlog reader pads.
	zonedSnap int8
	// ph is the placeholder of an unchanged TOAST value (Debezium's
	// unavailable.value.placeholder in the column's shape), as JSON.
	ph []byte
	// st is how a kStruct column's fields are written, nil for other
	// kinds: a pointer so that the plans of the common columns stay small.
	st *structPlan
}

// planFor decides how column c is written.
func (e *Encoder) planFor(c *sluice.Column) colPlan {
	p := colPlan{kind: e.kindOf(c.Type, c), prec: -1, zonedSnap: -1}
	if p.kind == kStruct {
		p.st = e.structPlanFor(c)
	}
	if c.Type == sluice.TypeArray {
		p.elem = e.kindOf(c.Elem, c)
	}
	if p.kind == kZoned || p.elem == kZoned {
		p.prec = zonedDigits(c)
		p.zonedSnap = p.prec
		if e.mysql {
			p.zonedSnap = -1
		}
	}
	p.ph = e.placeholderFor(c)
	return p
}

// zonedDigits is the fraction digits Debezium writes for an instant of
// column c: the declared precision (PostgreSQL) or fsp (MySQL), 6 when
// unconstrained.
func zonedDigits(c *sluice.Column) int8 {
	if c.Scale >= 0 && c.Scale <= 9 {
		return int8(c.Scale)
	}
	return 6
}

func (e *Encoder) kindOf(t sluice.Type, c *sluice.Column) colKind {
	connect := e.opt.Time == TimeConnect
	switch t {
	case sluice.TypeBool, sluice.TypeBit:
		return kBool
	case sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64, sluice.TypeYear:
		return kInt
	case sluice.TypeFloat32:
		return kFloat32
	case sluice.TypeFloat64:
		return kFloat64
	case sluice.TypeDecimal:
		if isUnsignedBigint(c) && e.opt.BigintUnsigned == BigintLong {
			return kUnsignedLong
		}
		return kDecimal
	case sluice.TypeBytes:
		return kBytes
	case sluice.TypeBits:
		if c.Length == 1 {
			return kBitsBool
		}
		return kBits
	case sluice.TypeDate:
		return kDate
	case sluice.TypeTime:
		switch {
		case connect && e.mysql:
			return kTimeMilliNonNeg
		case connect || e.opt.Time == TimeAdaptive && c.Scale >= 0 && c.Scale <= 3:
			return kTimeMilli
		}
		return kTimeMicro
	case sluice.TypeTimestamp:
		if connect || c.Scale >= 0 && c.Scale <= 3 {
			return kTimestampMilli
		}
		return kTimestampMicro
	case sluice.TypeTimestampTZ:
		return kZoned
	case sluice.TypeInterval:
		switch e.opt.Interval {
		case IntervalNumeric:
			return kIntervalMicro
		case IntervalString:
			return kIntervalString
		}
		return kIntervalExact
	case sluice.TypeGeometry:
		if strings.EqualFold(c.DBType, "point") {
			return kPoint
		}
		return kGeometry
	case sluice.TypeArray:
		return kArray
	case sluice.TypeStruct:
		if c.Type == sluice.TypeStruct { // not an array's element: arrays of structs are not supported
			return kStruct
		}
	case sluice.TypeText:
		switch elemDBType(c, t) {
		case "hstore":
			if e.opt.Hstore == HstoreMap {
				return kHstoreMap
			}
			return kHstoreJSON
		case "point":
			if !e.mysql {
				return kPgPoint
			}
		case "geometry", "geography":
			if !e.mysql {
				return kPostgis
			}
		}
	}
	return kString
}

// elemDBType is the database type of c's values of type t: the element
// type of an array column ("_int4" → "int4"), else c.DBType.
func elemDBType(c *sluice.Column, t sluice.Type) string {
	if c.Type == sluice.TypeArray && t != sluice.TypeArray {
		return strings.TrimPrefix(c.DBType, "_")
	}
	return c.DBType
}

// isUnsignedBigint reports whether c is a MySQL BIGINT UNSIGNED column
// (which the source gives as a decimal of scale 0).
func isUnsignedBigint(c *sluice.Column) bool {
	return c.Type == sluice.TypeDecimal && c.DBType == "bigint unsigned"
}

// appendColumn appends the JSON form of v, a value of column c written as
// p says. Values that are KindNull, or whose form the mode cannot
// express, become null. snap is set for snapshot reads.
func (e *Encoder) appendColumn(dst []byte, c *sluice.Column, p *colPlan, v *sluice.Value, snap bool) []byte {
	switch v.Kind {
	case sluice.KindPresent:
	case sluice.KindUnchanged:
		return append(dst, p.ph...)
	case sluice.KindMissing:
		return e.appendFallback(dst, c, p)
	default:
		return append(dst, "null"...)
	}
	prec := p.prec
	if snap {
		prec = p.zonedSnap
	}
	switch p.kind {
	case kArray:
		return e.appendArray(dst, c, p.elem, v, prec)
	case kStruct:
		return e.appendStruct(dst, c, p.st, v.Elems, snap)
	}
	return e.appendKind(dst, p.kind, c, v, prec)
}

// appendArray writes an array's elements. The rows of a multi-dimensional
// array are null, as Debezium writes them, or nested arrays
// (MultidimNested).
func (e *Encoder) appendArray(dst []byte, c *sluice.Column, elem colKind, v *sluice.Value, prec int8) []byte {
	dst = append(dst, '[')
	for i := range v.Elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		x := &v.Elems[i]
		if x.Elems != nil {
			// A row of a multi-dimensional array: Debezium writes null.
			// Nested rows need the column's dimensions in the Connect
			// schema, which the sources do not know: with schemas the
			// rows stay null.
			if e.opt.MultidimArrays == MultidimNested && !e.opt.Schemas && !e.opt.Typed {
				dst = e.appendArray(dst, c, elem, x, prec)
			} else {
				dst = append(dst, "null"...)
			}
			continue
		}
		if x.Kind != sluice.KindPresent {
			dst = append(dst, "null"...)
			continue
		}
		dst = e.appendKind(dst, elem, c, x, prec)
	}
	return append(dst, ']')
}

// appendKind appends the present value v as kind k.
func (e *Encoder) appendKind(dst []byte, k colKind, c *sluice.Column, v *sluice.Value, prec int8) []byte {
	switch k {
	case kBool:
		if v.Int != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case kInt, kTimeMicro, kTimestampMicro, kIntervalMicro:
		return appendInt(dst, v.Int)
	case kFloat32:
		return appendFloat(dst, v.Float, 32)
	case kFloat64:
		return appendFloat(dst, v.Float, 64)
	case kDecimal:
		return e.appendDecimal(dst, c, v.Bytes)
	case kUnsignedLong:
		u, err := strconv.ParseUint(string(v.Bytes), 10, 64)
		if err != nil {
			return append(dst, "null"...)
		}
		return appendInt(dst, int64(u))
	case kBytes:
		return e.appendBinary(dst, v.Bytes)
	case kBits:
		return appendBase64(dst, v.Bytes)
	case kBitsBool:
		if len(v.Bytes) > 0 && v.Bytes[0]&1 != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case kDate:
		switch v.Int {
		case sluice.InfinityPos:
			// PostgreSQL's DATEVAL_NOEND (2^31-1 days after 2000-01-01)
			// moved to the Unix epoch in int32, as Debezium streams it.
			return append(dst, "-2147472692"...)
		case sluice.InfinityNeg:
			return append(dst, "-2147472691"...)
		}
		return appendInt(dst, v.Int)
	case kTimeMilli:
		return appendInt(dst, floorDiv(v.Int, 1000))
	case kTimeMilliNonNeg:
		if v.Int < 0 || v.Int >= 86_400_000_000 {
			return append(dst, "null"...) // not a time of day: java.sql.Time cannot hold it
		}
		return appendInt(dst, v.Int/1000)
	case kTimestampMilli:
		switch v.Int {
		case sluice.InfinityPos, sluice.InfinityNeg:
			// Debezium divides PostgreSQL's infinity sentinels too.
			return appendInt(dst, v.Int/1000)
		}
		return appendInt(dst, floorDiv(v.Int, 1000))
	case kZoned:
		return appendZoned(dst, v.Int, int(prec))
	case kIntervalString:
		return appendIntervalString(dst, v.Bytes)
	case kGeometry:
		dst = append(dst, `{"wkb":`...)
		dst = appendBase64(dst, v.Bytes)
		return appendSRID(dst, v.Int)
	case kPoint:
		x, y, ok := wkbPoint(v.Bytes)
		if !ok {
			dst = append(dst, `{"wkb":`...)
			dst = appendBase64(dst, v.Bytes)
			return appendSRID(dst, v.Int)
		}
		return appendPoint(dst, x, y, v.Bytes, v.Int)
	case kPgPoint:
		x, y, ok := parsePgPoint(v.Bytes)
		if !ok {
			return append(dst, "null"...)
		}
		var wkb [21]byte
		putWKBPoint(wkb[:], x, y)
		return appendPoint(dst, x, y, wkb[:], 0)
	case kPostgis:
		ewkb := make([]byte, hex.DecodedLen(len(v.Bytes)))
		if _, err := hex.Decode(ewkb, v.Bytes); err != nil || len(ewkb) < 9 {
			return append(dst, "null"...)
		}
		// Debezium's PostgisGeometry: the EWKB as it is, and the SRID
		// when the type word flags one (null otherwise).
		dst = append(dst, `{"wkb":`...)
		dst = appendBase64(dst, ewkb)
		dst = append(dst, `,"srid":`...)
		var order binary.ByteOrder = binary.BigEndian
		if ewkb[0] != 0 {
			order = binary.LittleEndian
		}
		if order.Uint32(ewkb[1:5])&0x20000000 != 0 {
			dst = appendInt(dst, int64(int32(order.Uint32(ewkb[5:9]))))
		} else {
			dst = append(dst, "null"...)
		}
		return append(dst, '}')
	case kHstoreJSON:
		return appendHstore(dst, v.Bytes, true)
	case kHstoreMap:
		return appendHstore(dst, v.Bytes, false)
	}
	// kString, kIntervalExact, and anything unforeseen.
	return appendString(dst, v.Bytes)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (e *Encoder) appendBinary(dst, b []byte) []byte {
	dst = append(dst, '"')
	switch e.opt.Binary {
	case BinaryHex:
		dst = hex.AppendEncode(dst, b)
	case BinaryBase64URL:
		dst = base64.URLEncoding.AppendEncode(dst, b)
	default:
		dst = base64.StdEncoding.AppendEncode(dst, b)
	}
	return append(dst, '"')
}

func appendBase64(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}
