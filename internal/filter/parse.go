package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The parser of the filter grammar (filter.go): a recursive descent over
// the lexer's tokens, one method per rule, that builds the Node
// tree and refuses anything else with the reason.

// MaxLen bounds a filter's length; maxFilterDepth its nesting.
const (
	MaxLen         = 4096
	maxFilterDepth = 32
)

// Parse parses the text of a filter; "" (or only spaces) is no filter,
// a nil tree.
func Parse(src string) (*Node, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	if len(src) > MaxLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrRefused, MaxLen)
	}
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrRefused)
	}
	toks, err := lexFilter(src)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks}
	root, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "AND, OR or the end of the filter")
	}
	return root, nil
}

// reserved are words that may not name a column unquoted, so that a
// misplaced keyword reads as a syntax error, not as an unknown column.
var reserved = map[string]bool{"AND": true, "OR": true, "NOT": true, "IN": true, "IS": true, "NULL": true, "BETWEEN": true,
	"LIKE": true, "ILIKE": true, "TRUE": true, "FALSE": true, "SELECT": true, "FROM": true, "WHERE": true, "UNION": true,
	"EXISTS": true, "CASE": true, "WITH": true, "VALUES": true, "TABLE": true, "ANY": true, "ALL": true, "SOME": true,
	"ARRAY": true, "ROW": true, "SIMILAR": true, "ESCAPE": true, "COLLATE": true, "OPERATOR": true}

type filterParser struct {
	toks []token
	i    int
}

func (p *filterParser) peek() token { return p.toks[p.i] }
func (p *filterParser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// isKw reports whether t is the keyword kw.
func isKw(t token, kw string) bool { return t.kind == tIdent && t.kw == kw }

func (p *filterParser) unexpected(t token, want string) error {
	var got string
	switch {
	case t.kind == tEOF:
		return fmt.Errorf("%w: unexpected end of the filter, want %s", ErrRefused, want)
	case isKw(t, "SELECT") || isKw(t, "WITH") || isKw(t, "VALUES") || isKw(t, "TABLE") || isKw(t, "EXISTS"):
		return fmt.Errorf("%w: at offset %d: sub-selects are not allowed", ErrRefused, t.pos)
	case t.kind == tString:
		got = "'" + t.text + "'"
	case t.kind == tQuoted:
		got = `"` + t.text + `"`
	default:
		got = t.text
	}
	if len(got) > 40 {
		got = got[:40] + "…"
	}
	return fmt.Errorf("%w: at offset %d: unexpected %s, want %s", ErrRefused, t.pos, got, want)
}

func (p *filterParser) or(depth int) (*Node, error) {
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrRefused, maxFilterDepth)
	}
	n, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for isKw(p.peek(), "OR") {
		p.next()
		m, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		if n.Kind != Or {
			n = &Node{Kind: Or, Kids: []*Node{n}}
		}
		n.Kids = append(n.Kids, m)
	}
	return n, nil
}

func (p *filterParser) and(depth int) (*Node, error) {
	n, err := p.not(depth)
	if err != nil {
		return nil, err
	}
	for isKw(p.peek(), "AND") {
		p.next()
		m, err := p.not(depth)
		if err != nil {
			return nil, err
		}
		if n.Kind != And {
			n = &Node{Kind: And, Kids: []*Node{n}}
		}
		n.Kids = append(n.Kids, m)
	}
	return n, nil
}

func (p *filterParser) not(depth int) (*Node, error) {
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrRefused, maxFilterDepth)
	}
	t := p.peek()
	switch {
	case isKw(t, "NOT"):
		p.next()
		n, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return &Node{Kind: Not, Kids: []*Node{n}}, nil
	case t.kind == tPunct && t.text == "(":
		p.next()
		if in := p.peek(); isKw(in, "SELECT") || isKw(in, "WITH") || isKw(in, "VALUES") || isKw(in, "TABLE") {
			return nil, p.unexpected(in, "a condition")
		}
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tPunct || c.text != ")" {
			return nil, p.unexpected(c, "')'")
		}
		return n, nil
	}
	return p.predicate()
}

// column reads a column name, or reports false when the next token is
// not one (it is then left unread).
func (p *filterParser) column() (string, bool, error) {
	t := p.peek()
	switch {
	case t.kind == tQuoted:
		p.next()
		return t.text, true, nil
	case t.kind == tIdent && !reserved[t.kw]:
		p.next()
		if n := p.peek(); n.kind == tPunct && n.text == "(" {
			return "", false, fmt.Errorf("%w: at offset %d: function calls are not allowed (%s(…))", ErrRefused, t.pos, t.text)
		}
		if n := p.peek(); n.kind == tPunct && n.text == "." {
			return "", false, fmt.Errorf("%w: at offset %d: qualified names are not allowed", ErrRefused, t.pos)
		}
		return t.text, true, nil
	}
	return "", false, nil
}

// literal reads a literal: a number, a string, TRUE or FALSE.
func (p *filterParser) literal() (string, bool) {
	t := p.peek()
	switch {
	case t.kind == tNumber || t.kind == tString:
		p.next()
		return t.text, true
	case isKw(t, "TRUE") || isKw(t, "FALSE"):
		p.next()
		return strings.ToLower(t.kw), true
	}
	return "", false
}

func (p *filterParser) mustLiteral(what string) (string, error) {
	if l, ok := p.literal(); ok {
		return l, nil
	}
	t := p.peek()
	if isKw(t, "NULL") {
		return "", fmt.Errorf("%w: at offset %d: NULL is not a value to compare with: use IS [NOT] NULL", ErrRefused, t.pos)
	}
	if n := p.toks[min(p.i+1, len(p.toks)-1)]; t.kind == tPunct && t.text == "(" {
		return "", p.unexpected(n, what)
	}
	if t.kind == tIdent && !reserved[t.kw] || t.kind == tQuoted {
		if n := p.toks[min(p.i+1, len(p.toks)-1)]; t.kind == tIdent && n.kind == tPunct && n.text == "(" {
			return "", fmt.Errorf("%w: at offset %d: function calls are not allowed (%s(…))", ErrRefused, t.pos, t.text)
		}
		return "", fmt.Errorf("%w: at offset %d: %s must be a literal (a number, a 'string', TRUE or FALSE), not a column", ErrRefused, t.pos, what)
	}
	return "", p.unexpected(t, what+" (a number, a 'string', TRUE or FALSE)")
}

var flipped = map[string]string{"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

func (p *filterParser) predicate() (*Node, error) {
	start := p.peek()
	col, ok, err := p.column()
	if err != nil {
		return nil, err
	}
	if !ok {
		// literal cmp column
		lit, isLit := p.literal()
		if !isLit {
			return nil, p.unexpected(start, "a column, NOT or '('")
		}
		op := p.next()
		if op.kind != tOp {
			return nil, p.unexpected(op, "a comparison (=, <>, <, <=, >, >=)")
		}
		col, ok, err := p.column()
		if err != nil {
			return nil, err
		}
		if !ok {
			t := p.peek()
			if _, isLit := p.literal(); isLit {
				return nil, fmt.Errorf("%w: at offset %d: a comparison needs a column on one side", ErrRefused, t.pos)
			}
			return nil, p.unexpected(t, "a column")
		}
		return &Node{Kind: Cmp, Col: col, Op: flipped[op.text], Lits: []string{lit}}, nil
	}
	t := p.next()
	switch {
	case t.kind == tOp:
		lit, err := p.mustLiteral("the value compared")
		if err != nil {
			return nil, err
		}
		return &Node{Kind: Cmp, Col: col, Op: t.text, Lits: []string{lit}}, nil
	case isKw(t, "IS"):
		n := &Node{Kind: Null, Col: col}
		if isKw(p.peek(), "NOT") {
			p.next()
			n.Neg = true
		}
		if v := p.next(); !isKw(v, "NULL") {
			return nil, p.unexpected(v, "NULL after IS [NOT]")
		}
		return n, nil
	}
	neg := false
	if isKw(t, "NOT") {
		neg, t = true, p.next()
	}
	switch {
	case isKw(t, "IN"):
		if o := p.next(); o.kind != tPunct || o.text != "(" {
			return nil, p.unexpected(o, "'(' after IN")
		}
		n := &Node{Kind: In, Col: col, Neg: neg}
		for {
			if in := p.peek(); isKw(in, "SELECT") || isKw(in, "WITH") || isKw(in, "VALUES") || isKw(in, "TABLE") {
				return nil, p.unexpected(in, "a literal")
			}
			lit, err := p.mustLiteral("each value of IN (…)")
			if err != nil {
				return nil, err
			}
			n.Lits = append(n.Lits, lit)
			c := p.next()
			if c.kind == tPunct && c.text == ")" {
				return n, nil
			}
			if c.kind != tPunct || c.text != "," {
				return nil, p.unexpected(c, "',' or ')'")
			}
		}
	case isKw(t, "BETWEEN"):
		lo, err := p.mustLiteral("the lower bound of BETWEEN")
		if err != nil {
			return nil, err
		}
		if a := p.next(); !isKw(a, "AND") {
			return nil, p.unexpected(a, "AND in BETWEEN … AND …")
		}
		hi, err := p.mustLiteral("the upper bound of BETWEEN")
		if err != nil {
			return nil, err
		}
		return &Node{Kind: Between, Col: col, Neg: neg, Lits: []string{lo, hi}}, nil
	case isKw(t, "LIKE") || isKw(t, "ILIKE"):
		s := p.next()
		if s.kind != tString {
			return nil, p.unexpected(s, "a 'pattern' after "+t.kw)
		}
		return &Node{Kind: Like, Col: col, Neg: neg, Op: t.kw, Lits: []string{s.text}}, nil
	}
	want := "a comparison, IS [NOT] NULL, [NOT] IN, [NOT] BETWEEN or [NOT] LIKE"
	if neg {
		want = "IN, BETWEEN or LIKE after NOT"
	}
	return nil, p.unexpected(t, want)
}
