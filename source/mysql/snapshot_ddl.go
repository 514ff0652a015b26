package mysql

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// snapshotDDL is one schema change event a snapshot writes before its
// rows.
type snapshotDDL struct {
	db, stmt, table string
	changes         []sluice.TableChange
}

// snapshotSchema reads the schema change events Debezium's MySQL and
// MariaDB snapshot writes before its rows (include.schema.changes), in
// its order, so that a consumer rebuilding the schema from the schema
// change topic starts from the captured tables' definitions:
//
//	SET character_set_server=…, collation_server=…
//	DROP TABLE IF EXISTS `db`.`t`           per table, by name
//	DROP DATABASE IF EXISTS `db`            per database, by name,
//	CREATE DATABASE `db` CHARSET … COLLATE …   each followed by
//	USE `db`
//	SHOW CREATE TABLE's statement           per table, in javaHashOrder
//
// Each CREATE TABLE carries the structure parsed from its statement
// (Debezium's tableChanges), which the run's stream starts from
// (Source.snapStructs). It runs inside the snapshot transaction, so the
// definitions are those of the rows the snapshot reads. tables are
// "db.table" names.
func (r *snapReader) snapshotSchema(tables []string) ([]snapshotDDL, error) {
	res, err := r.conn.Execute("SELECT @@character_set_server, @@collation_server")
	if err != nil {
		return nil, fmt.Errorf("mysql source: read the server's character set: %w", err)
	}
	cs, _ := res.GetString(0, 0)
	coll, _ := res.GetString(0, 1)
	out := []snapshotDDL{{stmt: "SET character_set_server=" + cs + ", collation_server=" + coll}}
	sorted := slices.Clone(tables)
	slices.Sort(sorted)
	var dbs []string
	for _, t := range sorted {
		db, name, _ := strings.Cut(t, ".")
		out = append(out, snapshotDDL{db: db, table: name, stmt: "DROP TABLE IF EXISTS " + quoteTable(db, name),
			changes: []sluice.TableChange{{Type: "DROP", DB: db, Name: name}}})
		if !slices.Contains(dbs, db) {
			dbs = append(dbs, db)
		}
	}
	dbCharset := map[string]string{}
	for _, db := range dbs {
		res, err := r.conn.Execute("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", db)
		if err != nil {
			return nil, fmt.Errorf("mysql source: read the character set of database %s: %w", db, err)
		}
		create := "CREATE DATABASE " + quoteIdent(db)
		if res.RowNumber() > 0 {
			dcs, _ := res.GetString(0, 0)
			dbCharset[db] = dcs
			dcoll, _ := res.GetString(0, 1)
			create += " CHARSET " + dcs + " COLLATE " + dcoll
		}
		out = append(out, snapshotDDL{db: db, stmt: "DROP DATABASE IF EXISTS " + quoteIdent(db)},
			snapshotDDL{db: db, stmt: create}, snapshotDDL{db: db, stmt: "USE " + quoteIdent(db)})
	}
	structs := structures{}
	r.src.snapStructs = structs
	for _, t := range javaHashOrder(sorted) {
		db, name, _ := strings.Cut(t, ".")
		res, err := r.conn.Execute("SHOW CREATE TABLE " + quoteTable(db, name))
		if err != nil {
			return nil, fmt.Errorf("mysql source: SHOW CREATE TABLE %s: %w", t, err)
		}
		stmt, _ := res.GetString(0, 1)
		d := snapshotDDL{db: db, table: name, stmt: stmt}
		if ts, ok := parseCreateTable(stmt, dbCharset[db]); ok {
			d.changes = []sluice.TableChange{{Type: "CREATE", DB: db, Name: name, Table: ts}}
			structs[t] = ts
		}
		out = append(out, d)
	}
	return out, nil
}

// emitSnapshotSchema emits the snapshot's schema change events, all at
// the snapshot's binlog position with snapshot "true". Their event ids
// share a position two bytes before it (the rows' is one byte before:
// see "Event ids" in snapshot.go), numbered from 1 in order.
func (r *snapReader) emitSnapshotSchema(ddls []snapshotDDL) error {
	for i, d := range ddls {
		if err := r.w.emitEvent(&sluice.Event{Op: sluice.OpSchemaChange, DDL: &sluice.DDL{Database: d.db, Statement: d.stmt, Table: d.table, Changes: d.changes},
			Snapshot: sluice.SnapshotTrue, Pos: sluice.Position{LSN: r.pos, TxLSN: r.pos - 2}, CommitTime: r.readAt, Binlog: r.binlog,
			TxOrder: int64(i + 1), TableOrder: 1}); err != nil {
			return err
		}
	}
	return nil
}

// javaHashOrder orders "db.table" names as Debezium iterates the tables
// whose CREATE TABLE its snapshot writes: a java.util.HashSet of TableIds,
// filled in name order, iterates by hash bucket (TableId's hash is that
// of the string "db.table"; the bucket is the spread hash modulo the
// table's capacity, which starts at 16 and doubles once the set holds
// more than three quarters of it), and in insertion order within a
// bucket. sorted must be in name order.
func javaHashOrder(sorted []string) []string {
	capacity := 16
	for len(sorted) > capacity*3/4 {
		capacity *= 2
	}
	bucket := func(s string) int {
		var h uint32
		for _, c := range utf16Units(s) {
			h = 31*h + uint32(c)
		}
		return int((h ^ h>>16) & uint32(capacity-1))
	}
	out := slices.Clone(sorted)
	slices.SortStableFunc(out, func(a, b string) int { return bucket(a) - bucket(b) })
	return out
}

// utf16Units is s as Java's String holds it, for its hashCode.
func utf16Units(s string) []uint16 {
	var u []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			u = append(u, uint16(0xd800+(r>>10)), uint16(0xdc00+(r&0x3ff)))
			continue
		}
		u = append(u, uint16(r))
	}
	return u
}
