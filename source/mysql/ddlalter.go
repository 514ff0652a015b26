package mysql

import (
	"slices"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// applyAlter returns the structure of a table after an ALTER TABLE
// statement, from its structure before (which it does not change). It
// follows the clauses that change what a TableStructure holds: ADD,
// DROP, CHANGE, MODIFY, RENAME and ALTER COLUMN, ADD/DROP PRIMARY KEY,
// the table's character set and comment, and skips indexes, constraints
// and table options. ok is false for a statement it cannot follow
// (RENAME TO, partitioning, a clause it does not know): the caller then
// reads the structure from the server.
func applyAlter(q string, before *sluice.TableStructure) (*sluice.TableStructure, bool) {
	p := &ddlScanner{s: q}
	if !p.word("ALTER") {
		return nil, false
	}
	p.word("ONLINE")
	p.word("IGNORE")
	if !p.word("TABLE") {
		return nil, false
	}
	p.ifExists("")
	if _, ok := p.table(""); !ok {
		return nil, false
	}
	t := &sluice.TableStructure{DefaultCharset: before.DefaultCharset, Comment: before.Comment,
		PrimaryKey: slices.Clone(before.PrimaryKey), Columns: slices.Clone(before.Columns)}
	for {
		p.skip()
		if p.i >= len(p.s) {
			break
		}
		if !p.alterClause(t) {
			return nil, false
		}
		if !p.punct(',') {
			p.skip()
			if p.i < len(p.s) {
				return nil, false
			}
			break
		}
	}
	setKey(t, t.PrimaryKey)
	return t, true
}

// alterClause applies one clause of an ALTER TABLE to t.
func (p *ddlScanner) alterClause(t *sluice.TableStructure) bool {
	switch {
	case p.word("ADD"):
		if p.word("PRIMARY") || p.word("CONSTRAINT") && (p.word("PRIMARY") || p.skipName() && p.word("PRIMARY")) {
			p.word("KEY")
			t.PrimaryKey = p.keyColumns()
			return true
		}
		if p.word("INDEX", "KEY", "UNIQUE", "FULLTEXT", "SPATIAL", "FOREIGN", "CHECK", "CONSTRAINT", "PERIOD", "SYSTEM") {
			p.skipElement()
			return true
		}
		p.word("COLUMN")
		p.ifExists("NOT")
		if p.punct('(') {
			for {
				c, ok := p.columnDef()
				if !ok {
					return false
				}
				addColumn(t, c, len(t.Columns))
				if p.punct(')') {
					return true
				}
				if !p.punct(',') {
					return false
				}
			}
		}
		c, ok := p.columnDef()
		if !ok {
			return false
		}
		at, ok := p.placement(t, len(t.Columns))
		if !ok {
			return false
		}
		addColumn(t, c, at)
		return true
	case p.word("DROP"):
		switch {
		case p.word("PRIMARY"):
			p.word("KEY")
			t.PrimaryKey = nil
			return true
		case p.word("INDEX", "KEY", "FOREIGN", "CHECK", "CONSTRAINT", "PERIOD", "SYSTEM"):
			p.skipElement()
			return true
		}
		p.word("COLUMN")
		p.ifExists("")
		name, ok := p.ident()
		if !ok {
			return false
		}
		if i := columnIndex(t, name); i >= 0 {
			t.Columns = slices.Delete(t.Columns, i, i+1)
		}
		t.PrimaryKey = slices.DeleteFunc(t.PrimaryKey, func(k string) bool { return strings.EqualFold(k, name) })
		p.word("RESTRICT", "CASCADE")
		return true
	case p.word("CHANGE"):
		return p.changeColumn(t, false)
	case p.word("MODIFY"):
		return p.changeColumn(t, true)
	case p.word("RENAME"):
		if !p.word("COLUMN") {
			return false // RENAME TO: another table; RENAME INDEX needs no change but is rare
		}
		old, ok1 := p.ident()
		_ = p.word("TO")
		name, ok2 := p.ident()
		i := columnIndex(t, old)
		if !ok1 || !ok2 || i < 0 {
			return false
		}
		t.Columns[i].Name = name
		for k, n := range t.PrimaryKey {
			if strings.EqualFold(n, old) {
				t.PrimaryKey[k] = name
			}
		}
		return true
	case p.word("ALTER"):
		p.word("COLUMN")
		name, ok := p.ident()
		i := columnIndex(t, name)
		if !ok || i < 0 {
			return false
		}
		switch {
		case p.word("SET") && p.word("DEFAULT"):
			t.Columns[i].Default, t.Columns[i].HasDefault = p.defaultValue()
		case p.word("DROP") && p.word("DEFAULT"):
			t.Columns[i].Default, t.Columns[i].HasDefault = "", false
		default:
			return false
		}
		return true
	case p.word("CONVERT"):
		if !p.word("TO") || !(p.word("CHARSET") || p.word("CHARACTER") && p.word("SET")) {
			return false
		}
		cs := p.name()
		t.DefaultCharset = cs
		for i := range t.Columns {
			if t.Columns[i].Charset != "" {
				t.Columns[i].Charset = cs
			}
		}
		p.skipElement()
		return true
	case p.word("DEFAULT"):
		if p.word("COLLATE") {
			return p.tableCollation(t)
		}
		if !(p.word("CHARSET") || p.word("CHARACTER") && p.word("SET")) {
			return false
		}
		t.DefaultCharset = p.name()
		p.skipElement()
		return true
	case p.word("CHARSET"), p.word("CHARACTER") && p.word("SET"):
		t.DefaultCharset = p.name()
		p.skipElement()
		return true
	case p.word("COLLATE"):
		return p.tableCollation(t)
	case p.word("COMMENT"):
		p.punct('=')
		t.Comment, _ = p.str()
		return true
	case p.word("ENGINE", "ALGORITHM", "LOCK", "AUTO_INCREMENT", "ROW_FORMAT", "FORCE", "KEY_BLOCK_SIZE", "STATS_PERSISTENT",
		"STATS_AUTO_RECALC", "STATS_SAMPLE_PAGES", "PAGE_CHECKSUM", "PACK_KEYS", "CHECKSUM", "DELAY_KEY_WRITE", "ORDER", "ENABLE", "DISABLE"):
		p.skipElement()
		return true
	}
	return false
}

// changeColumn applies CHANGE [COLUMN] old def or MODIFY [COLUMN] def,
// with FIRST or AFTER: without either the column keeps its place.
func (p *ddlScanner) changeColumn(t *sluice.TableStructure, modify bool) bool {
	p.word("COLUMN")
	p.ifExists("")
	old := ""
	if !modify {
		var ok bool
		if old, ok = p.ident(); !ok {
			return false
		}
	}
	c, ok := p.columnDef()
	if !ok {
		return false
	}
	if modify {
		old = c.name
	}
	i := columnIndex(t, old)
	if i < 0 {
		return false
	}
	t.Columns = slices.Delete(t.Columns, i, i+1)
	at, ok := p.placement(t, i)
	if !ok {
		return false
	}
	addColumn(t, c, at)
	for k, n := range t.PrimaryKey {
		if strings.EqualFold(n, old) {
			t.PrimaryKey[k] = c.name
		}
	}
	return true
}

// tableCollation applies [DEFAULT] COLLATE [=] name: the table's
// character set is the collation's.
func (p *ddlScanner) tableCollation(t *sluice.TableStructure) bool {
	if cs := collationCharset(p.name()); cs != "" {
		t.DefaultCharset = cs
	}
	return true
}

// skipName consumes an identifier and reports true (for CONSTRAINT name).
func (p *ddlScanner) skipName() bool {
	p.ident()
	return true
}

// placement reads FIRST or AFTER col: the index the column goes to;
// without either, def.
func (p *ddlScanner) placement(t *sluice.TableStructure, def int) (int, bool) {
	switch {
	case p.word("FIRST"):
		return 0, true
	case p.word("AFTER"):
		name, ok := p.ident()
		i := columnIndex(t, name)
		if !ok || i < 0 {
			return 0, false
		}
		return i + 1, true
	}
	return def, true
}

// addColumn inserts a declared column at index at.
func addColumn(t *sluice.TableStructure, c *colDef, at int) {
	t.Columns = slices.Insert(t.Columns, at, c.structure(t.DefaultCharset))
	if c.pk {
		t.PrimaryKey = []string{c.name}
	}
}

// columnIndex is the index of the column named name (names are case
// insensitive), or -1.
func columnIndex(t *sluice.TableStructure, name string) int {
	for i := range t.Columns {
		if strings.EqualFold(t.Columns[i].Name, name) {
			return i
		}
	}
	return -1
}
