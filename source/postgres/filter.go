package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
)

// A snapshot filter (`sluice snapshot --where`, a signal's
// "additional-conditions") arrives as text from whoever can write the
// signal table, and the chunk query runs as sluice's role. So the filter
// is never pasted into SQL: it is parsed into a small predicate grammar,
// its columns are resolved against the table, and the SQL sluice runs is
// rebuilt from the parsed tree with every literal bound as a parameter.
// Anything outside the grammar (functions, sub-selects, casts, several
// statements, comments) is refused with an error that says so.
//
//	filter    = or
//	or        = and { OR and }
//	and       = not { AND not }
//	not       = NOT not | "(" or ")" | predicate
//	predicate = column cmp literal | literal cmp column
//	          | column IS [NOT] NULL
//	          | column [NOT] IN "(" literal { "," literal } ")"
//	          | column [NOT] BETWEEN literal AND literal
//	          | column [NOT] LIKE|ILIKE string
//	cmp       = "=" | "<>" | "!=" | "<" | "<=" | ">" | ">="
//	literal   = number | string | TRUE | FALSE
//	column    = name | "quoted name"
//
// Names fold to lower case unless quoted, as in SQL. Literals are sent as
// text parameters whose type PostgreSQL infers from the column they meet
// ('2024-01-01' against a date column is a date), so a literal that does
// not fit its column is refused by the server's input function, not run.

// filterNode is one node of a parsed filter.
type filterNode struct {
	kind filterKind
	kids []*filterNode // and, or, not
	col  string        // the column's name as the table spells it
	idx  int           // the column's index, once bound
	op   string        // cmp: the operator; like: LIKE or ILIKE
	neg  bool          // IS NOT NULL, NOT IN, NOT BETWEEN, NOT LIKE
	lits []string      // the literals' text
}

type filterKind uint8

const (
	fAnd filterKind = iota
	fOr
	fNot
	fCmp
	fNull
	fIn
	fBetween
	fLike
)

// snapshotFilter is a parsed filter; bind resolves its columns against a
// table. The zero filter (an empty text) matches every row.
type snapshotFilter struct {
	root  *filterNode
	bound *sluice.Table
}

// errFilter wraps every refusal of a filter's text.
var errFilter = errors.New("snapshot filter refused")

// compileFilter parses src and binds it to t.
func compileFilter(src string, t *sluice.Table) (*snapshotFilter, error) {
	f, err := parseFilter(src)
	if err != nil {
		return nil, err
	}
	return f, f.bind(t)
}

// bind resolves the filter's columns in t.
func (f *snapshotFilter) bind(t *sluice.Table) error {
	var walk func(n *filterNode) error
	walk = func(n *filterNode) error {
		for _, k := range n.kids {
			if err := walk(k); err != nil {
				return err
			}
		}
		if n.kind == fAnd || n.kind == fOr || n.kind == fNot {
			return nil
		}
		if n.idx = t.Index(n.col); n.idx < 0 {
			names := make([]string, len(t.Columns))
			for i, c := range t.Columns {
				names[i] = c.Name
			}
			return fmt.Errorf("%w: no column %q in %s.%s (columns: %s)", errFilter, n.col, t.Schema, t.Name, strings.Join(names, ", "))
		}
		return nil
	}
	if f.root != nil {
		if err := walk(f.root); err != nil {
			return err
		}
	}
	f.bound = t
	return nil
}

// appendSQL appends the filter as SQL over the table aliased s, its
// literals as parameters numbered after those in args, and returns the
// arguments extended by them. The filter must be bound and not empty.
func (f *snapshotFilter) appendSQL(b *strings.Builder, args []any) []any {
	var walk func(n *filterNode)
	param := func(lit string) {
		args = append(args, lit)
		fmt.Fprintf(b, "$%d", len(args))
	}
	walk = func(n *filterNode) {
		col := func() { b.WriteString("s." + pgx.Identifier{f.bound.Columns[n.idx].Name}.Sanitize()) }
		not := func() {
			if n.neg {
				b.WriteString(" NOT")
			}
		}
		switch n.kind {
		case fAnd, fOr:
			sep := " AND "
			if n.kind == fOr {
				sep = " OR "
			}
			b.WriteByte('(')
			for i, k := range n.kids {
				if i > 0 {
					b.WriteString(sep)
				}
				walk(k)
			}
			b.WriteByte(')')
		case fNot:
			b.WriteString("(NOT ")
			walk(n.kids[0])
			b.WriteByte(')')
		case fCmp:
			b.WriteByte('(')
			col()
			b.WriteString(" " + n.op + " ")
			param(n.lits[0])
			b.WriteByte(')')
		case fNull:
			b.WriteByte('(')
			col()
			b.WriteString(" IS")
			not()
			b.WriteString(" NULL)")
		case fIn:
			b.WriteByte('(')
			col()
			not()
			b.WriteString(" IN (")
			for i, l := range n.lits {
				if i > 0 {
					b.WriteString(", ")
				}
				param(l)
			}
			b.WriteString("))")
		case fBetween:
			b.WriteByte('(')
			col()
			not()
			b.WriteString(" BETWEEN ")
			param(n.lits[0])
			b.WriteString(" AND ")
			param(n.lits[1])
			b.WriteByte(')')
		case fLike:
			b.WriteByte('(')
			col()
			not()
			b.WriteString(" " + n.op + " ")
			param(n.lits[0])
			b.WriteByte(')')
		}
	}
	walk(f.root)
	return args
}

// empty reports whether the filter matches every row.
func (f *snapshotFilter) empty() bool { return f == nil || f.root == nil }

// String renders the filter as the SQL sluice runs, with the literals in
// place of the parameters (for logs and tests; never executed).
func (f *snapshotFilter) String() string {
	if f.empty() || f.bound == nil {
		return ""
	}
	var b strings.Builder
	args := f.appendSQL(&b, nil)
	s := b.String()
	for i := len(args); i >= 1; i-- {
		s = strings.ReplaceAll(s, "$"+strconv.Itoa(i), "'"+strings.ReplaceAll(args[i-1].(string), "'", "''")+"'")
	}
	return s
}
