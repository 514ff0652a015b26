package postgres

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/internal/filter"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
)

// A snapshot filter (`sluice snapshot --where`, a signal's
// "additional-conditions") arrives as text from whoever can write the
// signal table, and the chunk query runs as sluice's role. So the filter
// is never pasted into SQL: it is parsed in the grammar of package filter,
// its columns are resolved against the table, and the SQL sluice runs is
// rebuilt from the parsed tree with every literal bound as a parameter.
//
// Literals are sent as
// text parameters whose type PostgreSQL infers from the column they meet
// ('2024-01-01' against a date column is a date), so a literal that does
// not fit its column is refused by the server's input function, not run.

// snapshotFilter is a parsed filter; bind resolves its columns against a
// table. The zero filter (an empty text) matches every row.
type snapshotFilter struct {
	root  *filter.Node
	bound *sluice.Table
}

// errFilter wraps every refusal of a filter's text.
var errFilter = filter.ErrRefused

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
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	if err := filter.Bind(f.root, t.Schema+"."+t.Name, names, t.Index, nil); err != nil {
		return err
	}
	f.bound = t
	return nil
}

// appendSQL appends the filter as SQL over the table aliased s, its
// literals as parameters numbered after those in args, and returns the
// arguments extended by them. The filter must be bound and not empty.
func (f *snapshotFilter) appendSQL(b *strings.Builder, args []any) []any {
	d := &pgSQL{t: f.bound, args: args}
	filter.AppendSQL(b, f.root, d)
	return d.args
}

// pgSQL is PostgreSQL's filter.Dialect: columns of the table aliased s,
// $n text parameters, LIKE and ILIKE as they are.
type pgSQL struct {
	t    *sluice.Table
	args []any
}

func (d *pgSQL) Column(b *strings.Builder, n *filter.Node) {
	b.WriteString("s." + pgx.Identifier{d.t.Columns[n.Idx].Name}.Sanitize())
}

func (d *pgSQL) Param(b *strings.Builder, _ *filter.Node, lit string) {
	d.args = append(d.args, lit)
	fmt.Fprintf(b, "$%d", len(d.args))
}

func (d *pgSQL) Like(b *strings.Builder, n *filter.Node) {
	b.WriteByte('(')
	d.Column(b, n)
	if n.Neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" " + n.Op + " ")
	d.Param(b, n, n.Lits[0])
	b.WriteByte(')')
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

// parseFilter parses the text of a filter (package filter); "" is no
// filter.
func parseFilter(src string) (*snapshotFilter, error) {
	root, err := filter.Parse(src)
	if err != nil {
		return nil, err
	}
	return &snapshotFilter{root: root}, nil
}
