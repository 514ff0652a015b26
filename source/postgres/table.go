package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
)

// relation is what the source knows of one table: from its latest
// Relation message while streaming, or from the catalog for a snapshot.
type relation struct {
	table  *sluice.Table
	ident  []bool // column is part of the replica identity (Relation flag 1)
	signal bool   // the signal table: its rows are requests, not data
	state  bool   // the state table (state.table): sluice's own rows, never captured

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
// describeTable flags the same columns, so snapshot reads and streamed
// changes of a table agree on its key.
func (s *Source) buildRelation(ctx context.Context, q querier, relid uint32, schema, name string, identity byte, cols []colSpec) (*relation, error) {
	type attr struct{ notNull, primary bool }
	attrs := map[string]attr{}
	rows, err := q.Query(ctx, `SELECT a.attname::text, a.attnotnull, COALESCE(a.attnum = ANY(i.indkey), false)
		  FROM pg_attribute a
		  LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary
		 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`, relid)
	if err != nil {
		return nil, fmt.Errorf("postgres source: read columns of %s.%s: %w", schema, name, err)
	}
	for rows.Next() {
		var n string
		var a attr
		if err := rows.Scan(&n, &a.notNull, &a.primary); err != nil {
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
		if err != nil {
			return nil, fmt.Errorf("postgres source: table %s.%s: %w", schema, name, err)
		}
		t.Columns[i] = col
		rel.ident[i] = c.ident
		if a.primary {
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
			if a.primary {
				primary++
			}
		}
		if len(pk) == primary { // else a key column is not among the Relation's
			t.Key = pk
		}
	default:
		t.Key = ident
	}
	for _, k := range t.Key {
		t.Columns[k].Key = true
	}
	return rel, nil
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
