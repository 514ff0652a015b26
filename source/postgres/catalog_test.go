package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// fakeType is one pg_type row of fakeQuerier.
type fakeType struct {
	name    string
	kind    string
	base    uint32
	typmod  int32
	elem    uint32
	labels  []string
	failErr error
}

// fakeQuerier answers the catalog's two queries from a table of types
// and counts them.
type fakeQuerier struct {
	types   map[uint32]fakeType
	queries int
}

func (f *fakeQuerier) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	f.queries++
	oid := args[0].(uint32)
	if sql != typeQuery {
		return fakeRow{err: fmt.Errorf("unexpected query %q", sql)}
	}
	ft, ok := f.types[oid]
	if !ok {
		return fakeRow{err: pgx.ErrNoRows}
	}
	if ft.failErr != nil {
		return fakeRow{err: ft.failErr}
	}
	return fakeRow{vals: []any{ft.name, ft.kind, ft.base, ft.typmod, ft.elem}}
}

func (f *fakeQuerier) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	f.queries++
	if sql != enumQuery {
		return nil, fmt.Errorf("unexpected query %q", sql)
	}
	return &fakeRows{labels: f.types[args[0].(uint32)].labels, i: -1}, nil
}

type fakeRow struct {
	vals []any
	err  error
}

func (r fakeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	for i, d := range dest {
		reflect.ValueOf(d).Elem().Set(reflect.ValueOf(r.vals[i]))
	}
	return nil
}

type fakeRows struct {
	labels []string
	i      int
}

func (r *fakeRows) Close()                                       {}
func (r *fakeRows) Err() error                                   { return nil }
func (r *fakeRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (r *fakeRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (r *fakeRows) Next() bool                                   { r.i++; return r.i < len(r.labels) }
func (r *fakeRows) Scan(dest ...any) error                       { *dest[0].(*string) = r.labels[r.i]; return nil }
func (r *fakeRows) Values() ([]any, error)                       { return []any{r.labels[r.i]}, nil }
func (r *fakeRows) RawValues() [][]byte                          { return [][]byte{[]byte(r.labels[r.i])} }
func (r *fakeRows) Conn() *pgx.Conn                              { return nil }
func (r *fakeRows) TypeMap() *pgtype.Map                         { return nil }

var _ querier = (*fakeQuerier)(nil)
var _ querier = (*pgx.Conn)(nil)

func newFakeQuerier() *fakeQuerier {
	return &fakeQuerier{types: map[uint32]fakeType{
		20001: {name: "mood", kind: "e", labels: []string{"sad", "ok", "happy"}},
		20002: {name: "_mood", kind: "b", elem: 20001},
		20003: {name: "price", kind: "d", base: pgtype.NumericOID, typmod: 10<<16 | 2 + varhdrsz},
		20004: {name: "cheap", kind: "d", base: 20003, typmod: -1},     // domain over domain
		20005: {name: "_cheap", kind: "b", elem: 20004},                // array of a domain
		20006: {name: "feeling", kind: "d", base: 20001, typmod: -1},   // domain over enum
		20007: {name: "intlist", kind: "d", base: 1007, typmod: -1},    // domain over int4[]
		20008: {name: "moods", kind: "d", base: 20002, typmod: -1},     // domain over mood[]
		20009: {name: "pair", kind: "c"},                               // composite
		20010: {name: "empty", kind: "e", labels: nil},                 // enum without labels
		20011: {name: "loop", kind: "d", base: 20011, typmod: -1},      // corrupt: itself
		20012: {name: "broken", kind: "d", base: 29999, typmod: -1},    // base missing
		20013: {name: "flaky", kind: "b", failErr: errors.New("boom")}, // query fails
		20014: {name: "x", kind: "bad"},
	}}
}

func TestCatalogLookup(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		oid  uint32
		want typeInfo
	}{
		{pgtype.Int4OID, typeInfo{oid: 23, name: "int4", kind: 'b', baseMod: -1}},
		{pgtype.Int4ArrayOID, typeInfo{oid: 1007, name: "_int4", kind: 'b', baseMod: -1, elem: 23}},
		{moneyArrayOID, typeInfo{oid: 791, name: "_money", kind: 'b', baseMod: -1, elem: 790}},
		{20001, typeInfo{oid: 20001, name: "mood", kind: 'e', baseMod: -1, labels: []string{"sad", "ok", "happy"}}},
		{20002, typeInfo{oid: 20002, name: "_mood", kind: 'b', baseMod: -1, elem: 20001}},
		{20003, typeInfo{oid: 20003, name: "price", kind: 'd', base: 1700, baseMod: 10<<16 | 2 + varhdrsz}},
		{20004, typeInfo{oid: 20004, name: "cheap", kind: 'd', base: 1700, baseMod: 10<<16 | 2 + varhdrsz}},
		{20005, typeInfo{oid: 20005, name: "_cheap", kind: 'b', baseMod: -1, elem: 20004}},
		{20006, typeInfo{oid: 20006, name: "feeling", kind: 'd', base: 20001, baseMod: -1, labels: []string{"sad", "ok", "happy"}}},
		{20007, typeInfo{oid: 20007, name: "intlist", kind: 'd', base: 1007, baseMod: -1, elem: 23}},
		{20008, typeInfo{oid: 20008, name: "moods", kind: 'd', base: 20002, baseMod: -1, elem: 20001}},
		{20009, typeInfo{oid: 20009, name: "pair", kind: 'c', baseMod: -1}},
		{20010, typeInfo{oid: 20010, name: "empty", kind: 'e', baseMod: -1, labels: []string{}}},
	} {
		t.Run(c.want.name, func(t *testing.T) {
			var cat catalog
			q := newFakeQuerier()
			got, err := cat.lookup(ctx, q, c.oid)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Fatalf("lookup(%d) = %+v, want %+v", c.oid, *got, c.want)
			}
			if builtinTypes[c.oid] != nil && q.queries != 0 {
				t.Fatalf("built-in type %d made %d queries", c.oid, q.queries)
			}
			// A second lookup, and the lookup of an array's element,
			// are cache hits.
			n := q.queries
			if again, _ := cat.lookup(ctx, q, c.oid); again != got {
				t.Fatal("second lookup returned a different *typeInfo")
			}
			if got.elem != 0 {
				if _, err := cat.lookup(ctx, q, got.elem); err != nil {
					t.Fatal(err)
				}
			}
			if q.queries != n {
				t.Fatalf("cached lookups made %d more queries", q.queries-n)
			}
		})
	}
}

func TestCatalogLookupErrors(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		oid  uint32
		want string
	}{
		{29999, "type 29999 not found"},
		{20011, "nested deeper than"},
		{20012, "domain broken (20012): type 29999 not found"},
		{20013, "boom"},
		{20014, `unexpected typtype "bad"`},
	} {
		var cat catalog
		_, err := cat.lookup(ctx, newFakeQuerier(), c.oid)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("lookup(%d) error %v, want %q", c.oid, err, c.want)
		}
	}
}

func TestCatalogColumnAndInvalidate(t *testing.T) {
	ctx := context.Background()
	var cat catalog
	q := newFakeQuerier()
	for _, c := range []struct {
		oid    uint32
		typmod int32
		want   sluice.Column
	}{
		{20005, -1, sluice.Column{Name: "c", DBType: "_cheap", Type: sluice.TypeArray, Elem: sluice.TypeDecimal, Scale: 2, Length: 10}},
		{20008, -1, sluice.Column{Name: "c", DBType: "moods", Type: sluice.TypeArray, Elem: sluice.TypeEnum, Enum: []string{"sad", "ok", "happy"}}},
		{20007, -1, sluice.Column{Name: "c", DBType: "intlist", Type: sluice.TypeArray, Elem: sluice.TypeInt32}},
		{20010, -1, sluice.Column{Name: "c", DBType: "empty", Type: sluice.TypeEnum, Enum: []string{}}},
		{pgtype.NumericArrayOID, 12<<16 | 3 + varhdrsz, sluice.Column{Name: "c", DBType: "_numeric", Type: sluice.TypeArray, Elem: sluice.TypeDecimal, Scale: 3, Length: 12}},
	} {
		got, err := cat.column(ctx, q, "c", c.oid, c.typmod, true)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("column(%d) = %+v, want %+v", c.oid, got, c.want)
		}
	}
	if _, err := cat.column(ctx, q, "gone", 29999, -1, false); err == nil || !strings.HasPrefix(err.Error(), "column gone: ") {
		t.Errorf("column of a missing type: %v", err)
	}

	// After invalidate the catalog reads a changed enum again.
	ft := q.types[20001]
	ft.labels = append(ft.labels, "ecstatic")
	q.types[20001] = ft
	if ti, _ := cat.lookup(ctx, q, 20001); len(ti.labels) != 3 {
		t.Fatalf("cached labels changed without invalidate: %v", ti.labels)
	}
	cat.invalidate()
	if ti, _ := cat.lookup(ctx, q, 20001); len(ti.labels) != 4 {
		t.Fatalf("labels after invalidate: %v", ti.labels)
	}
}

// The live test's types, created in a private schema.
const liveTypesDDL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN feeling AS mood;
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
CREATE DOMAIN price AS numeric(10,2);
CREATE DOMAIN cheap AS price CHECK (VALUE < 100);
CREATE DOMAIN intlist AS int4[];
CREATE TYPE pair AS (a int4, b text);
`

// sqlType turns a test declaration ("_numeric(10,2)", "bpchar(5)") into SQL.
func sqlType(decl string) string {
	arr := strings.HasPrefix(decl, "_")
	decl = strings.TrimPrefix(decl, "_")
	if decl == "char" {
		decl = `"char"`
	}
	if arr {
		decl += "[]"
	}
	return decl
}

// TestLivePgoutputDecode runs every decode case through a real server:
// it inserts each case's input as a literal into a column of the case's
// type, reads the row back through pgoutput (proto_version 1, text
// tuples) from a temporary logical slot, builds the columns from the
// Relation message with the catalog, and checks that decoding what the
// server sent gives the expected value. The session uses a zone west of
// UTC with historical LMT offsets, so timestamptz values arrive with
// offsets like -03:30 and -03:30:52.
func TestLivePgoutputDecode(t *testing.T) {
	dsn := testenv.Get(t, "SLUICE_TEST_PG_DSN")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	// Closed after the cleanup below (cleanups run last-in first-out), which
	// needs the connection to drop what the test created.
	t.Cleanup(func() { conn.Close(ctx) })
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}

	name := fmt.Sprintf("sluice_types_%d", os.Getpid())
	exec("DROP SCHEMA IF EXISTS " + name + " CASCADE")
	exec("DROP PUBLICATION IF EXISTS " + name)
	exec("CREATE SCHEMA " + name)
	t.Cleanup(func() {
		for _, stmt := range []string{"DROP PUBLICATION IF EXISTS " + name, "DROP SCHEMA IF EXISTS " + name + " CASCADE"} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				t.Errorf("cleanup: %s: %v", stmt, err)
			}
		}
	})
	exec("SET search_path = " + name)
	exec(liveTypesDDL)
	for _, set := range []string{"TimeZone = 'America/St_Johns'", "DateStyle = ISO", "IntervalStyle = postgres",
		"bytea_output = hex", "lc_monetary = 'C'", "extra_float_digits = 1",
		"synchronous_commit = on"} { // logical decoding reads only flushed WAL
		exec("SET " + set)
	}

	var cases []decodeCase
	var cols, lits []string
	for _, c := range decodeCases {
		if c.typ == "interval" && strings.HasSuffix(c.in, "infinity") && version < 170000 {
			continue // infinite intervals are new in PostgreSQL 17
		}
		if c.typ == "interval" && strings.HasPrefix(c.in, "2147483647 days") && version < 150000 {
			continue // out of range for PostgreSQL 14's interval input
		}
		cols = append(cols, fmt.Sprintf("c%d %s", len(cases), sqlType(c.typ)))
		lits = append(lits, "'"+strings.ReplaceAll(c.in, "'", "''")+"'")
		cases = append(cases, c)
	}
	exec("CREATE TABLE t (" + strings.Join(cols, ", ") + ")")
	exec("CREATE PUBLICATION " + name + " FOR TABLE t")
	exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput', true)", name) // dropped with the session
	exec("INSERT INTO t VALUES (" + strings.Join(lits, ", ") + ")")

	rows, err := conn.Query(ctx, "SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)", name, name)
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}

	var rel *pglogrepl.RelationMessage
	var ins *pglogrepl.InsertMessage
	for _, b := range msgs {
		m, err := pglogrepl.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *pglogrepl.RelationMessage:
			rel = m
		case *pglogrepl.InsertMessage:
			ins = m
		}
	}
	if rel == nil || ins == nil || len(rel.Columns) != len(cases) || len(ins.Tuple.Columns) != len(cases) {
		t.Fatalf("pgoutput gave relation %v, insert %v for %d columns", rel, ins, len(cases))
	}

	var cat catalog
	for i, c := range cases {
		t.Run(caseName(c), func(t *testing.T) {
			rc := rel.Columns[i]
			col, err := cat.column(ctx, conn, rc.Name, rc.DataType, rc.TypeModifier, false)
			if err != nil {
				t.Fatal(err)
			}
			want := testColumn(t, c.typ)
			want.Name = rc.Name
			if !reflect.DeepEqual(col, want) {
				t.Errorf("catalog column\n %+v\nwant\n %+v", col, want)
			}
			tc := ins.Tuple.Columns[i]
			if tc.DataType != 't' {
				t.Fatalf("tuple data kind %q", tc.DataType)
			}
			got, err := decodeText(&col, tc.Data)
			if err != nil {
				t.Fatalf("server sent %q: %v", tc.Data, err)
			}
			if !valueEqual(got, c.want) {
				t.Fatalf("server sent %q, decoded\n %s\nwant\n %s", tc.Data, renderValue(&col, col.Type, got), renderValue(&col, col.Type, c.want))
			}
		})
	}

	// A domain over a domain resolves to the innermost base and its typmod.
	var oid uint32
	if err := conn.QueryRow(ctx, "SELECT 'cheap'::regtype::oid").Scan(&oid); err != nil {
		t.Fatal(err)
	}
	ti, err := cat.lookup(ctx, conn, oid)
	if err != nil {
		t.Fatal(err)
	}
	if ti.kind != 'd' || ti.base != pgtype.NumericOID || ti.baseMod != 10<<16|2+varhdrsz {
		t.Errorf("cheap: %+v", *ti)
	}
}

// TestTypeDroppedSinceTheWAL: a change is decoded after its column's
// type was dropped (the column dropped first, then the type; sluice was
// stopped or behind). The Relation message still names the type's oid,
// which pg_type no longer has: the column is decoded as text, as a type
// sluice does not know is, instead of failing the stream at the same
// message after every restart.
func TestTypeDroppedSinceTheWAL(t *testing.T) {
	h := newHarness(t)
	typ := "mood_" + h.name
	h.exec(`DROP TABLE IF EXISTS gone_type; DROP TYPE IF EXISTS ` + typ)
	h.exec(`CREATE TYPE ` + typ + ` AS ENUM ('sad', 'ok'); CREATE TABLE gone_type (id int PRIMARY KEY, m ` + typ + `)`)
	t.Cleanup(func() { h.exec(`DROP TABLE IF EXISTS gone_type; DROP TYPE IF EXISTS ` + typ) })
	h.start("public.gone_type")
	h.stop()
	h.exec(`INSERT INTO gone_type VALUES (1, 'ok')`)
	h.exec(`ALTER TABLE gone_type DROP COLUMN m; DROP TYPE ` + typ)
	h.exec(`INSERT INTO gone_type VALUES (2)`)
	h.start("public.gone_type")
	evs := h.wait(2)
	first := evs[0]
	if first.Op != sluice.OpCreate || len(first.After) != 2 || first.After[0].Int != 1 || string(first.After[1].Bytes) != "ok" {
		t.Fatalf("first event %s %+v, want the insert of 1 with m 'ok' as text", first.Op, first.After)
	}
	if c := first.Table.Columns[1]; c.Type != sluice.TypeText {
		t.Errorf("column m: type %v (%s), want text", c.Type, c.DBType)
	}
	if second := evs[1]; len(second.After) != 1 || second.After[0].Int != 2 {
		t.Errorf("second event %+v, want the insert of 2 without m", second.After)
	}
}
