package mysql

import (
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// schemaChanged forgets what was learned about tables when a DDL
// statement runs, and reports whether the statement names a captured
// table.
func (st *stream) schemaChanged(db, q string) bool {
	lq := strings.ToLower(q)
	if !strings.HasPrefix(lq, "alter") && !strings.HasPrefix(lq, "create") && !strings.HasPrefix(lq, "drop") && !strings.HasPrefix(lq, "rename") && !strings.HasPrefix(lq, "truncate") {
		return false
	}
	clear(st.refCache)
	clear(st.rels)
	if !st.namesCaptured(db, q) {
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

// emitDDL emits a schema change event for a DDL statement.
func (st *stream) emitDDL(h *replication.EventHeader, db, q string, thread uint64) error {
	at := st.at(h)
	start := st.tx.start
	if !st.tx.open {
		start = at
	}
	return st.emit(&sluice.Event{Op: sluice.OpSchemaChange, DDL: &sluice.DDL{Database: db, Statement: q},
		Pos:        sluice.Position{LSN: at, TxLSN: start},
		CommitTime: time.Unix(int64(h.Timestamp), 0), Binlog: st.binlogOf(h, start, thread)})
}

// truncate shortens a statement to n bytes for the log.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
