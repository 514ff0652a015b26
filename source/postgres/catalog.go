package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

// typeInfo is what the decoder needs to know about one PostgreSQL type.
//
// For a domain (kind 'd') the fields describe the domain with its base
// already resolved: base is the first non-domain type under it (domains
// over domains are followed), baseMod the type modifier declared with the
// domain (-1 when none), and elem and labels are copied from that
// base, so a domain over an array or an enum carries what columnFor needs.
type typeInfo struct {
	oid     uint32
	name    string   // pg_type.typname, unqualified
	kind    byte     // pg_type.typtype: b base, c composite, d domain, e enum, r range, m multirange, p pseudo
	base    uint32   // domain base type oid (0 unless kind is 'd')
	baseMod int32    // domain type modifier (-1 when none)
	elem    uint32   // array element oid, 0 if the type is not an array
	labels  []string // enum labels in enumsortorder; non-nil exactly when the type (or a domain's base) is an enum
}

// querier is the part of *pgx.Conn the catalog uses. It must be a regular
// (non-replication) connection, or a replication=database one opened with
// pgx's simple protocol mode.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// OIDs of built-in types that pgtype has no constant for.
const (
	moneyOID         = 790
	moneyArrayOID    = 791
	macaddr8ArrayOID = 775
)

// builtins lists the built-in types columnFor maps, with their array
// types. Their typeInfo is static: looking them up never queries.
var builtins = [...]struct {
	oid, array uint32
	name       string
}{
	{pgtype.BoolOID, pgtype.BoolArrayOID, "bool"},
	{pgtype.ByteaOID, pgtype.ByteaArrayOID, "bytea"},
	{pgtype.QCharOID, pgtype.QCharArrayOID, "char"},
	{pgtype.NameOID, pgtype.NameArrayOID, "name"},
	{pgtype.Int8OID, pgtype.Int8ArrayOID, "int8"},
	{pgtype.Int2OID, pgtype.Int2ArrayOID, "int2"},
	{pgtype.Int4OID, pgtype.Int4ArrayOID, "int4"},
	{pgtype.TextOID, pgtype.TextArrayOID, "text"},
	{pgtype.OIDOID, pgtype.OIDArrayOID, "oid"},
	{pgtype.JSONOID, pgtype.JSONArrayOID, "json"},
	{pgtype.XMLOID, pgtype.XMLArrayOID, "xml"},
	{pgtype.CIDROID, pgtype.CIDRArrayOID, "cidr"},
	{pgtype.Float4OID, pgtype.Float4ArrayOID, "float4"},
	{pgtype.Float8OID, pgtype.Float8ArrayOID, "float8"},
	{pgtype.Macaddr8OID, macaddr8ArrayOID, "macaddr8"},
	{moneyOID, moneyArrayOID, "money"},
	{pgtype.MacaddrOID, pgtype.MacaddrArrayOID, "macaddr"},
	{pgtype.InetOID, pgtype.InetArrayOID, "inet"},
	{pgtype.BPCharOID, pgtype.BPCharArrayOID, "bpchar"},
	{pgtype.VarcharOID, pgtype.VarcharArrayOID, "varchar"},
	{pgtype.DateOID, pgtype.DateArrayOID, "date"},
	{pgtype.TimeOID, pgtype.TimeArrayOID, "time"},
	{pgtype.TimestampOID, pgtype.TimestampArrayOID, "timestamp"},
	{pgtype.TimestamptzOID, pgtype.TimestamptzArrayOID, "timestamptz"},
	{pgtype.IntervalOID, pgtype.IntervalArrayOID, "interval"},
	{pgtype.TimetzOID, pgtype.TimetzArrayOID, "timetz"},
	{pgtype.BitOID, pgtype.BitArrayOID, "bit"},
	{pgtype.VarbitOID, pgtype.VarbitArrayOID, "varbit"},
	{pgtype.NumericOID, pgtype.NumericArrayOID, "numeric"},
	{pgtype.UUIDOID, pgtype.UUIDArrayOID, "uuid"},
	{pgtype.JSONBOID, pgtype.JSONBArrayOID, "jsonb"},
}

// builtinTypes holds the static typeInfo of every entry in builtins and of
// its array type ("_" + name). The values are shared: never modify them.
var builtinTypes = func() map[uint32]*typeInfo {
	m := make(map[uint32]*typeInfo, 2*len(builtins))
	for _, b := range builtins {
		m[b.oid] = &typeInfo{oid: b.oid, name: b.name, kind: 'b', baseMod: -1}
		m[b.array] = &typeInfo{oid: b.array, name: "_" + b.name, kind: 'b', baseMod: -1, elem: b.oid}
	}
	return m
}()

// catalog caches typeInfo by OID. Built-in types come from a static table;
// others are read from pg_type (and pg_enum) once and kept until
// invalidate. The zero value is ready to use; it is safe for concurrent
// use.
type catalog struct {
	mu    sync.Mutex
	types map[uint32]*typeInfo
}

// Longest chain of domains over domains lookup follows before giving up
// (a guard against a corrupt catalog, not a PostgreSQL limit).
const maxDomainDepth = 32

// errTypeGone: pg_type has no such type. A Relation message is decoded
// with the catalog of its WAL position, a lookup sees today's: a type
// dropped since (with the columns that used it) is gone.
var errTypeGone = errors.New("not found in pg_type")

const typeQuery = `SELECT t.typname::text, t.typtype::text, t.typbasetype, t.typtypmod,
       CASE WHEN e.typarray = t.oid THEN t.typelem ELSE 0::oid END
  FROM pg_catalog.pg_type t
  LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem
 WHERE t.oid = $1`

const enumQuery = `SELECT enumlabel::text FROM pg_catalog.pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder`

// lookup returns the typeInfo of oid, querying the database through q for
// types that are neither built in nor cached. For a domain it follows the
// base type chain; for an array it also resolves (and caches) the element
// type, so a later lookup of elem is a cache hit. It is called when a
// Relation message arrives, never per row.
func (c *catalog) lookup(ctx context.Context, q querier, oid uint32) (*typeInfo, error) {
	return c.lookupDepth(ctx, q, oid, 0)
}

func (c *catalog) lookupDepth(ctx context.Context, q querier, oid uint32, depth int) (*typeInfo, error) {
	if ti := builtinTypes[oid]; ti != nil {
		return ti, nil
	}
	c.mu.Lock()
	ti := c.types[oid]
	c.mu.Unlock()
	if ti != nil {
		return ti, nil
	}
	if depth > maxDomainDepth {
		return nil, fmt.Errorf("type %d: domains nested deeper than %d", oid, maxDomainDepth)
	}

	ti = &typeInfo{oid: oid}
	var kind string
	var base, elem uint32
	var mod int32
	err := q.QueryRow(ctx, typeQuery, oid).Scan(&ti.name, &kind, &base, &mod, &elem)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("type %d %w", oid, errTypeGone)
	}
	if err != nil {
		return nil, fmt.Errorf("type %d: %w", oid, err)
	}
	if len(kind) != 1 {
		return nil, fmt.Errorf("type %d (%s): unexpected typtype %q", oid, ti.name, kind)
	}
	ti.kind = kind[0]
	ti.baseMod = -1
	ti.elem = elem

	switch ti.kind {
	case 'e':
		labels, err := queryLabels(ctx, q, oid)
		if err != nil {
			return nil, fmt.Errorf("enum %s (%d): %w", ti.name, oid, err)
		}
		ti.labels = labels
	case 'd':
		b, err := c.lookupDepth(ctx, q, base, depth+1)
		if err != nil {
			return nil, fmt.Errorf("domain %s (%d): %w", ti.name, oid, err)
		}
		ti.baseMod = mod
		ti.base = b.oid
		if b.kind == 'd' {
			ti.base = b.base
			if ti.baseMod < 0 {
				ti.baseMod = b.baseMod
			}
		}
		ti.elem = b.elem
		ti.labels = b.labels
	}
	if ti.elem != 0 && ti.kind != 'd' {
		// Arrays of user types (enums, domains, composites): resolve the
		// element now so the caller's lookup of it is cached.
		if _, err := c.lookupDepth(ctx, q, ti.elem, depth+1); err != nil {
			return nil, fmt.Errorf("array %s (%d): %w", ti.name, oid, err)
		}
	}

	c.mu.Lock()
	if c.types == nil {
		c.types = make(map[uint32]*typeInfo)
	}
	if old := c.types[oid]; old != nil {
		ti = old // a concurrent lookup got there first; keep one pointer
	} else {
		c.types[oid] = ti
	}
	c.mu.Unlock()
	return ti, nil
}

func queryLabels(ctx context.Context, q querier, oid uint32) ([]string, error) {
	rows, err := q.Query(ctx, enumQuery, oid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	labels := []string{} // non-nil even for an enum without labels
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return nil, err
		}
		labels = append(labels, l)
	}
	return labels, rows.Err()
}

// invalidate forgets every cached non-built-in type, so the next lookup
// reads the catalog again (e.g. after ALTER TYPE … ADD VALUE, which sends
// no Relation message).
func (c *catalog) invalidate() {
	c.mu.Lock()
	c.types = nil
	c.mu.Unlock()
}

// column looks up oid (and its array element type) and returns the
// column description of a Relation message attribute.
func (c *catalog) column(ctx context.Context, q querier, name string, oid uint32, typmod int32, notNull bool) (sluice.Column, error) {
	ti, err := c.lookup(ctx, q, oid)
	if err != nil {
		return sluice.Column{}, fmt.Errorf("column %s: %w", name, err)
	}
	var elem *typeInfo
	if ti.elem != 0 {
		if elem, err = c.lookup(ctx, q, ti.elem); err != nil {
			return sluice.Column{}, fmt.Errorf("column %s: %w", name, err)
		}
	}
	return columnFor(name, ti, elem, typmod, notNull), nil
}
