package mysql

import (
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice"
)

// relation is a captured table as one table map event describes it.
type relation struct {
	table *sluice.Table
	cols  []colInfo
}

// refinements are facts about a table the binlog does not carry, read
// from the information schema: which columns MariaDB's JSON alias made
// LONGTEXT.
type refinements struct {
	json map[string]bool
}

// typeOf maps a binlog column type and its metadata onto a kind. For
// MYSQL_TYPE_STRING the real type (ENUM, SET, CHAR) is in the metadata.
func typeOf(tm *replication.TableMapEvent, i int) (k kind, fsp, prec, scale, bits, width int) {
	t, meta := tm.ColumnType[i], tm.ColumnMeta[i]
	if t == mysql.MYSQL_TYPE_STRING && meta >= 256 {
		if rt := byte(meta >> 8); rt == mysql.MYSQL_TYPE_ENUM || rt == mysql.MYSQL_TYPE_SET {
			t = rt
		}
	}
	switch t {
	case mysql.MYSQL_TYPE_TINY:
		return kInt, 0, 0, 0, 0, 1
	case mysql.MYSQL_TYPE_SHORT:
		return kInt, 0, 0, 0, 0, 2
	case mysql.MYSQL_TYPE_INT24:
		return kInt, 0, 0, 0, 0, 3
	case mysql.MYSQL_TYPE_LONG:
		return kInt, 0, 0, 0, 0, 4
	case mysql.MYSQL_TYPE_LONGLONG:
		return kInt, 0, 0, 0, 0, 8
	case mysql.MYSQL_TYPE_NEWDECIMAL:
		return kDecimal, 0, int(meta >> 8), int(meta & 0xff), 0, 0
	case mysql.MYSQL_TYPE_FLOAT:
		return kFloat, 0, 0, 0, 0, 0
	case mysql.MYSQL_TYPE_DOUBLE:
		return kDouble, 0, 0, 0, 0, 0
	case mysql.MYSQL_TYPE_BIT:
		return kBit, 0, 0, 0, int(meta>>8)*8 + int(meta&0xff), 0
	case mysql.MYSQL_TYPE_TIMESTAMP:
		return kTimestamp, 0, 0, 0, 0, 0
	case mysql.MYSQL_TYPE_TIMESTAMP2:
		return kTimestamp, int(meta), 0, 0, 0, 0
	case mysql.MYSQL_TYPE_DATETIME:
		return kDatetime, 0, 0, 0, 0, 0
	case mysql.MYSQL_TYPE_DATETIME2:
		return kDatetime, int(meta), 0, 0, 0, 0
	case mysql.MYSQL_TYPE_TIME:
		return kTime, 0, 0, 0, 0, 0
	case mysql.MYSQL_TYPE_TIME2:
		return kTime, int(meta), 0, 0, 0, 0
	case mysql.MYSQL_TYPE_DATE, mysql.MYSQL_TYPE_NEWDATE:
		return kDate, 0, 0, 0, 0, 0
	case mysql.MYSQL_TYPE_YEAR:
		return kYear, 0, 0, 0, 0, 0
	case mysql.MYSQL_TYPE_ENUM:
		return kEnum, 0, 0, 0, 0, 0
	case mysql.MYSQL_TYPE_SET:
		return kSet, 0, 0, 0, 0, 0
	case mysql.MYSQL_TYPE_JSON:
		return kJSON, 0, 0, 0, 0, 0
	case mysql.MYSQL_TYPE_GEOMETRY:
		return kGeometry, 0, 0, 0, 0, 0
	}
	// VARCHAR, VAR_STRING, STRING, BLOB: text or binary by character set.
	return kText, 0, 0, 0, 0, 0
}

// kindName is the MySQL type family name written into Column.DBType.
var kindName = [...]string{kInt: "int", kUint: "int unsigned", kUint64: "bigint unsigned", kDecimal: "decimal",
	kFloat: "float", kDouble: "double", kBit: "bit", kText: "text", kBinary: "blob", kJSON: "json", kEnum: "enum",
	kSet: "set", kDate: "date", kTime: "time", kDatetime: "datetime", kTimestamp: "timestamp", kYear: "year",
	kGeometry: "geometry"}

// buildRelation describes a table from its table map event. It needs
// binlog_row_metadata=FULL for column names, signedness, character sets,
// ENUM/SET labels and the primary key; charsetOf maps a collation id to
// its character set.
func buildRelation(tm *replication.TableMapEvent, ref refinements, charsetOf func(uint64) string) (*relation, error) {
	n := int(tm.ColumnCount)
	names := tm.ColumnNameString()
	if len(names) != n {
		return nil, fmt.Errorf("table map of %s.%s has no column names: set binlog_row_metadata=FULL on the server", tm.Schema, tm.Table)
	}
	unsigned := tm.UnsignedMap()
	collations := tm.CollationMap()
	enumLabels := tm.EnumStrValueMap()
	setLabels := tm.SetStrValueMap()
	t := &sluice.Table{ID: uint32(tm.TableID), DB: string(tm.Schema), Name: string(tm.Table), Columns: make([]sluice.Column, n)}
	cols := make([]colInfo, n)
	for i := 0; i < n; i++ {
		k, fsp, prec, scale, bits, width := typeOf(tm, i)
		var labels []string
		switch k {
		case kInt:
			if unsigned[i] {
				k = kUint
				if width == 8 {
					k = kUint64
				}
			}
		case kText:
			cs := charsetOf(collations[i])
			if cs == "binary" {
				k = kBinary
			} else if ref.json[names[i]] {
				k = kJSON
			} else {
				cols[i].dec = decoderFor(cs)
			}
		case kJSON:
		case kEnum:
			labels = enumLabels[i]
		case kSet:
			labels = setLabels[i]
		}
		_, nullable := tm.Nullable(i)
		c := column(names[i], k, fsp, prec, scale, bits, labels, nullable)
		if k == kInt || k == kUint {
			c.Type = intType(width, k == kUint)
		}
		c.DBType = kindName[k]
		t.Columns[i] = c
		cols[i].kind, cols[i].bits, cols[i].labels, cols[i].notNull = k, bits, labels, !nullable
		if k == kJSON && cols[i].dec == nil && tm.ColumnType[i] != mysql.MYSQL_TYPE_JSON {
			cols[i].dec = decoderFor(charsetOf(collations[i]))
		}
	}
	for _, pk := range tm.PrimaryKey {
		if int(pk) < n {
			t.Key = append(t.Key, int(pk))
			t.Columns[pk].Key = true
		}
	}
	return &relation{table: t, cols: cols}, nil
}

// schemaColumn is one row of information_schema.COLUMNS.
type schemaColumn struct {
	name, dataType, columnType, charset string
	nullable                            bool
	prec, scale, fsp                    int
	pkPos                               int // 1-based position in the primary key, 0 when not part of it
}

// relationFromSchema describes a table from the information schema, for
// snapshots; it matches buildRelation for the same definition.
func relationFromSchema(db, name string, scols []schemaColumn, ref refinements) *relation {
	t := &sluice.Table{DB: db, Name: name, Columns: make([]sluice.Column, len(scols))}
	cols := make([]colInfo, len(scols))
	type pkCol struct{ pos, idx int }
	var pks []pkCol
	for i, sc := range scols {
		unsigned := strings.Contains(sc.columnType, "unsigned")
		var k kind
		width, bits := 0, 0
		var labels []string
		switch sc.dataType {
		case "tinyint":
			k, width = kInt, 1
		case "smallint":
			k, width = kInt, 2
		case "mediumint":
			k, width = kInt, 3
		case "int", "integer":
			k, width = kInt, 4
		case "bigint":
			k, width = kInt, 8
		case "decimal", "numeric":
			k = kDecimal
		case "float":
			k = kFloat
		case "double", "real":
			k = kDouble
		case "bit":
			k, bits = kBit, sc.prec
		case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
			k = kText
			if ref.json[sc.name] {
				k = kJSON
			}
		case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
			k = kBinary
		case "json":
			k = kJSON
		case "enum":
			k, labels = kEnum, parseLabels(sc.columnType)
		case "set":
			k, labels = kSet, parseLabels(sc.columnType)
		case "date":
			k = kDate
		case "time":
			k = kTime
		case "datetime":
			k = kDatetime
		case "timestamp":
			k = kTimestamp
		case "year":
			k = kYear
		case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
			k = kGeometry
		default:
			k = kText
		}
		if k == kInt && unsigned {
			k = kUint
			if width == 8 {
				k = kUint64
			}
		}
		c := column(sc.name, k, sc.fsp, sc.prec, sc.scale, bits, labels, sc.nullable)
		if k == kInt || k == kUint {
			c.Type = intType(width, k == kUint)
		}
		c.DBType = kindName[k]
		t.Columns[i] = c
		cols[i] = colInfo{kind: k, bits: bits, labels: labels, notNull: !sc.nullable}
		if sc.pkPos > 0 {
			pks = append(pks, pkCol{sc.pkPos, i})
		}
	}
	t.Key = make([]int, len(pks))
	for _, p := range pks {
		if p.pos-1 < len(pks) {
			t.Key[p.pos-1] = p.idx
			t.Columns[p.idx].Key = true
		}
	}
	if len(pks) == 0 {
		t.Key = nil
	}
	return &relation{table: t, cols: cols}
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
