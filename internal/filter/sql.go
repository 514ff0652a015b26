package filter

import (
	"fmt"
	"strings"
)

// Dialect writes the parts of a filter's SQL that differ between servers:
// how a column is named, how a literal becomes a parameter, and LIKE
// (MySQL has no ILIKE). It collects the parameters' values itself.
type Dialect interface {
	Column(b *strings.Builder, n *Node)
	Param(b *strings.Builder, n *Node, lit string)
	Like(b *strings.Builder, n *Node)
}

// AppendSQL appends the bound tree root as a parenthesized SQL condition
// built only from sluice's own keywords and what d writes.
func AppendSQL(b *strings.Builder, root *Node, d Dialect) {
	var walk func(n *Node)
	walk = func(n *Node) {
		not := func() {
			if n.Neg {
				b.WriteString(" NOT")
			}
		}
		switch n.Kind {
		case And, Or:
			sep := " AND "
			if n.Kind == Or {
				sep = " OR "
			}
			b.WriteByte('(')
			for i, k := range n.Kids {
				if i > 0 {
					b.WriteString(sep)
				}
				walk(k)
			}
			b.WriteByte(')')
		case Not:
			b.WriteString("(NOT ")
			walk(n.Kids[0])
			b.WriteByte(')')
		case Cmp:
			b.WriteByte('(')
			d.Column(b, n)
			b.WriteString(" " + n.Op + " ")
			d.Param(b, n, n.Lits[0])
			b.WriteByte(')')
		case Null:
			b.WriteByte('(')
			d.Column(b, n)
			b.WriteString(" IS")
			not()
			b.WriteString(" NULL)")
		case In:
			b.WriteByte('(')
			d.Column(b, n)
			not()
			b.WriteString(" IN (")
			for i, l := range n.Lits {
				if i > 0 {
					b.WriteString(", ")
				}
				d.Param(b, n, l)
			}
			b.WriteString("))")
		case Between:
			b.WriteByte('(')
			d.Column(b, n)
			not()
			b.WriteString(" BETWEEN ")
			d.Param(b, n, n.Lits[0])
			b.WriteString(" AND ")
			d.Param(b, n, n.Lits[1])
			b.WriteByte(')')
		case Like:
			d.Like(b, n)
		}
	}
	walk(root)
}

// Bind resolves the columns of the tree root in a table: each predicate's
// Idx becomes index(Col), a column the table lacks is refused with the
// table's columns named, and check (when not nil) may refuse a predicate
// of a column it found (a literal that is no value of its type).
func Bind(root *Node, table string, columns []string, index func(col string) int, check func(n *Node) error) error {
	if root == nil {
		return nil
	}
	for _, k := range root.Kids {
		if err := Bind(k, table, columns, index, check); err != nil {
			return err
		}
	}
	if root.Kind == And || root.Kind == Or || root.Kind == Not {
		return nil
	}
	if root.Idx = index(root.Col); root.Idx < 0 {
		return fmt.Errorf("%w: no column %q in %s (columns: %s)", ErrRefused, root.Col, table, strings.Join(columns, ", "))
	}
	if check != nil {
		return check(root)
	}
	return nil
}
