package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// chunkQuery is the query of the rows after last (nil: from the start)
// in key order (ctid order for a table without a key) that flt matches,
// at most limit of them. Each column is read, then the key columns (or
// the ctid) again for the next chunk's last; readRows asks for every
// result column in the text format, which is the type's output function,
// the form pgoutput streams. A cast to text would not do: it is not the
// output function for every type (char(n) loses its padding, inet gains
// a prefix length "/128", bool spells "true"). The last
// key's texts are bound as parameters and the filter's literals after
// them; PostgreSQL infers their types from the columns they are compared
// with, so no type name is spelled out (an enum of a schema outside the
// search_path needs none).
func chunkQuery(t *sluice.Table, flt *snapshotFilter, last []*string, limit int) (string, []any) {
	var b strings.Builder
	b.WriteString("SELECT ")
	// Columns are qualified with the alias s, so that a name in ORDER BY
	// always means the table's column.
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("s." + pgx.Identifier{c.Name}.Sanitize())
	}
	keyCols := []string{"s.ctid"}
	if len(t.Key) > 0 {
		keyCols = keyCols[:0]
		for _, k := range t.Key {
			keyCols = append(keyCols, "s."+pgx.Identifier{t.Columns[k].Name}.Sanitize())
		}
	}
	for _, k := range keyCols {
		b.WriteString(", " + k)
	}
	b.WriteString(" FROM " + pgx.Identifier{t.Schema, t.Name}.Sanitize() + " AS s")
	var args []any
	var where []string
	if last != nil {
		ph := make([]string, len(keyCols))
		for i := range keyCols {
			args = append(args, last[i])
			ph[i] = "$" + strconv.Itoa(i+1)
		}
		where = append(where, "("+strings.Join(keyCols, ", ")+") > ("+strings.Join(ph, ", ")+")")
	}
	if !flt.empty() {
		var fb strings.Builder
		args = flt.appendSQL(&fb, args)
		where = append(where, fb.String())
	}
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	fmt.Fprintf(&b, " ORDER BY %s LIMIT %d", strings.Join(keyCols, ", "), limit)
	return b.String(), args
}

// chunkKeyColumns names the columns a chunk's last key holds, in its
// order: the key columns in key order, or "ctid" (no column can have that
// name) for a table without a key.
func chunkKeyColumns(t *sluice.Table) []string {
	if len(t.Key) == 0 {
		return []string{"ctid"}
	}
	names := make([]string, len(t.Key))
	for i, k := range t.Key {
		names[i] = t.Columns[k].Name
	}
	return names
}

// resumeKey is the saved last key a job resumes after, nil (from the
// start) when it was read under another key than t's. A keyset position
// means nothing in another order: after a change of the key, or of its
// order (versions before LastKeyColumns ordered the key columns as the
// table's columns, not as the key's index), the table is read again from
// the start; the rows read twice are harmless, like any overlap.
func resumeKey(job *snapshotJob, t *sluice.Table) []*string {
	if job.LastKey == nil {
		return nil
	}
	saved := job.LastKeyColumns
	if saved == nil { // written by an older version: the key in column order
		keys := slices.Sorted(slices.Values(t.Key))
		saved = chunkKeyColumns(&sluice.Table{Columns: t.Columns, Key: keys})
	}
	if len(job.LastKey) != len(saved) || !slices.Equal(saved, chunkKeyColumns(t)) {
		return nil
	}
	return job.LastKey
}

// chunkRead is one chunk as readChunk read it, with the table as the
// chunk's own transaction described it: its rows have exactly its
// columns, so they are emitted with it.
type chunkRead struct {
	rel   *relation
	from  []*string // the key the rows follow: last, or nil (the start) when the key changed
	rows  []sluice.Row
	next  []*string
	final bool
	snap  *xidSnapshot
}

// readChunk reads the rows after last, one more than the chunk size to
// learn whether the table ends here, and returns them with the snapshot
// they were read in. Values are read in their text form and decoded like
// the stream's, so both sides agree on every byte.
//
// The table is described again for every chunk, inside the chunk's
// transaction: its columns may change during a snapshot (ALTER TABLE
// ADD or DROP COLUMN), and a chunk read with the columns of the job's
// start would fail on a dropped column (a failure running the job
// again would repeat) or miss an added one that the stream's events
// carry. The transaction first takes an ACCESS SHARE lock on the table,
// which its SELECT takes anyway, before its snapshot: the column
// changes need an ACCESS EXCLUSIVE lock, so none commits between the
// description and the read, and the catalog rows the description reads
// in the snapshot are the ones the read is planned with. prev is the
// table as the chunk before was read; when the key changed (or the table
// is another one of the same name) the position last means nothing in
// the new order, and the table is read from the start, as after a
// restart (resumeKey).
//
// Why the chunk cannot be older than the stream's changes before its low
// watermark. The stream emits what it decodes before the low watermark
// L, then the window, then the chunk at the high watermark H; the window
// removes every key a transaction decoded between L and H changed. So a
// chunk row is stale only if a transaction T decoded before L, i.e. whose
// commit record precedes L's in the WAL, changed the row and is not
// visible to the chunk's read. The read starts after L's transaction
// returned from its commit, but that is not enough: PostgreSQL writes
// T's commit record, then (synchronous_commit with a synchronous standby)
// waits for the standby, and only then removes T from the ProcArray,
// which is what makes T visible. Another session (the watermark's) can
// write its commit record after T's and become visible before T — the
// standby's apply lag, or just the scheduler, holds that gap open; no
// order of statements on the worker's side closes it.
//
// So the chunk is read in one REPEATABLE READ, READ ONLY transaction
// whose snapshot is read first (txid_current_snapshot: xmin, xmax and the
// transactions in progress), and the stream checks it: it keeps the xids
// of the transactions it decoded that no chunk snapshot has shown visible
// yet (snapshotter.recent), copies them into the window when it decodes
// L, and at H, before emitting, asks the chunk's snapshot about each. A
// committed transaction is visible to a snapshot or in progress for it;
// if any decoded before L is in progress for the chunk's snapshot, the
// chunk is not emitted but read again a moment later, in a new window.
// Visibility only grows, so what one snapshot shows visible is dropped
// from recent. A transaction the stream decoded in an earlier run of the
// process (so before this run's first low watermark) and still invisible
// now is the one case the check does not see: that needs a transaction
// whose commit the previous process already confirmed to stay invisible
// across the restart, i.e. a synchronous standby down that long (then
// the watermarks, committed synchronously, wait for it too).
func (sn *snapshotter) readChunk(ctx context.Context, conn *pgx.Conn, prev *relation, job *snapshotJob,
	last []*string, hooks *chunkHooks) (*chunkRead, error) {
	fail := func(err error) (*chunkRead, error) {
		return nil, fmt.Errorf("postgres source: snapshot of %s: %w", job.Table, err)
	}
	schema, name, ok := splitTable(job.Table)
	if !ok {
		return nil, &jobError{fmt.Errorf("postgres source: snapshot of %q: not schema.table", job.Table)}
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if hooks != nil && hooks.inRead != nil {
		if err := hooks.inRead(ctx, tx); err != nil {
			return fail(err)
		}
	}
	// LOCK takes no snapshot: the next statement does, after the lock.
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{schema, name}.Sanitize()+" IN ACCESS SHARE MODE"); err != nil {
		return fail(err)
	}
	var text string
	if err := tx.QueryRow(ctx, "SELECT txid_current_snapshot()::text").Scan(&text); err != nil {
		return fail(err)
	}
	cr := &chunkRead{from: last}
	if cr.snap, err = parseXidSnapshot(text); err != nil {
		return fail(err)
	}
	if cr.rel, err = sn.src.describeTable(ctx, tx, schema, name); err != nil {
		return nil, err
	}
	flt, err := compileFilter(job.Filter, cr.rel.table)
	if err != nil { // the filter names a column dropped since
		return fail(err)
	}
	if last != nil && !sameRelation(prev, cr.rel) {
		sn.log.Info("the table's key changed during its snapshot: reading it from the start", zap.String("table", job.Table),
			zap.Strings("key", chunkKeyColumns(cr.rel.table)))
		cr.from = nil
	}
	cr.rows, cr.next, cr.final, err = readRows(ctx, tx, cr.rel.table, flt, cr.from, sn.src.cfg.Snapshot.ChunkSize)
	if err != nil {
		return fail(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(err)
	}
	return cr, nil
}

// readRows runs the chunk query of t after last in q (the caller's
// transaction) and decodes at most size rows, asking for one more to
// learn whether the table ends here (final). next is the last row's key
// (or ctid) text, for the following chunk. Shared by the snapshot
// workers' chunks and ReadTable's, so both read and decode a table alike.
func readRows(ctx context.Context, q querier, t *sluice.Table, flt *snapshotFilter, last []*string, size int) (out []sluice.Row, next []*string, final bool, err error) {
	sql, args := chunkQuery(t, flt, last, size+1)
	// One format code applies to every result column: all text.
	rows, err := q.Query(ctx, sql, append([]any{pgx.QueryResultFormats{pgx.TextFormatCode}}, args...)...)
	if err != nil {
		return nil, nil, false, err
	}
	defer rows.Close()
	n := len(t.Columns)
	final = true
	// The key (or ctid) texts of the row last read: only the last row's
	// become next, so they are kept in one buffer, reused row after row,
	// and turned into strings once.
	var keyBuf []byte
	var keyLen []int // -1: NULL
	for rows.Next() {
		if len(out) == size {
			final = false // the extra row says there is more
			break
		}
		raw := rows.RawValues()
		row, err := decodeTextRow(t.Columns, raw[:n])
		if err != nil {
			return nil, nil, false, err
		}
		keyBuf, keyLen = keyBuf[:0], keyLen[:0]
		for _, b := range raw[n:] {
			if b == nil {
				keyLen = append(keyLen, -1)
				continue
			}
			keyBuf = append(keyBuf, b...)
			keyLen = append(keyLen, len(b))
		}
		out = append(out, row)
	}
	if len(out) > 0 {
		next = make([]*string, len(keyLen))
		for i, l := range keyLen {
			if l >= 0 {
				s := string(keyBuf[:l])
				next[i] = &s
				keyBuf = keyBuf[l:]
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, false, err
	}
	return out, next, final, nil
}

// decodeTextRow decodes a row of text-format values, one per column (nil
// is NULL), as decodeTuple decodes the stream's: the bytes the values
// keep are carved from one allocation for the whole row, so a row costs
// two allocations (the row and its bytes) whatever its columns; an array
// allocates its own, as decodeText does.
func decodeTextRow(cols []sluice.Column, raw [][]byte) (sluice.Row, error) {
	need := 0
	for i, b := range raw {
		if b != nil {
			need += arenaBytes(cols[i].Type, len(b))
		}
	}
	var arena []byte
	if need > 0 {
		arena = make([]byte, 0, need)
	}
	row := make(sluice.Row, len(cols))
	for i, b := range raw {
		if b == nil { // KindNull
			continue
		}
		var err error
		if arena, err = decodeColumn(&row[i], &cols[i], b, arena); err != nil {
			return nil, err
		}
	}
	return row, nil
}
