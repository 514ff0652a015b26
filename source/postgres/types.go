package postgres

import (
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

// This file maps PostgreSQL types to sluice columns, and decodeText
// decodes the TEXT form of pgoutput tuple data (protocol v1, binary
// 'false') into values, stored exactly as the root package's row.go
// documents per sluice.Type: scalar values in values.go, dates and times
// in datetime.go, intervals in interval.go and arrays in array.go.
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
