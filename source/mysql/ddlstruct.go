package mysql

import (
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// Table structures for schema change events (sluice.DDL.Changes) are read
// from DDL text, as Debezium's schema history reads them: the snapshot's
// from SHOW CREATE TABLE, a streamed CREATE TABLE from its statement, an
// ALTER TABLE applied to the structure known before it. The text, not
// the information schema, because the information schema describes the
// table now, which may be after later statements the stream has not
// reached yet; and because Debezium reports what the DDL declared
// (INT without a display width has no length).

// parseCreateTable reads the structure a CREATE TABLE statement declares:
// its columns, primary key, default character set (dbCharset, the
// database's, when the statement names none) and comment. ok is false
// for statements it cannot follow (CREATE TABLE … LIKE, … AS SELECT
// without columns).
func parseCreateTable(q, dbCharset string) (*sluice.TableStructure, bool) {
	p := &ddlScanner{s: q}
	if !p.word("CREATE") {
		return nil, false
	}
	if p.word("OR") && !p.word("REPLACE") {
		return nil, false
	}
	p.word("TEMPORARY")
	if !p.word("TABLE") {
		return nil, false
	}
	p.ifExists("NOT")
	if _, ok := p.table(""); !ok || !p.punct('(') {
		return nil, false
	}
	var cols []*colDef
	var pk []string
	for {
		if p.word("PRIMARY") {
			p.word("KEY")
			pk = p.keyColumns()
		} else if p.word("CONSTRAINT") {
			if !p.word("PRIMARY") {
				p.ident() // the constraint's name
				if p.word("PRIMARY") {
					p.word("KEY")
					pk = p.keyColumns()
				} else {
					p.skipElement()
				}
			} else {
				p.word("KEY")
				pk = p.keyColumns()
			}
		} else if p.word("KEY", "INDEX", "UNIQUE", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK", "PERIOD") {
			p.skipElement()
		} else {
			c, ok := p.columnDef()
			if !ok {
				return nil, false
			}
			cols = append(cols, c)
		}
		if p.punct(')') {
			break
		}
		if !p.punct(',') {
			return nil, false
		}
	}
	t := &sluice.TableStructure{DefaultCharset: dbCharset}
	for p.skip(); p.i < len(p.s); p.skip() {
		switch {
		case p.word("DEFAULT"):
		case p.word("CHARSET"), p.word("CHARACTER") && p.word("SET"):
			p.punct('=')
			t.DefaultCharset = p.name()
		case p.word("COLLATE"):
			p.punct('=')
			if cs := collationCharset(p.name()); cs != "" && t.DefaultCharset == dbCharset {
				t.DefaultCharset = cs
			}
		case p.word("COMMENT"):
			p.punct('=')
			t.Comment, _ = p.str()
		default:
			p.token()
		}
	}
	for _, c := range cols {
		t.Columns = append(t.Columns, c.structure(t.DefaultCharset))
		if c.pk {
			pk = []string{c.name}
		}
	}
	setKey(t, pk)
	return t, true
}

// setKey sets t's primary key; its columns are NOT NULL.
func setKey(t *sluice.TableStructure, pk []string) {
	t.PrimaryKey = pk
	for i := range t.Columns {
		t.Columns[i].Position = i + 1
		for _, k := range pk {
			if strings.EqualFold(t.Columns[i].Name, k) {
				t.Columns[i].Optional = false
			}
		}
	}
}

// colDef is a column definition as declared.
type colDef struct {
	name, typ    string // typ: the type's words in upper case ("INT", "DOUBLE PRECISION")
	args         []int  // (length[, scale]) as declared
	labels       []string
	unsigned     bool
	zerofill     bool
	charset      string
	notNull, pk  bool
	hasDefault   bool
	def          string
	auto, gen    bool
	comment      string
	typeExplicit bool
}

// columnDef reads "name type [attributes]" up to the next top-level ','
// or ')'.
func (p *ddlScanner) columnDef() (*colDef, bool) {
	name, ok := p.ident()
	if !ok {
		return nil, false
	}
	c := &colDef{name: name}
	typ, ok := p.ident()
	if !ok {
		return nil, false
	}
	c.typ = strings.ToUpper(typ)
	if c.typ == "DOUBLE" && p.word("PRECISION") {
		c.typ = "DOUBLE PRECISION"
	}
	if p.punct('(') {
		for {
			p.skip()
			if c.typ == "ENUM" || c.typ == "SET" {
				at := p.i
				if _, ok := p.str(); !ok {
					return nil, false
				}
				c.labels = append(c.labels, p.s[at:p.i])
			} else {
				n, err := strconv.Atoi(p.token())
				if err != nil {
					return nil, false
				}
				c.args = append(c.args, n)
			}
			if p.punct(')') {
				break
			}
			if !p.punct(',') {
				return nil, false
			}
		}
	}
	for {
		p.skip()
		if p.i >= len(p.s) || p.s[p.i] == ',' || p.s[p.i] == ')' {
			return c, true
		}
		if at := p.i; p.word("FIRST", "AFTER") { // ALTER TABLE's placement, read by the caller
			p.i = at
			return c, true
		}
		switch {
		case p.word("UNSIGNED"):
			c.unsigned = true
		case p.word("ZEROFILL"):
			c.zerofill, c.unsigned = true, true
		case p.word("CHARSET"), p.word("CHARACTER") && p.word("SET"):
			c.charset = p.name()
		case p.word("COLLATE"):
			if cs := collationCharset(p.name()); c.charset == "" {
				c.charset = cs
			}
		case p.word("NOT"):
			c.notNull = p.word("NULL")
		case p.word("NULL"):
		case p.word("DEFAULT"):
			c.def, c.hasDefault = p.defaultValue()
		case p.word("AUTO_INCREMENT"):
			c.auto, c.gen = true, true
		case p.word("PRIMARY"):
			p.word("KEY")
			c.pk, c.notNull = true, true
		case p.word("COMMENT"):
			c.comment, _ = p.str()
		case p.word("GENERATED"):
			p.word("ALWAYS")
		case p.word("AS"):
			c.gen = true
			p.token() // ( expression )
		default:
			p.token()
		}
	}
}

// defaultValue reads a DEFAULT's value: a literal's text (a string
// unquoted), or the expression's text; DEFAULT NULL is none.
func (p *ddlScanner) defaultValue() (string, bool) {
	p.skip()
	if p.word("NULL") {
		return "", false
	}
	if s, ok := p.str(); ok {
		return s, true
	}
	at := p.i
	t := p.token()
	if t == "-" || t == "+" {
		p.token()
	} else if p.punct('(') { // a function call: now(), current_timestamp(6)
		p.i--
		p.token()
	}
	return strings.TrimSpace(p.s[at:p.i]), true
}

// structure is the column as Debezium's schema history describes it.
func (c *colDef) structure(tableCharset string) sluice.ColumnStructure {
	s := sluice.ColumnStructure{Name: c.name, TypeName: c.typ, Length: -1, Scale: -1, Optional: !c.notNull,
		AutoIncremented: c.auto, Generated: c.gen, Comment: c.comment, Default: c.def, HasDefault: c.hasDefault}
	if c.unsigned {
		s.TypeName += " UNSIGNED"
	}
	if c.zerofill {
		s.TypeName += " ZEROFILL"
	}
	jdbc, text := jdbcType(c.typ)
	s.JDBCType = jdbc
	if text {
		s.Charset = c.charset
		if s.Charset == "" {
			s.Charset = tableCharset
		}
	}
	switch {
	case c.typ == "ENUM":
		s.Length, s.EnumValues = 1, c.labels
	case c.typ == "SET":
		s.Length, s.EnumValues = max(0, 2*len(c.labels)-1), c.labels
	case len(c.args) > 0:
		s.Length = c.args[0]
		if len(c.args) > 1 {
			s.Scale = c.args[1]
		}
	}
	return s
}

// jdbcType is the java.sql.Types code Debezium's MySQL DDL parser gives a
// type (TINYINT is SMALLINT there), and whether the type has a character
// set.
func jdbcType(typ string) (int32, bool) {
	switch typ {
	case "BIT":
		return -7, false
	case "TINYINT", "SMALLINT":
		return 5, false
	case "MEDIUMINT", "INT", "INTEGER", "YEAR":
		return 4, false
	case "BIGINT":
		return -5, false
	case "DECIMAL", "DEC", "NUMERIC", "FIXED":
		return 3, false
	case "FLOAT":
		return 6, false
	case "DOUBLE", "DOUBLE PRECISION", "REAL":
		return 8, false
	case "BOOL", "BOOLEAN":
		return 16, false
	case "CHAR", "NCHAR", "ENUM", "SET":
		return 1, true
	case "VARCHAR", "NVARCHAR", "TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT":
		return 12, true
	case "BINARY":
		return -2, false
	case "VARBINARY":
		return -3, false
	case "TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB":
		return 2004, false
	case "DATE":
		return 91, false
	case "TIME":
		return 92, false
	case "DATETIME":
		return 93, false
	case "TIMESTAMP":
		return 2014, false
	}
	return 1111, false // OTHER: JSON, the spatial types
}

// collationCharset is the character set a collation belongs to: the
// part of its name before the first '_' ("" for binary).
func collationCharset(coll string) string {
	cs, _, ok := strings.Cut(coll, "_")
	if !ok {
		return ""
	}
	return cs
}
