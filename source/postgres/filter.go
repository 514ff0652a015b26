package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

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

// maxFilterLen bounds a filter's length; maxFilterDepth its nesting.
const (
	maxFilterLen   = 4096
	maxFilterDepth = 32
)

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

// parseFilter parses the text of a filter; "" is no filter.
func parseFilter(src string) (*snapshotFilter, error) {
	if strings.TrimSpace(src) == "" {
		return &snapshotFilter{}, nil
	}
	if len(src) > maxFilterLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", errFilter, maxFilterLen)
	}
	if !utf8.ValidString(src) {
		return nil, fmt.Errorf("%w: not valid UTF-8", errFilter)
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
	return &snapshotFilter{root: root}, nil
}

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

// Tokens.

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tQuoted // "quoted identifier"
	tString
	tNumber
	tOp    // = <> != < <= > >=
	tPunct // ( ) ,
)

type token struct {
	kind tokKind
	text string // identifiers upper-cased for keywords in kw; literals unquoted
	kw   string // upper-case form of an identifier
	pos  int
}

func lexFilter(src string) ([]token, error) {
	var toks []token
	refuse := func(pos int, format string, a ...any) error {
		return fmt.Errorf("%w: at offset %d: %s", errFilter, pos, fmt.Sprintf(format, a...))
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == ';':
			return nil, refuse(i, "';' is not allowed: a filter is one condition, not statements")
		case c == '-' && i+1 < len(src) && src[i+1] == '-', c == '/' && i+1 < len(src) && src[i+1] == '*':
			return nil, refuse(i, "comments are not allowed")
		case c == ':' && i+1 < len(src) && src[i+1] == ':':
			return nil, refuse(i, "casts (::) are not allowed: a literal takes its column's type")
		case c == '$':
			return nil, refuse(i, "'$' is not allowed (no parameters or dollar quoting)")
		case c == '(' || c == ')' || c == ',' || c == '.' && (i+1 >= len(src) || !isDigit(src[i+1])):
			toks = append(toks, token{kind: tPunct, text: string(c), pos: i})
			i++
		case c == '=':
			toks = append(toks, token{kind: tOp, text: "=", pos: i})
			i++
		case c == '<' || c == '>' || c == '!':
			op := string(c)
			if i+1 < len(src) && (src[i+1] == '=' || c == '<' && src[i+1] == '>') {
				op += string(src[i+1])
			}
			if op == "!" {
				return nil, refuse(i, "unexpected '!'")
			}
			if op == "!=" {
				op = "<>"
			}
			toks = append(toks, token{kind: tOp, text: op, pos: i})
			i += 2
			if len(op) == 1 {
				i--
			}
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, refuse(i, "unterminated string literal")
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			toks = append(toks, token{kind: tString, text: b.String(), pos: i})
			i = j + 1
		case c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, refuse(i, "unterminated quoted name")
				}
				if src[j] == '"' {
					if j+1 < len(src) && src[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			if b.Len() == 0 {
				return nil, refuse(i, "empty quoted name")
			}
			toks = append(toks, token{kind: tQuoted, text: b.String(), pos: i})
			i = j + 1
		case isDigit(c) || c == '.' || (c == '-' || c == '+') && i+1 < len(src) && (isDigit(src[i+1]) || src[i+1] == '.'):
			j := i
			if c == '-' || c == '+' {
				j++
			}
			digits := 0
			for j < len(src) && isDigit(src[j]) {
				j, digits = j+1, digits+1
			}
			if j < len(src) && src[j] == '.' {
				j++
				for j < len(src) && isDigit(src[j]) {
					j, digits = j+1, digits+1
				}
			}
			if digits == 0 {
				return nil, refuse(i, "malformed number")
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k >= len(src) || !isDigit(src[k]) {
					return nil, refuse(i, "malformed number")
				}
				for k < len(src) && isDigit(src[k]) {
					k++
				}
				j = k
			}
			if j < len(src) && isIdentByte(src[j]) {
				return nil, refuse(i, "malformed number %q", src[i:j+1])
			}
			toks = append(toks, token{kind: tNumber, text: src[i:j], pos: i})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			word := src[i:j]
			if j < len(src) && src[j] == '\'' {
				return nil, refuse(i, "prefixed string literals (%s'…') are not allowed", word)
			}
			// Unquoted names fold to lower case; PostgreSQL folds only ASCII
			// letters in a multi-byte encoding.
			toks = append(toks, token{kind: tIdent, text: asciiLower(word), kw: strings.ToUpper(word), pos: i})
			i = j
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, refuse(i, "unexpected %q: the filter allows columns, literals, comparisons, AND/OR/NOT, IN, BETWEEN, LIKE and IS NULL", r)
		}
	}
	return append(toks, token{kind: tEOF, pos: len(src)}), nil
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
func isIdentByte(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }

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
		return fmt.Errorf("%w: unexpected end of the filter, want %s", errFilter, want)
	case isKw(t, "SELECT") || isKw(t, "WITH") || isKw(t, "VALUES") || isKw(t, "TABLE") || isKw(t, "EXISTS"):
		return fmt.Errorf("%w: at offset %d: sub-selects are not allowed", errFilter, t.pos)
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
	return fmt.Errorf("%w: at offset %d: unexpected %s, want %s", errFilter, t.pos, got, want)
}

func (p *filterParser) or(depth int) (*filterNode, error) {
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errFilter, maxFilterDepth)
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
		if n.kind != fOr {
			n = &filterNode{kind: fOr, kids: []*filterNode{n}}
		}
		n.kids = append(n.kids, m)
	}
	return n, nil
}

func (p *filterParser) and(depth int) (*filterNode, error) {
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
		if n.kind != fAnd {
			n = &filterNode{kind: fAnd, kids: []*filterNode{n}}
		}
		n.kids = append(n.kids, m)
	}
	return n, nil
}

func (p *filterParser) not(depth int) (*filterNode, error) {
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errFilter, maxFilterDepth)
	}
	t := p.peek()
	switch {
	case isKw(t, "NOT"):
		p.next()
		n, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return &filterNode{kind: fNot, kids: []*filterNode{n}}, nil
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
			return "", false, fmt.Errorf("%w: at offset %d: function calls are not allowed (%s(…))", errFilter, t.pos, t.text)
		}
		if n := p.peek(); n.kind == tPunct && n.text == "." {
			return "", false, fmt.Errorf("%w: at offset %d: qualified names are not allowed", errFilter, t.pos)
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
		return "", fmt.Errorf("%w: at offset %d: NULL is not a value to compare with: use IS [NOT] NULL", errFilter, t.pos)
	}
	if n := p.toks[min(p.i+1, len(p.toks)-1)]; t.kind == tPunct && t.text == "(" {
		return "", p.unexpected(n, what)
	}
	if t.kind == tIdent && !reserved[t.kw] || t.kind == tQuoted {
		if n := p.toks[min(p.i+1, len(p.toks)-1)]; t.kind == tIdent && n.kind == tPunct && n.text == "(" {
			return "", fmt.Errorf("%w: at offset %d: function calls are not allowed (%s(…))", errFilter, t.pos, t.text)
		}
		return "", fmt.Errorf("%w: at offset %d: %s must be a literal (a number, a 'string', TRUE or FALSE), not a column", errFilter, t.pos, what)
	}
	return "", p.unexpected(t, what+" (a number, a 'string', TRUE or FALSE)")
}

var flipped = map[string]string{"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

func (p *filterParser) predicate() (*filterNode, error) {
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
				return nil, fmt.Errorf("%w: at offset %d: a comparison needs a column on one side", errFilter, t.pos)
			}
			return nil, p.unexpected(t, "a column")
		}
		return &filterNode{kind: fCmp, col: col, op: flipped[op.text], lits: []string{lit}}, nil
	}
	t := p.next()
	switch {
	case t.kind == tOp:
		lit, err := p.mustLiteral("the value compared")
		if err != nil {
			return nil, err
		}
		return &filterNode{kind: fCmp, col: col, op: t.text, lits: []string{lit}}, nil
	case isKw(t, "IS"):
		n := &filterNode{kind: fNull, col: col}
		if isKw(p.peek(), "NOT") {
			p.next()
			n.neg = true
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
		n := &filterNode{kind: fIn, col: col, neg: neg}
		for {
			if in := p.peek(); isKw(in, "SELECT") || isKw(in, "WITH") || isKw(in, "VALUES") || isKw(in, "TABLE") {
				return nil, p.unexpected(in, "a literal")
			}
			lit, err := p.mustLiteral("each value of IN (…)")
			if err != nil {
				return nil, err
			}
			n.lits = append(n.lits, lit)
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
		return &filterNode{kind: fBetween, col: col, neg: neg, lits: []string{lo, hi}}, nil
	case isKw(t, "LIKE") || isKw(t, "ILIKE"):
		s := p.next()
		if s.kind != tString {
			return nil, p.unexpected(s, "a 'pattern' after "+t.kw)
		}
		return &filterNode{kind: fLike, col: col, neg: neg, op: t.kw, lits: []string{s.text}}, nil
	}
	want := "a comparison, IS [NOT] NULL, [NOT] IN, [NOT] BETWEEN or [NOT] LIKE"
	if neg {
		want = "IN, BETWEEN or LIKE after NOT"
	}
	return nil, p.unexpected(t, want)
}

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
