package mysql

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/internal/filter"
)

// A snapshot filter (`sluice snapshot --where`, a signal's
// "additional-conditions") arrives as text from whoever can write the
// signal table or the signal topic, and the chunk query runs as sluice's
// user. So the filter is never pasted into SQL: it is parsed in the
// grammar of package filter (the one the PostgreSQL source accepts), its
// columns are resolved against the table, and the SQL sluice runs is
// rebuilt from the tree with every literal bound as a statement parameter.
//
// MySQL compares column names without regard to case, so a name matches
// the column of any case. A literal is sent as a parameter of its
// column's type: a number for integer and floating-point columns (a
// literal that is no number of that type is refused here), a DECIMAL cast
// for DECIMAL columns (a string parameter would be compared as a double),
// text otherwise, which the server converts as it converts a quoted
// literal in SQL ('2024-01-01' against a DATE). ILIKE, which MySQL lacks,
// compares LOWER(column) with LOWER(pattern).

// snapshotFilter is a parsed filter; bind resolves its columns against a
// table. The zero filter (an empty text) matches every row.
type snapshotFilter struct {
	root *filter.Node
	rel  *relation
}

// errFilter wraps every refusal of a filter's text.
var errFilter = filter.ErrRefused

// compileFilter parses src and binds it to rel.
func compileFilter(src string, rel *relation) (*snapshotFilter, error) {
	f, err := parseFilter(src)
	if err != nil {
		return nil, err
	}
	return f, f.bind(rel)
}

// bind resolves the filter's columns in rel and checks that each numeric
// literal is a value of its column's type.
func (f *snapshotFilter) bind(rel *relation) error {
	t := rel.table
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	index := func(col string) int { // MySQL's column names ignore case
		return slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, col) })
	}
	check := func(n *filter.Node) error {
		if n.Kind == filter.Like {
			return nil
		}
		for _, l := range n.Lits {
			if _, err := filterParam(rel, n.Idx, l); err != nil {
				return fmt.Errorf("%w: column %s: %w", errFilter, t.Columns[n.Idx].Name, err)
			}
		}
		return nil
	}
	if err := filter.Bind(f.root, t.DB+"."+t.Name, names, index, check); err != nil {
		return err
	}
	f.rel = rel
	return nil
}

// filterParam is literal lit as a parameter for column idx of rel.
func filterParam(rel *relation, idx int, lit string) (any, error) {
	boolean := func() (string, bool) {
		switch lit {
		case "true":
			return "1", true
		case "false":
			return "0", true
		}
		return lit, false
	}
	switch rel.cols[idx].kind {
	case kInt, kYear:
		s, _ := boolean()
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", lit)
		}
		return v, nil
	case kUint, kUint64, kBit:
		s, _ := boolean()
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an unsigned integer", lit)
		}
		return v, nil
	case kFloat, kDouble:
		v, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", lit)
		}
		return v, nil
	case kDecimal:
		s, _ := boolean()
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return nil, fmt.Errorf("%q is not a number", lit)
		}
		return s, nil
	}
	return lit, nil
}

// appendSQL appends the filter as SQL over the table's columns, its
// literals as ? parameters, and returns args extended by their values. The
// filter must be bound and not empty.
func (f *snapshotFilter) appendSQL(b *strings.Builder, args []any) []any {
	d := &mysqlSQL{rel: f.rel, args: args}
	filter.AppendSQL(b, f.root, d)
	return d.args
}

// mysqlSQL is MySQL's filter.Dialect: quoted columns, ? parameters of the
// column's type (DECIMAL cast, as a string parameter would be compared
// as a double), ILIKE as LOWER(column) LIKE LOWER(pattern).
type mysqlSQL struct {
	rel  *relation
	args []any
}

func (d *mysqlSQL) Column(b *strings.Builder, n *filter.Node) {
	b.WriteString(quoteIdent(d.rel.table.Columns[n.Idx].Name))
}

func (d *mysqlSQL) Param(b *strings.Builder, n *filter.Node, lit string) {
	v, _ := filterParam(d.rel, n.Idx, lit) // checked by bind
	d.args = append(d.args, v)
	if d.rel.cols[n.Idx].kind == kDecimal {
		c := &d.rel.table.Columns[n.Idx]
		fmt.Fprintf(b, "CAST(? AS DECIMAL(%d,%d))", max(c.Length, 1), max(c.Scale, 0))
		return
	}
	b.WriteByte('?')
}

func (d *mysqlSQL) Like(b *strings.Builder, n *filter.Node) {
	d.args = append(d.args, n.Lits[0])
	b.WriteByte('(')
	if n.Op == "ILIKE" {
		b.WriteString("LOWER(")
		d.Column(b, n)
		b.WriteByte(')')
		if n.Neg {
			b.WriteString(" NOT")
		}
		b.WriteString(" LIKE LOWER(?))")
		return
	}
	d.Column(b, n)
	if n.Neg {
		b.WriteString(" NOT")
	}
	b.WriteString(" LIKE ?)")
}

// empty reports whether the filter matches every row.
func (f *snapshotFilter) empty() bool { return f == nil || f.root == nil }

// sql is the filter's condition and parameters; "" when empty.
func (f *snapshotFilter) sql() (string, []any) {
	if f.empty() || f.rel == nil {
		return "", nil
	}
	var b strings.Builder
	args := f.appendSQL(&b, nil)
	return b.String(), args
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
