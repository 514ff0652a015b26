package elasticsearch

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
)

// Documents are the row's columns as one JSON object, field name = column
// name. The value encoding is the sink's own, chosen so that Elasticsearch
// can index every value with the derived mapping while _source keeps it
// exactly; it does not follow the pipeline's Debezium encoding options,
// whose integer timestamps and base64 decimals an index cannot search:
//
//	bool, bit(1)            true / false
//	int2, int4, int8        number
//	float4, float8          number; "NaN", "Infinity", "-Infinity" as strings
//	numeric, money          exact decimal string "123.450" (indexed as double)
//	date                    "2024-01-02"; "infinity", "-infinity"
//	time                    "13:04:05.123456"
//	timetz                  "13:04:05.123456Z" (UTC)
//	timestamp               "2024-01-02T13:04:05.123456" (no zone: UTC for Elasticsearch)
//	timestamptz             "2024-01-02T13:04:05.123456Z"; "infinity", "-infinity"
//	interval                ISO-8601 "P1Y2M3DT4H5M6.78S"
//	bytea                   base64
//	bit(n), varbit          "0101…"
//	uuid, enum, text, xml…  string
//	json, jsonb             the JSON text as a string (json_handling: object embeds it)
//	arrays                  JSON arrays of the element encoding, nested for more dimensions
//	structs (join)          JSON objects of the fields, each in its type's encoding
//
// Fractions of seconds drop trailing zeros; NULL is null.

// docEncoder writes documents and ids. It only reads its fields after
// New, so it is safe for concurrent use.
type docEncoder struct {
	jsonObject bool
	flatObject bool // OpenSearch: map JSON objects as flat_object, not flattened
}

// maxIDBytes is Elasticsearch's limit on the length of a document _id.
const maxIDBytes = 512

var errNoKey = errors.New("the table has neither a primary key nor a replica identity index, so its rows have no document id")

// appendDoc appends row as a JSON object of its table's columns (which
// columns those are is the columns transform's business). Columns the
// source did not send (unchanged TOAST values) are left out and returned
// by name, for a partial update.
func (d *docEncoder) appendDoc(dst []byte, t *sluice.Table, row sluice.Row) ([]byte, []string) {
	var unchanged []string
	dst = append(dst, '{')
	first := true
	one := func(i int) {
		if i >= len(row) || i >= len(t.Columns) {
			return
		}
		v := &row[i]
		switch v.Kind {
		case sluice.KindMissing:
			return
		case sluice.KindUnchanged:
			unchanged = append(unchanged, t.Columns[i].Name)
			return
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, t.Columns[i].Name)
		dst = append(dst, ':')
		dst = d.appendValue(dst, &t.Columns[i], v)
	}
	for i := range t.Columns {
		one(i)
	}
	return append(dst, '}'), unchanged
}

// appendValue appends the JSON form of v, a value of column c.
func (d *docEncoder) appendValue(dst []byte, c *sluice.Column, v *sluice.Value) []byte {
	return d.appendTyped(dst, c.Type, c, v)
}

func (d *docEncoder) appendTyped(dst []byte, t sluice.Type, c *sluice.Column, v *sluice.Value) []byte {
	if v.Kind != sluice.KindPresent {
		return append(dst, "null"...)
	}
	switch t {
	case sluice.TypeBool, sluice.TypeBit:
		if v.Int != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64, sluice.TypeYear:
		return strconv.AppendInt(dst, v.Int, 10)
	case sluice.TypeGeometry:
		dst = append(dst, `{"wkb":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, v.Bytes)
		dst = append(dst, `","srid":`...)
		dst = strconv.AppendInt(dst, v.Int, 10)
		return append(dst, '}')
	case sluice.TypeFloat32:
		return codec.AppendFloat(dst, v.Float, 32)
	case sluice.TypeFloat64:
		return codec.AppendFloat(dst, v.Float, 64)
	case sluice.TypeBytes:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v.Bytes)
		return append(dst, '"')
	case sluice.TypeBits:
		dst = append(dst, '"')
		dst = appendBitString(dst, v.Bytes, int(v.Int))
		return append(dst, '"')
	case sluice.TypeDate:
		dst = append(dst, '"')
		dst = appendDate(dst, v.Int)
		return append(dst, '"')
	case sluice.TypeTime:
		dst = append(dst, '"')
		dst = appendClock(dst, v.Int)
		return append(dst, '"')
	case sluice.TypeTimestamp, sluice.TypeTimestampTZ:
		dst = append(dst, '"')
		dst = appendTimestamp(dst, v.Int, t == sluice.TypeTimestampTZ)
		return append(dst, '"')
	case sluice.TypeInterval:
		if len(v.Bytes) == 0 {
			return strconv.AppendInt(dst, v.Int, 10)
		}
		return appendJSONBytes(dst, v.Bytes)
	case sluice.TypeJSON:
		if d.jsonObject && json.Valid(v.Bytes) {
			return append(dst, v.Bytes...)
		}
		return appendJSONBytes(dst, v.Bytes)
	case sluice.TypeArray:
		dst = append(dst, '[')
		for i := range v.Elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			if v.Elems[i].Elems != nil {
				// A sub-array of a multi-dimensional array.
				dst = d.appendTyped(dst, sluice.TypeArray, c, &v.Elems[i])
				continue
			}
			dst = d.appendTyped(dst, c.Elem, c, &v.Elems[i])
		}
		return append(dst, ']')
	case sluice.TypeStruct:
		return d.appendStruct(dst, c, v.Elems)
	default: // text, decimal, uuid, xml, enum, timetz
		return appendJSONBytes(dst, v.Bytes)
	}
}

// appendStruct writes a struct value as a JSON object of its fields,
// each as a top-level value of its type (structs nest), so that the
// index maps the fields as an object's and searches them as
// customer.city. A field without a value (KindMissing, or past the
// value's end) is left out as such a column is; the transforms that make
// structs fill every field.
func (d *docEncoder) appendStruct(dst []byte, c *sluice.Column, elems []sluice.Value) []byte {
	dst = append(dst, '{')
	first := true
	for i := range c.Fields {
		if i >= len(elems) || elems[i].Kind == sluice.KindMissing || elems[i].Kind == sluice.KindUnchanged {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		f := &c.Fields[i]
		dst = appendJSONString(dst, f.Name)
		dst = append(dst, ':')
		dst = d.appendTyped(dst, f.Type, f, &elems[i])
	}
	return append(dst, '}')
}

// appendID appends the document _id of a row: the key columns' values
// (see appendIDPart) — a single column as is; several joined with '|',
// where each part escapes '\' as `\\` and '|' as `\|`, and NULL is `\N`.
// Decoding splits at unescaped '|', so two different keys of a table can
// never give the same id. It fails when the table has no key.
func (d *docEncoder) appendID(dst []byte, t *sluice.Table, row sluice.Row) ([]byte, error) {
	if len(t.Key) == 0 {
		return dst, errNoKey
	}
	if len(t.Key) == 1 {
		k := t.Key[0]
		if k >= len(row) || row[k].Kind != sluice.KindPresent {
			return dst, errors.New("the key column " + t.Columns[k].Name + " has no value")
		}
		return d.appendIDPart(dst, &t.Columns[k], &row[k]), nil
	}
	var part []byte
	for n, k := range t.Key {
		if n > 0 {
			dst = append(dst, '|')
		}
		if k >= len(row) || row[k].Kind != sluice.KindPresent {
			dst = append(dst, `\N`...)
			continue
		}
		part = d.appendIDPart(part[:0], &t.Columns[k], &row[k])
		for _, ch := range part {
			if ch == '\\' || ch == '|' {
				dst = append(dst, '\\')
			}
			dst = append(dst, ch)
		}
	}
	return dst, nil
}

// appendIDPart appends one key value as it appears in an id: strings
// (text, uuid, decimal, dates, …) without their JSON quotes and escapes,
// numbers and booleans as in the document, bytea as base64, arrays and
// other structured values as their JSON text. Within one column this is
// one-to-one.
func (d *docEncoder) appendIDPart(dst []byte, c *sluice.Column, v *sluice.Value) []byte {
	switch c.Type {
	case sluice.TypeText, sluice.TypeDecimal, sluice.TypeUUID, sluice.TypeXML, sluice.TypeEnum, sluice.TypeSet, sluice.TypeTimeTZ, sluice.TypeJSON:
		return append(dst, v.Bytes...)
	case sluice.TypeInterval:
		if len(v.Bytes) > 0 {
			return append(dst, v.Bytes...)
		}
	case sluice.TypeArray, sluice.TypeStruct:
		return d.appendTyped(dst, c.Type, c, v)
	}
	start := len(dst)
	dst = d.appendTyped(dst, c.Type, c, v)
	if n := len(dst) - start; n >= 2 && dst[start] == '"' && dst[len(dst)-1] == '"' {
		// A quoted form without escapes (dates, base64, bit strings):
		// drop the quotes.
		copy(dst[start:], dst[start+1:len(dst)-1])
		dst = dst[:len(dst)-2]
	}
	return dst
}

// appendBitString writes n bits, most significant first, from bytes
// packed little-endian (bit i of the value in byte i/8, bit i%8). A
// count beyond what packed holds is cut to it.
func appendBitString(dst, packed []byte, n int) []byte {
	n = min(n, 8*len(packed))
	for i := n - 1; i >= 0; i-- {
		bit := byte('0')
		if i/8 < len(packed) && packed[i/8]>>(i%8)&1 == 1 {
			bit = '1'
		}
		dst = append(dst, bit)
	}
	return dst
}

func appendDate(dst []byte, days int64) []byte {
	switch days {
	case sluice.InfinityPos:
		return append(dst, "infinity"...)
	case sluice.InfinityNeg:
		return append(dst, "-infinity"...)
	}
	return codec.AppendDate(dst, days)
}

// appendClock writes microseconds since midnight as HH:MM:SS[.ffffff]
// (24:00:00 included, which time.Time cannot hold).
func appendClock(dst []byte, us int64) []byte {
	if us < 0 { // MySQL TIME is a signed duration up to ±838:59:59
		dst = append(dst, '-')
		us = -us
	}
	sec := us / 1e6
	dst = appendTwo(dst, sec/3600)
	dst = append(dst, ':')
	dst = appendTwo(dst, sec/60%60)
	dst = append(dst, ':')
	dst = appendTwo(dst, sec%60)
	return codec.AppendFraction(dst, us%1e6)
}

func appendTimestamp(dst []byte, us int64, zoned bool) []byte {
	switch us {
	case sluice.InfinityPos:
		return append(dst, "infinity"...)
	case sluice.InfinityNeg:
		return append(dst, "-infinity"...)
	}
	return codec.AppendTimestamp(dst, us, -1, zoned)
}

func appendTwo(dst []byte, n int64) []byte {
	if n < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, n, 10)
}

// appendJSONBytes and appendJSONString write JSON strings with the
// codec's escaping, so documents and Kafka values agree byte for byte.
func appendJSONBytes(dst, s []byte) []byte { return codec.AppendString(dst, s) }

func appendJSONString(dst []byte, s string) []byte { return codec.AppendStr(dst, s) }

// fieldMapping returns the derived Elasticsearch mapping of a column as a
// JSON object. Values that the mapped type cannot parse (NaN, infinity,
// dates beyond year 9999) are kept in _source but not indexed
// (ignore_malformed), so a legal row is never refused.
func (d *docEncoder) fieldMapping(c *sluice.Column) string {
	t := c.Type
	if t == sluice.TypeArray {
		t = c.Elem // Elasticsearch fields are multi-valued
	}
	switch t {
	case sluice.TypeBool, sluice.TypeBit:
		return `{"type":"boolean"}`
	case sluice.TypeInt16:
		return `{"type":"short"}`
	case sluice.TypeInt32, sluice.TypeYear:
		return `{"type":"integer"}`
	case sluice.TypeInt64:
		return `{"type":"long"}`
	case sluice.TypeFloat32:
		return `{"type":"float","ignore_malformed":true}`
	case sluice.TypeFloat64, sluice.TypeDecimal:
		// Exact in _source; the index holds the nearest double
		// (scaled_float lives in the mapper-extras module, which the
		// minimal distributions lack).
		return `{"type":"double","ignore_malformed":true}`
	case sluice.TypeDate, sluice.TypeTimestamp, sluice.TypeTimestampTZ:
		return `{"type":"date","ignore_malformed":true}`
	case sluice.TypeBytes:
		return `{"type":"binary"}`
	case sluice.TypeJSON:
		if d.jsonObject && d.flatObject {
			return `{"type":"flat_object"}` // OpenSearch's flattened, since 2.7
		}
		if d.jsonObject {
			return `{"type":"flattened"}`
		}
		return `{"type":"text"}`
	case sluice.TypeXML:
		return `{"type":"text"}`
	case sluice.TypeGeometry:
		// WKB is no format Elasticsearch's geo types parse: kept in
		// _source only.
		return `{"type":"object","enabled":false}`
	case sluice.TypeStruct:
		return d.structMapping(c)
	case sluice.TypeText:
		switch strings.TrimPrefix(c.DBType, "_") {
		case "text", "varchar", "bpchar", "name", "citext":
			return `{"type":"text","fields":{"keyword":{"type":"keyword","ignore_above":256}}}`
		}
	}
	// uuid, enum, time, timetz, interval, bit strings, inet, cidr,
	// macaddr and every other text form: exact-match keywords. Longer
	// values than Lucene's term limit stay in _source only.
	return `{"type":"keyword","ignore_above":8191}`
}

// structMapping maps a struct column as an object whose properties are
// its fields' derived mappings, so customer.city is searched as a
// top-level column of its type would be.
func (d *docEncoder) structMapping(c *sluice.Column) string {
	b := []byte(`{"type":"object","properties":{`)
	for i := range c.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c.Fields[i].Name)
		b = append(b, ':')
		b = append(b, d.fieldMapping(&c.Fields[i])...)
	}
	return string(append(b, "}}"...))
}

// appendMapping appends the derived "mappings" object for the given
// columns of t (nil: all, for a new index; the unmapped ones after a
// schema change).
func (d *docEncoder) appendMapping(dst []byte, t *sluice.Table, cols []int) []byte {
	dst = append(dst, `{"properties":{`...)
	first := true
	one := func(i int) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, t.Columns[i].Name)
		dst = append(dst, ':')
		dst = append(dst, d.fieldMapping(&t.Columns[i])...)
	}
	if cols == nil {
		for i := range t.Columns {
			one(i)
		}
	} else {
		for _, i := range cols {
			one(i)
		}
	}
	return append(dst, "}}"...)
}
