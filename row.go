package sluice

import (
	"encoding/binary"
	"math"
)

// Type is the logical type of a column: what its values mean, independent
// of the database it came from. Encoders choose the wire form from it (and
// from their configured handling modes); the storage of a value is in
// Value and documented per Type below.
type Type uint8

// Logical types and how a Value stores each.
const (
	TypeText        Type = iota // Bytes: UTF-8 text (text, varchar, char, name, inet, cidr, macaddr, composite and unknown types as text)
	TypeBool                    // Int: 0 or 1
	TypeInt16                   // Int
	TypeInt32                   // Int
	TypeInt64                   // Int
	TypeFloat32                 // Float (NaN and ±Inf allowed)
	TypeFloat64                 // Float (NaN and ±Inf allowed)
	TypeDecimal                 // Bytes: exact decimal text such as "-12.340", or "NaN", "Infinity", "-Infinity"; Column.Scale is the declared scale or -1 when unconstrained
	TypeBytes                   // Bytes: raw binary
	TypeUUID                    // Bytes: canonical lower-case text
	TypeJSON                    // Bytes: the JSON document text as the database returned it
	TypeXML                     // Bytes: the XML text
	TypeEnum                    // Bytes: the label; Column.Enum lists the labels
	TypeDate                    // Int: days since 1970-01-01; InfinityPos/InfinityNeg for ±infinity
	TypeTime                    // Int: microseconds since midnight (24:00:00 is 86400000000)
	TypeTimeTZ                  // Bytes: "HH:MM:SS[.ffffff]Z" normalised to UTC
	TypeTimestamp               // Int: microseconds since 1970-01-01 of the zone-less wall clock read as UTC; InfinityPos/InfinityNeg
	TypeTimestampTZ             // Int: microseconds since 1970-01-01 UTC of the instant; InfinityPos/InfinityNeg
	TypeInterval                // Int: microseconds with a month as 365.25/12 days (Debezium MicroDuration); Bytes: ISO-8601 duration "P1Y2M3DT4H5M6.78S"
	TypeBit                     // Int: 0 or 1 (BIT(1))
	TypeBits                    // Bytes: bits packed little-endian as Debezium's io.debezium.data.Bits; Int: the number of bits
	TypeArray                   // Elems: one Value per element, of Column.Elem's type; NULL elements are KindNull
	TypeYear                    // Int: the year (MySQL YEAR)
	TypeSet                     // Bytes: the labels of a MySQL SET joined by ","; Column.Enum lists the allowed labels
	TypeGeometry                // Bytes: the OGC WKB of the geometry; Int: its SRID (MySQL spatial types)
	TypeStruct                  // Elems: one Value per field, indexed like Column.Fields; a field that is NULL is KindNull
)

// Sentinels in Value.Int for infinite dates and timestamps. They are the
// values Debezium writes for PostgreSQL's infinity and -infinity.
const (
	InfinityPos int64 = 9223372036825200000
	InfinityNeg int64 = -9223372036832400000
)

var typeNames = [...]string{"text", "bool", "int16", "int32", "int64", "float32", "float64", "decimal", "bytes", "uuid", "json", "xml", "enum", "date", "time", "timetz", "timestamp", "timestamptz", "interval", "bit", "bits", "array", "year", "set", "geometry", "struct"}

// String returns a short lower-case name of the type.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// Kind says whether a Value is present.
type Kind uint8

// Value presence.
const (
	KindNull      Kind = iota // SQL NULL
	KindPresent               // a value, stored as its column's Type says
	KindUnchanged             // not sent by the source: an unchanged TOASTed column
	KindMissing               // not part of the old row the source has (non-key column of a key-only before image)
)

// Value is one column value. Which fields are used depends on the column's
// Type; the others are zero. Keeping values in a small struct instead of
// interfaces lets a row be one allocation.
type Value struct {
	Kind  Kind
	Int   int64
	Float float64
	Bytes []byte
	Elems []Value
}

// Null reports whether v is SQL NULL.
func (v Value) Null() bool { return v.Kind == KindNull }

// Equal reports whether v and w are the same value: the same Kind and, for
// present values, the same Int, the same Float bits (so NaN equals NaN and
// 0 differs from -0, as their encodings do), the same Bytes and equal
// Elems, element by element.
func (v Value) Equal(w Value) bool {
	if v.Kind != w.Kind || v.Int != w.Int || math.Float64bits(v.Float) != math.Float64bits(w.Float) ||
		string(v.Bytes) != string(w.Bytes) || len(v.Elems) != len(w.Elems) {
		return false
	}
	for i := range v.Elems {
		if !v.Elems[i].Equal(w.Elems[i]) {
			return false
		}
	}
	return true
}

// KeyChanged reports whether an update changed t's key, comparing the key
// columns of the old and new images. When either image lacks a key column
// (KindMissing, or a row shorter than the table: the source was not sent
// the old key) no change can be seen and it reports false; sources then
// emit a plain update, as Debezium does.
func KeyChanged(t *Table, old, neu Row) bool {
	for _, k := range t.Key {
		if k >= len(old) || k >= len(neu) || old[k].Kind == KindMissing || neu[k].Kind == KindMissing {
			return false
		}
	}
	for _, k := range t.Key {
		if !old[k].Equal(neu[k]) {
			return true
		}
	}
	return false
}

// KeyString identifies a row by the values of t's key columns, for
// sources that match the rows a snapshot chunk read against the rows the
// stream decoded: both decode values the same way, so the Kind, Int,
// Float bits and Bytes of each key value and, for arrays, of each
// element, nested, with lengths, tell two keys apart exactly (no two
// different keys give the same string). "" when the row lacks a key
// column.
func KeyString(t *Table, row Row) string {
	var b []byte
	for _, k := range t.Key {
		if k >= len(row) {
			return ""
		}
		b = appendKeyValue(b, &row[k])
	}
	return string(b)
}

func appendKeyValue(b []byte, v *Value) []byte {
	b = append(b, byte(v.Kind))
	b = binary.AppendVarint(b, v.Int)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float))
	b = binary.AppendUvarint(b, uint64(len(v.Bytes)))
	b = append(b, v.Bytes...)
	b = binary.AppendUvarint(b, uint64(len(v.Elems)))
	for i := range v.Elems {
		b = appendKeyValue(b, &v.Elems[i])
	}
	return b
}

// Row is one row's values, indexed like its Table's Columns.
type Row []Value

// Column describes one column of a captured table.
type Column struct {
	Name string
	// DBType is the database's name of the type, e.g. "int4", "numeric",
	// "_text" for a text array, or the enum's name. For a TypeStruct
	// column it is the Kafka Connect schema name of the struct (e.g.
	// "shop.public.customers.Value"); "" means the struct has no name.
	DBType string
	Type   Type
	// Elem is the element type of a TypeArray column.
	Elem Type
	// Fields are the fields of a TypeStruct column, in order; each is a
	// column of its own type (nested structs allowed). No source reads
	// structs from a database: transforms make them (join puts a
	// looked-up row in one column). A struct's value is KindPresent with
	// one Elem per field, KindNull (nothing to put there, e.g. no
	// matching row), or KindMissing (in a key-only before image).
	Fields []Column
	// Optional is false when the column is NOT NULL.
	Optional bool
	// Key marks the columns that form the event key (the primary key or
	// replica identity).
	Key bool
	// Scale is the declared scale of a decimal (-1 when unconstrained),
	// and the fractional-second precision of time types (-1 when
	// unconstrained). A TypeTimestamp column with a precision of 0 to 3
	// is written in milliseconds, as Debezium's adaptive time modes do.
	Scale int
	// Length is the declared length of a bit/varbit or char column, or
	// the precision of a decimal (0 when unconstrained).
	Length int
	// Enum lists the labels of an enum column in declaration order.
	Enum []string
	// Default is the column's default as a value of its Type, for the
	// types whose default the source converts (MySQL and MariaDB: DATE,
	// DATETIME and character columns with a literal default); KindNull
	// (the zero Value) otherwise. Debezium writes it as the Connect
	// schema's "default", and its MySQL connector writes it in place of
	// a zero date in a NOT NULL column, so the source needs it there too.
	Default Value
}

// Table describes a captured table as the source currently knows it. A new
// *Table is made when the schema changes; an Event's Table never changes
// after the event is emitted.
type Table struct {
	ID      uint32 // source-specific identifier (Postgres relation OID)
	DB      string // database name
	Schema  string // schema (Postgres) or empty
	Name    string
	Columns []Column
	// Key holds the indices of the key columns in Columns, in key order.
	// Empty when the table has neither a primary key nor a replica
	// identity: such events have a null key.
	Key []int
}

// QualifiedName is the name configuration uses for the table:
// "schema.table" where the database has schemas (PostgreSQL), else
// "db.table" (MySQL), else the bare name.
func (t *Table) QualifiedName() string {
	switch {
	case t.Schema != "":
		return t.Schema + "." + t.Name
	case t.DB != "":
		return t.DB + "." + t.Name
	}
	return t.Name
}

// Index returns the position of the named column, or -1.
func (t *Table) Index(name string) int {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return i
		}
	}
	return -1
}
