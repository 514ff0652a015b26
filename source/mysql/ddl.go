package mysql

import (
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// schemaChanged forgets what was learned about tables when a DDL
// statement runs, and reports whether the statement names a captured
// table or, when the source captures its whole database (no tables
// listed), changes a table of that database: a table created after the
// start, as Debezium reports every table of the databases it reads.
func (st *stream) schemaChanged(db, q string) bool {
	lq := strings.ToLower(q)
	if !strings.HasPrefix(lq, "alter") && !strings.HasPrefix(lq, "create") && !strings.HasPrefix(lq, "drop") && !strings.HasPrefix(lq, "rename") && !strings.HasPrefix(lq, "truncate") {
		return false
	}
	clear(st.refCache)
	clear(st.rels)
	if !st.namesCaptured(db, q) && !st.inCapturedDatabase(db, q) {
		return false
	}
	st.log.Info("schema change", zap.String("db", db), zap.String("statement", truncate(q, 500)))
	return true
}

// namesCaptured reports whether a statement mentions a captured table,
// as db.table or as a bare name in its default database db.
func (st *stream) namesCaptured(db, q string) bool {
	words := strings.FieldsFunc(q, func(r rune) bool {
		return !(r == '_' || r == '.' || r == '$' || r == '`' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127)
	})
	for _, w := range words {
		w = strings.ReplaceAll(w, "`", "")
		if st.tables[w] || st.tables[db+"."+w] {
			return true
		}
	}
	return false
}

// inCapturedDatabase reports whether the source captures every table
// of its DSN's database and the statement changes a table there.
func (st *stream) inCapturedDatabase(db, q string) bool {
	if st.src.cfg.Tables != nil || st.src.dsn.DB == "" {
		return false
	}
	for _, t := range parseDDL(q, db).tables {
		if t.db == st.src.dsn.DB {
			return true
		}
	}
	return false
}

// emitDDL emits a schema change event for a DDL statement, naming the
// table it changes as Debezium does. A DROP TABLE is one event per
// dropped table, each with Debezium's rewritten statement
// (ddlTarget.drops). TRUNCATE is none: its truncate event (truncated)
// is all Debezium writes for it. The events are numbered in their
// transaction (TxOrder), like the truncate event: they belong to it, so
// transaction metadata writes its BEGIN as Debezium does, and each has
// its own event id.
func (st *stream) emitDDL(h *replication.EventHeader, db, q string, thread uint64) error {
	if hasPrefixFold(q, "truncate") {
		return nil
	}
	at := st.at(h)
	start := st.tx.start
	if !st.tx.open {
		start = at
	}
	bl := st.binlogOf(h, start, thread)
	emit := func(n int, stmt, table string, changes []sluice.TableChange) error {
		return st.emit(&sluice.Event{Op: sluice.OpSchemaChange, DDL: &sluice.DDL{Database: db, Statement: stmt, Table: table, Changes: changes},
			Pos:        sluice.Position{LSN: at, TxLSN: start},
			CommitTime: time.Unix(int64(h.Timestamp), 0), Binlog: bl, TxOrder: int64(n), TableOrder: 1})
	}
	t := parseDDL(q, db)
	if t.drops == nil {
		return emit(1, q, t.names(), st.tableChanges(db, q, t, nil))
	}
	for i, stmt := range t.drops {
		if err := emit(i+1, stmt, t.tables[i].name, st.tableChanges(db, stmt, t, &t.tables[i])); err != nil {
			return err
		}
	}
	return nil
}

// truncate shortens a statement to n bytes for the log.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// truncated emits a truncate event when q is a TRUNCATE of a captured
// table. TRUNCATE empties the table without row events, so without this a
// consumer keeps every row it had (and a resumed snapshot, whose stream
// replays from before the TRUNCATE, would keep the rows read before it).
func (st *stream) truncated(h *replication.EventHeader, db, q string, thread uint64) error {
	if !hasPrefixFold(q, "truncate") {
		return nil
	}
	rest := strings.TrimLeft(q[len("truncate"):], " \t\r\n")
	if hasPrefixFold(rest, "table") && len(rest) > len("table") && strings.ContainsRune(" \t\r\n`", rune(rest[len("table")])) {
		rest = strings.TrimLeft(rest[len("table"):], " \t\r\n")
	}
	tdb, name, _, ok := tableRef(rest, db)
	if !ok || !st.tables[tdb+"."+name] {
		return nil
	}
	t := st.tableNamed(tdb, name)
	at := st.at(h)
	start := st.tx.start
	if !st.tx.open {
		start = at
	}
	st.log.Info("truncate", zap.String("table", tdb+"."+name))
	return st.emit(&sluice.Event{Op: sluice.OpTruncate, Table: t, Pos: sluice.Position{LSN: at, TxLSN: start},
		CommitTime: time.Unix(int64(h.Timestamp), 0), Binlog: st.binlogOf(h, start, thread), TxOrder: 1, TableOrder: 1})
}

// tableRef reads the table name a statement's text starts with: t, db.t,
// `t`, `db`.`t` (a doubled backtick is one inside quotes), and returns
// the text after it. A bare name is in db.
func tableRef(s, db string) (string, string, string, bool) {
	var parts []string
	for {
		var part strings.Builder
		if strings.HasPrefix(s, "`") {
			i := 1
			for ; i < len(s); i++ {
				if s[i] == '`' {
					if i+1 < len(s) && s[i+1] == '`' {
						part.WriteByte('`')
						i++
						continue
					}
					break
				}
				part.WriteByte(s[i])
			}
			if i >= len(s) {
				return "", "", "", false // unterminated
			}
			s = s[i+1:]
		} else {
			end := strings.IndexAny(s, " \t\r\n;.`(/,")
			if end < 0 {
				end = len(s)
			}
			part.WriteString(s[:end])
			s = s[end:]
		}
		if part.Len() == 0 {
			return "", "", "", false
		}
		parts = append(parts, part.String())
		if !strings.HasPrefix(s, ".") || len(parts) == 2 {
			break
		}
		s = s[1:]
	}
	if len(parts) == 2 {
		return parts[0], parts[1], s, true
	}
	return db, parts[0], s, true
}

// tableNamed is the table db.name as the stream last saw it in a table
// map, or as the information schema describes it now, or, when neither
// can, only its name.
func (st *stream) tableNamed(db, name string) *sluice.Table {
	for _, m := range st.rels {
		if m.rel != nil && m.rel.table.DB == db && m.rel.table.Name == name {
			return m.rel.table
		}
	}
	if st.conn != nil {
		if rel, err := describeTable(st.conn, db, name, st.srv.flavor == mysql.MariaDBFlavor); err == nil {
			return rel.table
		}
	}
	return &sluice.Table{DB: db, Name: name}
}
