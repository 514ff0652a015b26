package mysql

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice"
)

// relation is a captured table as one table map event (or, for snapshots,
// the information schema) describes it.
type relation struct {
	table *sluice.Table
	cols  []colInfo
	// native: the row decoder (rowimage.go) reads every column's values.
	native bool

	// The stream's count of this table's events in the current
	// transaction (Debezium's data_collection_order), valid while
	// orderTx is the stream's transaction number.
	order   int64
	orderTx uint64
}

// refinements are facts about a table the binlog does not carry, read
// from the information schema: which columns MariaDB's JSON alias made
// LONGTEXT, which geometries are POINTs (for servers whose table map
// has no geometry types), and the columns' literal defaults.
type refinements struct {
	json  map[string]bool
	point map[string]bool
	// defaults holds the text of each column's literal default, unquoted
	// (MariaDB's COLUMN_DEFAULT quotes string literals, MySQL's does
	// not); expressions such as CURRENT_TIMESTAMP and NULL are left out.
	defaults map[string]string
}

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
	geomTypes := tm.GeometryTypeMap() // nil when the server does not send them
	// ENUM and SET columns' character sets come apart from the text
	// columns' (CollationMap) in the table map.
	enumSetCollations := tm.EnumSetCollationMap()
	t := &sluice.Table{ID: uint32(tm.TableID), DB: string(tm.Schema), Name: string(tm.Table), Columns: make([]sluice.Column, n)}
	cols := make([]colInfo, n)
	native := true
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
		case kEnum, kSet:
			labels := enumLabels[i]
			if ct.kind == kSet {
				labels = setLabels[i]
			}
			var err error
			if ct.labels, err = labelsToUTF8(labels, charsetOf(enumSetCollations[i])); err != nil {
				return nil, fmt.Errorf("table map of %s.%s, column %s: %w", tm.Schema, tm.Table, names[i], err)
			}
		case kGeometry:
			if geomTypes != nil {
				ct.point = geomTypes[i] == geometryPoint
			} else {
				ct.point = ref.point[names[i]]
			}
		}
		_, nullable := tm.Nullable(i)
		t.Columns[i], cols[i] = columnFor(names[i], ct, nullable)
		if d, ok := ref.defaults[names[i]]; ok {
			setDefault(&t.Columns[i], &cols[i], d)
		}
		cols[i].wire, cols[i].meta = wireOf(tm.ColumnType[i], tm.ColumnMeta[i]), tm.ColumnMeta[i]
		native = native && nativeWire(cols[i].wire)
	}
	for _, pk := range tm.PrimaryKey {
		if int(pk) < n {
			t.Key = append(t.Key, int(pk))
			t.Columns[pk].Key = true
		}
	}
	return &relation{table: t, cols: cols, native: native}, nil
}

// labelsToUTF8 converts ENUM or SET labels from a table map, which holds
// them as the column stores them, in its character set, to UTF-8: they
// are both the streamed values and the schema's allowed labels, and the
// snapshot reads them from the information schema as UTF-8, so a latin1
// 'café' must not stream as "caf\xe9". As for text columns (fromText), a
// character set sluice does not convert is passed through, with invalid
// UTF-8 replaced by U+FFFD.
func labelsToUTF8(labels []string, charset string) ([]string, error) {
	if labels == nil {
		return nil, nil
	}
	dec := decoderFor(charset)
	out := make([]string, len(labels))
	for i, l := range labels {
		if dec != nil {
			b, err := dec.Bytes([]byte(l))
			if err != nil {
				return nil, fmt.Errorf("label %q from %s to UTF-8: %w", l, charset, err)
			}
			l = string(b)
		}
		out[i] = strings.ToValidUTF8(l, "\uFFFD")
	}
	return out, nil
}

// geometryPoint is POINT in the table map's geometry types (MySQL's
// Field::geometry_type).
const geometryPoint = 1

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
		t.Columns[i], cols[i] = columnFor(sc.name, ct, sc.nullable)
		if d, ok := ref.defaults[sc.name]; ok {
			setDefault(&t.Columns[i], &cols[i], d)
		}
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

// errTableGone is describeTable's error for a table that does not exist
// (any more): the snapshots skip such a table instead of failing on it.
var errTableGone = errors.New("table does not exist (dropped?)")

// describeTable reads a table's columns from the information schema, for
// snapshots, which read a table before any table map describes it.
func describeTable(c *client.Conn, db, name string, mariadb bool) (*relation, error) {
	r, err := c.Execute(`SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.IS_NULLABLE,
		IFNULL(c.NUMERIC_PRECISION, 0), IFNULL(c.NUMERIC_SCALE, 0), IFNULL(c.DATETIME_PRECISION, 0),
		IFNULL((SELECT k.ORDINAL_POSITION FROM information_schema.KEY_COLUMN_USAGE k WHERE k.TABLE_SCHEMA = c.TABLE_SCHEMA
			AND k.TABLE_NAME = c.TABLE_NAME AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY'), 0)
		FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION`, db, name)
	if err != nil {
		return nil, fmt.Errorf("mysql source: describe %s.%s: %w", db, name, err)
	}
	cols := make([]schemaColumn, r.RowNumber())
	for i := range cols {
		sc := &cols[i]
		sc.name, _ = r.GetString(i, 0)
		sc.dataType, _ = r.GetString(i, 1)
		sc.columnType, _ = r.GetString(i, 2)
		n, _ := r.GetString(i, 3)
		sc.nullable = n == "YES"
		p, _ := r.GetInt(i, 4)
		sc.prec = int(p)
		sc2, _ := r.GetInt(i, 5)
		sc.scale = int(sc2)
		f, _ := r.GetInt(i, 6)
		sc.fsp = int(f)
		k, _ := r.GetInt(i, 7)
		sc.pkPos = int(k)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("mysql source: %s.%s: %w", db, name, errTableGone)
	}
	ref, err := refine(c, db, name, mariadb)
	if err != nil {
		return nil, err
	}
	return relationFromSchema(db, name, cols, ref), nil
}

// refine reads what the binlog does not say about a table: MariaDB's
// JSON columns are LONGTEXT with a json_valid() check constraint, which
// geometry columns are POINTs (used when the table map carries no
// geometry types), and the columns' defaults. mariadb selects how
// COLUMN_DEFAULT is written (literalDefault).
func refine(c *client.Conn, db, name string, mariadb bool) (refinements, error) {
	ref := refinements{json: map[string]bool{}, point: map[string]bool{}, defaults: map[string]string{}}
	r, err := c.Execute(`SELECT COLUMN_NAME, DATA_TYPE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND (DATA_TYPE IN ('json', 'point') OR COLUMN_DEFAULT IS NOT NULL)`, db, name)
	if err != nil {
		return ref, fmt.Errorf("mysql source: columns of %s.%s: %w", db, name, err)
	}
	for i := 0; i < r.RowNumber(); i++ {
		n, _ := r.GetString(i, 0)
		switch t, _ := r.GetString(i, 1); t {
		case "point":
			ref.point[n] = true
		case "json":
			ref.json[n] = true
		}
		if isNull, _ := r.IsNull(i, 2); !isNull {
			def, _ := r.GetString(i, 2)
			extra, _ := r.GetString(i, 3)
			if lit, ok := literalDefault(def, extra, mariadb); ok {
				ref.defaults[n] = lit
			}
		}
	}
	r, err = c.Execute("SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?", db, name)
	if err != nil {
		return ref, nil // MySQL before 8.0.16 has no such view; MySQL JSON is a real type anyway
	}
	for i := 0; i < r.RowNumber(); i++ {
		cl, _ := r.GetString(i, 0)
		if col, ok := strings.CutPrefix(cl, "json_valid(`"); ok {
			if end := strings.Index(col, "`)"); end > 0 && end == len(col)-2 {
				ref.json[strings.ReplaceAll(col[:end], "``", "`")] = true
			}
		}
	}
	return ref, nil
}

// literalDefault reads a literal default from information_schema's
// COLUMN_DEFAULT and EXTRA. MariaDB (10.2.7 on) quotes string literals,
// '2000-01-01', and writes expressions and NULL bare; MySQL writes the
// literal bare and marks expression defaults DEFAULT_GENERATED in EXTRA
// (8.0.13 on; CURRENT_TIMESTAMP before that, which no converter accepts).
// Not a literal: ok is false.
func literalDefault(def, extra string, mariadb bool) (string, bool) {
	if !mariadb {
		if strings.Contains(strings.ToUpper(extra), "DEFAULT_GENERATED") {
			return "", false
		}
		return def, true
	}
	if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
		return "", false
	}
	body := def[1 : len(def)-1]
	if strings.ContainsRune(body, '\\') {
		return "", false // escapes other than '' are not read: no default rather than a wrong one
	}
	return strings.ReplaceAll(body, "''", "'"), true
}
