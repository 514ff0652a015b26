package codec

import (
	"strconv"

	"github.com/sluice-cdc/sluice"
)

// appendTableChanges writes Debezium's tableChanges of a schema change:
// per changed table its type, its id ("db"."table", TableId's
// double-quoted form) and its structure after the change (null for a
// DROP), with the fields and order of io.debezium.connector.schema.Change
// (tableChangesSchema). Schema change events are rare: this is not the
// hot path.
func appendTableChanges(dst []byte, changes []sluice.TableChange) []byte {
	dst = append(dst, '[')
	for i := range changes {
		c := &changes[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"type":`...)
		dst = appendStr(dst, c.Type)
		dst = append(dst, `,"id":`...)
		dst = appendStr(dst, `"`+c.DB+`"."`+c.Name+`"`)
		dst = append(dst, `,"table":`...)
		if c.Table == nil {
			dst = append(dst, "null}"...)
			continue
		}
		t := c.Table
		dst = append(dst, `{"defaultCharsetName":`...)
		dst = appendOptStr(dst, t.DefaultCharset)
		dst = append(dst, `,"primaryKeyColumnNames":[`...)
		for j, k := range t.PrimaryKey {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendStr(dst, k)
		}
		dst = append(dst, `],"columns":[`...)
		for j := range t.Columns {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendColumnStructure(dst, &t.Columns[j])
		}
		dst = append(dst, `],"comment":`...)
		dst = appendOptStr(dst, t.Comment)
		dst = append(dst, "}}"...)
	}
	return append(dst, ']')
}

// appendColumnStructure writes one io.debezium.connector.schema.Column.
// nativeType is always null: the MySQL connector does not set it.
func appendColumnStructure(dst []byte, c *sluice.ColumnStructure) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendStr(dst, c.Name)
	dst = append(dst, `,"jdbcType":`...)
	dst = appendInt(dst, int64(c.JDBCType))
	dst = append(dst, `,"nativeType":null,"typeName":`...)
	dst = appendStr(dst, c.TypeName)
	dst = append(dst, `,"typeExpression":`...)
	dst = appendStr(dst, c.TypeName)
	dst = append(dst, `,"charsetName":`...)
	dst = appendOptStr(dst, c.Charset)
	dst = append(dst, `,"length":`...)
	dst = appendOptInt(dst, c.Length)
	dst = append(dst, `,"scale":`...)
	dst = appendOptInt(dst, c.Scale)
	dst = append(dst, `,"position":`...)
	dst = appendInt(dst, int64(c.Position))
	dst = append(dst, `,"optional":`...)
	dst = strconv.AppendBool(dst, c.Optional)
	dst = append(dst, `,"autoIncremented":`...)
	dst = strconv.AppendBool(dst, c.AutoIncremented)
	dst = append(dst, `,"generated":`...)
	dst = strconv.AppendBool(dst, c.Generated)
	dst = append(dst, `,"comment":`...)
	dst = appendOptStr(dst, c.Comment)
	dst = append(dst, `,"defaultValueExpression":`...)
	if c.HasDefault {
		dst = appendStr(dst, c.Default)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"enumValues":`...)
	if c.EnumValues == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i, v := range c.EnumValues {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStr(dst, v)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendOptStr writes s, or null when it is empty.
func appendOptStr(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendStr(dst, s)
}

// appendOptInt writes n, or null when it is negative.
func appendOptInt(dst []byte, n int) []byte {
	if n < 0 {
		return append(dst, "null"...)
	}
	return appendInt(dst, int64(n))
}
