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

	// The stream's count of this table's events in the current
	// transaction (Debezium's data_collection_order), valid while
	// orderTx is the stream's transaction number.
	order   int64
	orderTx uint64
}

// refinements are facts about a table the binlog does not carry, read
// from the information schema: which columns MariaDB's JSON alias made
// LONGTEXT.
type refinements struct {
	json map[string]bool
}

// typeOf maps a binlog column type and its metadata onto a colType. For
// MYSQL_TYPE_STRING the real type (ENUM, SET, CHAR) is in the metadata.
func typeOf(tm *replication.TableMapEvent, i int) colType {
	t, meta := tm.ColumnType[i], tm.ColumnMeta[i]
	if t == mysql.MYSQL_TYPE_STRING && meta >= 256 {
		if rt := byte(meta >> 8); rt == mysql.MYSQL_TYPE_ENUM || rt == mysql.MYSQL_TYPE_SET {
			t = rt
		}
	}
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
	// VARCHAR, VAR_STRING, STRING, BLOB: text or binary by character set.
	return colType{kind: kText}
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
		ct := typeOf(tm, i)
		ct.unsigned = unsigned[i]
		switch ct.kind {
		case kText:
			cs := charsetOf(collations[i])
			switch {
			case cs == "binary":
				ct.kind = kBinary
			case ref.json[names[i]]:
				ct.kind, ct.dec = kJSON, decoderFor(cs)
			default:
				ct.dec = decoderFor(cs)
			}
		case kEnum:
			ct.labels = enumLabels[i]
		case kSet:
			ct.labels = setLabels[i]
		}
		_, nullable := tm.Nullable(i)
		t.Columns[i], cols[i] = newColumn(names[i], ct, nullable)
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
	name, dataType, columnType string
	nullable                   bool
	prec, scale, fsp           int
	pkPos                      int // 1-based position in the primary key, 0 when not part of it
}

// relationFromSchema describes a table from the information schema, for
// snapshots; it matches buildRelation for the same definition.
func relationFromSchema(db, name string, scols []schemaColumn, ref refinements) *relation {
	t := &sluice.Table{DB: db, Name: name, Columns: make([]sluice.Column, len(scols))}
	cols := make([]colInfo, len(scols))
	type pkCol struct{ pos, idx int }
	var pks []pkCol
	for i, sc := range scols {
		ct := schemaType(sc.dataType)
		ct.unsigned = strings.Contains(sc.columnType, "unsigned")
		ct.fsp, ct.prec, ct.scale = sc.fsp, sc.prec, sc.scale
		switch ct.kind {
		case kBit:
			ct.bits = sc.prec // BIT(n) reports n as NUMERIC_PRECISION
		case kText:
			if ref.json[sc.name] {
				ct.kind = kJSON
			}
		case kEnum, kSet:
			ct.labels = parseLabels(sc.columnType)
		}
		t.Columns[i], cols[i] = newColumn(sc.name, ct, sc.nullable)
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
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
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
