package codec

import (
	"github.com/sluice-cdc/sluice"
)

// tableFrags are the JSON pieces of one table that every event of it
// repeats, escaped once instead of per event: each column's `"name":`,
// source.db and `,"schema":…,"table":…`; and how each column is written. Tables are immutable once
// emitted, so the pieces are built once per *Table.
type tableFrags struct {
	t           *sluice.Table
	names       [][]byte  // `"column":` per column
	db          []byte    // source.db as a JSON string
	schemaTable []byte    // `,"schema":"…","table":"…"` (PostgreSQL) or `,"table":"…"` (MySQL)
	plans       []colPlan // how each column's values are written
}

// maxCachedTables bounds the fragment cache; it is cleared when full (a
// new *Table appears only on a schema change).
const maxCachedTables = 4096

// frags returns t's fragments. The last table's are found without a lock,
// which covers runs of events of one table; others come from a map.
func (e *Encoder) frags(t *sluice.Table) *tableFrags {
	if f := e.lastFrags.Load(); f != nil && f.t == t {
		return f
	}
	e.mu.Lock()
	f, ok := e.fragC[t]
	if !ok {
		f = e.buildFrags(t)
		if len(e.fragC) >= maxCachedTables {
			clear(e.fragC)
		}
		e.fragC[t] = f
	}
	e.mu.Unlock()
	e.lastFrags.Store(f)
	return f
}

func (e *Encoder) buildFrags(t *sluice.Table) *tableFrags {
	f := &tableFrags{t: t, names: make([][]byte, len(t.Columns)), plans: make([]colPlan, len(t.Columns))}
	for i := range t.Columns {
		f.plans[i] = e.planFor(&t.Columns[i])
	}
	var buf []byte
	ends := make([]int, len(t.Columns))
	for i := range t.Columns {
		buf = appendStr(buf, t.Columns[i].Name)
		buf = append(buf, ':')
		ends[i] = len(buf)
	}
	start := 0
	for i, end := range ends {
		f.names[i] = buf[start:end:end]
		start = end
	}
	f.db = appendStr(nil, t.DB)
	if !e.mysql {
		f.schemaTable = append(f.schemaTable, `,"schema":`...)
		f.schemaTable = appendStr(f.schemaTable, t.Schema)
	}
	f.schemaTable = append(f.schemaTable, `,"table":`...)
	f.schemaTable = appendStr(f.schemaTable, t.Name)
	return f
}
