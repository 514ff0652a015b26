package mysql

import (
	"maps"
	"strings"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// structures is what the source knows of the captured tables'
// definitions, by "db.table", for the tableChanges of schema change
// events: the snapshot's SHOW CREATE TABLE, then each streamed DDL
// applied to it (ddlstruct.go). The snapshot hands its structures to the
// stream of the same run (Source.snapStructs).
type structures map[string]*sluice.TableStructure

// tableChanges describes what DDL statement q in default database db
// does to the tables it changes, with their structures after it, and
// updates the stream's structures. target is the statement's parse;
// drop, for one table of a DROP TABLE, is that table. A statement on no
// table, or one it cannot describe, has none.
//
// A table the stream has no structure for (the stream did not start
// with this run's snapshot, or the statement is one applyAlter cannot
// follow) is described by SHOW CREATE TABLE now, which may already
// include later changes the stream has not read yet: the only case where
// tableChanges can be ahead of the statement.
func (st *stream) tableChanges(db, q string, target ddlTarget, drop *tableID) []sluice.TableChange {
	if drop != nil {
		delete(st.structs, drop.db+"."+drop.name)
		return []sluice.TableChange{{Type: "DROP", DB: drop.db, Name: drop.name}}
	}
	if (&ddlScanner{s: q}).word("RENAME") {
		// RENAME TABLE: Debezium's description is not recorded here, and
		// the old names are not kept; what is known of the renamed
		// tables is read from the server when next needed.
		clear(st.structs)
		return nil
	}
	if len(target.tables) != 1 {
		return nil // statements on no table
	}
	id := target.tables[0]
	key := id.db + "." + id.name
	var t *sluice.TableStructure
	ok := false
	typ := "ALTER"
	switch {
	case isCreateTable(q):
		typ = "CREATE"
		t, ok = parseCreateTable(q, st.databaseCharset(id.db))
	case (&ddlScanner{s: q}).word("ALTER"):
		if before := st.structs[key]; before != nil {
			t, ok = applyAlter(q, before)
		}
	default: // CREATE INDEX, DROP INDEX: the columns stay as they were
		t = st.structs[key]
		ok = t != nil && !strings.Contains(strings.ToUpper(q), "PRIMARY")
	}
	if !ok {
		if t = st.serverStructure(id.db, id.name); t == nil {
			delete(st.structs, key) // gone (ALTER TABLE … RENAME TO): nothing stale stays
			return nil
		}
		st.log.Info("table structure read from the server", zap.String("table", key),
			zap.String("why", "no structure known before the statement, or a statement the DDL reader does not follow"))
	}
	st.structs[key] = t
	return []sluice.TableChange{{Type: typ, DB: id.db, Name: id.name, Table: t}}
}

// isCreateTable reports whether q is a CREATE [OR REPLACE] [TEMPORARY]
// TABLE statement.
func isCreateTable(q string) bool {
	p := &ddlScanner{s: q}
	if !p.word("CREATE") || p.word("OR") && !p.word("REPLACE") {
		return false
	}
	p.word("TEMPORARY")
	return p.word("TABLE")
}

// serverStructure reads a table's structure from SHOW CREATE TABLE; nil
// when the table is gone or the statement is not read.
func (st *stream) serverStructure(db, name string) *sluice.TableStructure {
	if st.conn == nil {
		return nil
	}
	r, err := st.conn.Execute("SHOW CREATE TABLE " + quoteTable(db, name))
	if err != nil || r.RowNumber() == 0 {
		return nil
	}
	stmt, _ := r.GetString(0, 1)
	t, _ := parseCreateTable(stmt, st.databaseCharset(db))
	return t
}

// databaseCharset is a database's default character set, which a
// CREATE TABLE without one gives the table: read when first needed,
// then kept (ALTER DATABASE … CHARACTER SET is not followed).
func (st *stream) databaseCharset(db string) string {
	if cs, ok := st.dbCharsets[db]; ok {
		return cs
	}
	if st.conn == nil {
		return ""
	}
	cs, err := queryString(st.conn, "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db)
	if err != nil {
		return ""
	}
	st.dbCharsets[db] = cs
	return cs
}

// takeSnapStructs hands the structures this run's snapshot read to the
// stream (none when there was no snapshot). Both run on the run's
// goroutine, one after the other.
func (s *Source) takeSnapStructs() structures {
	out := maps.Clone(s.snapStructs)
	s.snapStructs = nil
	if out == nil {
		out = structures{}
	}
	return out
}
