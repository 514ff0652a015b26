package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// relation is what the source knows of one table: from its latest
// Relation message while streaming, or from the catalog for a snapshot.
type relation struct {
	table  *sluice.Table
	ident  []bool // column is part of the replica identity (Relation flag 1)
	signal bool   // the signal table: its rows are requests, not data
	// skip: the stream drops the table's rows: the state table
	// (state.table, sluice's own rows), or a table the publication carries
	// that source.tables does not capture (uncaptured).
	skip bool

	// The stream's count of this table's events in the current
	// transaction (Debezium's data_collection_order), valid while
	// orderTx is the stream's transaction number.
	order, orderTx uint64
}

// colSpec is one column as pgoutput announces it.
type colSpec struct {
	name   string
	oid    uint32
	typmod int32
	ident  bool
}

// buildRelation describes a table from its columns, reading NOT NULL and
// the primary key from the catalog.
//
// Key policy: the replica identity, the columns pgoutput flags as key in
// the Relation message: the primary key under REPLICA IDENTITY DEFAULT,
// the index under USING INDEX (whether or not there is a primary key
// too), none under NOTHING or DEFAULT without a primary key. Those are
// the columns a delete's old row carries, so a delete always has its key,
// and the flags describe the table as it was when the change was written
// (a primary key moved since, while the source lagged, does not matter).
// Under FULL pgoutput flags every column; the key is then the primary key
// (today's, from the catalog; none without one), as Debezium keys FULL
// tables, so that the Kafka key does not change with every update.
// Events of a table without a key have a null key, as in Debezium.
// Key lists the columns in the order of the index that defines the key
// (sortKey), not in column order.
// describeTable flags the same columns, so snapshot reads and streamed
// changes of a table agree on its key.
func (s *Source) buildRelation(ctx context.Context, q querier, relid uint32, schema, name string, identity byte, cols []colSpec) (*relation, error) {
	// pkPos and riPos are the column's position in the primary key and in
	// the replica identity index (-1: not in it), which order the key.
	type attr struct {
		notNull      bool
		pkPos, riPos int
	}
	attrs := map[string]attr{}
	rows, err := q.Query(ctx, `SELECT a.attname::text, a.attnotnull,
		       COALESCE(array_position(pk.indkey::int2[], a.attnum), -1),
		       COALESCE(array_position(ri.indkey::int2[], a.attnum), -1)
		  FROM pg_attribute a
		  LEFT JOIN pg_index pk ON pk.indrelid = a.attrelid AND pk.indisprimary
		  LEFT JOIN pg_index ri ON ri.indrelid = a.attrelid AND ri.indisreplident
		 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, relid)
	if err != nil {
		return nil, fmt.Errorf("postgres source: read columns of %s.%s: %w", schema, name, err)
	}
	for rows.Next() {
		var n string
		var a attr
		if err := rows.Scan(&n, &a.notNull, &a.pkPos, &a.riPos); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres source: read columns of %s.%s: %w", schema, name, err)
		}
		attrs[n] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres source: read columns of %s.%s: %w", schema, name, err)
	}

	t := &sluice.Table{ID: relid, DB: s.Database(), Schema: schema, Name: name, Columns: make([]sluice.Column, len(cols))}
	rel := &relation{table: t, ident: make([]bool, len(cols))}
	var pk, ident []int
	for i, c := range cols {
		a := attrs[c.name]
		col, err := s.cat.column(ctx, q, c.name, c.oid, c.typmod, a.notNull)
		if errors.Is(err, errTypeGone) {
			// The type was dropped after the change was written: its
			// values are text, as those of a type sluice does not know,
			// rather than an error at this message after every restart.
			s.log.Warn("a column's type is no longer in pg_type (dropped since the change was written): its values are passed on as text",
				zap.String("table", schema+"."+name), zap.String("column", c.name), zap.Uint32("type_oid", c.oid))
			col, err = columnFor(c.name, nil, nil, c.typmod, a.notNull), nil
		}
		if err != nil {
			return nil, fmt.Errorf("postgres source: table %s.%s: %w", schema, name, err)
		}
		t.Columns[i] = col
		rel.ident[i] = c.ident
		if a.pkPos >= 0 {
			pk = append(pk, i)
		}
		if c.ident {
			ident = append(ident, i)
		}
	}
	switch identity {
	case 'f':
		primary := 0
		for _, a := range attrs {
			if a.pkPos >= 0 {
				primary++
			}
		}
		if len(pk) == primary { // else a key column is not among the Relation's
			t.Key = sortKey(pk, cols, attrs, func(a attr) int { return a.pkPos })
		}
	case 'i':
		t.Key = sortKey(ident, cols, attrs, func(a attr) int { return a.riPos })
	default:
		t.Key = sortKey(ident, cols, attrs, func(a attr) int { return a.pkPos })
	}
	for _, k := range t.Key {
		t.Columns[k].Key = true
	}
	return rel, nil
}

// sortKey orders the key columns key (indexes into cols) as the index
// that defines the key lists them (pos: a column's position in it, -1 when
// not in it), which is Debezium's order of the key's fields: PRIMARY KEY
// (c, a) keys {"c":…,"a":…}. The snapshot reads chunks in this order too,
// so that its keyset comparison walks the index. A column the catalog no
// longer has in the index (it changed since the Relation message) goes
// after the others, in column order, so the order is still deterministic.
func sortKey[A any](key []int, cols []colSpec, attrs map[string]A, pos func(A) int) []int {
	slices.SortStableFunc(key, func(x, y int) int {
		px, py := pos(attrs[cols[x].name]), pos(attrs[cols[y].name])
		switch {
		case px == py:
			return 0
		case px < 0:
			return 1
		case py < 0:
			return -1
		}
		return px - py
	})
	return key
}

// describeTable reads a table's description from the catalog, with the
// columns pgoutput would send (in attribute order, without dropped and
// generated columns), for snapshots that run before any Relation message.
func (s *Source) describeTable(ctx context.Context, q querier, schema, name string) (*relation, error) {
	var relid uint32
	var identity string
	err := q.QueryRow(ctx, `SELECT c.oid, c.relreplident::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&relid, &identity)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres source: %s.%s: %w", schema, name, errNoTable)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres source: look up %s.%s: %w", schema, name, err)
	}
	rows, err := q.Query(ctx, `SELECT a.attname::text, a.atttypid, a.atttypmod,
		       CASE c.relreplident
		         WHEN 'f' THEN true
		         WHEN 'i' THEN COALESCE(a.attnum = ANY(ri.indkey), false)
		         WHEN 'd' THEN COALESCE(a.attnum = ANY(pk.indkey), false)
		         ELSE false END
		  FROM pg_attribute a
		  JOIN pg_class c ON c.oid = a.attrelid
		  LEFT JOIN pg_index ri ON ri.indrelid = c.oid AND ri.indisreplident
		  LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary
		 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		 ORDER BY a.attnum`, relid)
	if err != nil {
		return nil, fmt.Errorf("postgres source: read columns of %s.%s: %w", schema, name, err)
	}
	var cols []colSpec
	for rows.Next() {
		var c colSpec
		if err := rows.Scan(&c.name, &c.oid, &c.typmod, &c.ident); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres source: read columns of %s.%s: %w", schema, name, err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres source: read columns of %s.%s: %w", schema, name, err)
	}
	return s.buildRelation(ctx, q, relid, schema, name, identity[0], cols)
}
