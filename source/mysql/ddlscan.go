package mysql

import "strings"

// The ddlScanner's reading of column definitions (ddlstruct.go).

// ident consumes an identifier: `quoted` (a doubled backtick is one) or
// bare.
func (p *ddlScanner) ident() (string, bool) {
	p.skip()
	if p.i >= len(p.s) {
		return "", false
	}
	if p.s[p.i] == '`' {
		var b strings.Builder
		for j := p.i + 1; j < len(p.s); j++ {
			if p.s[j] == '`' {
				if j+1 < len(p.s) && p.s[j+1] == '`' {
					b.WriteByte('`')
					j++
					continue
				}
				p.i = j + 1
				return b.String(), true
			}
			b.WriteByte(p.s[j])
		}
		return "", false
	}
	j := p.i
	for j < len(p.s) && identByte(p.s[j]) {
		j++
	}
	if j == p.i {
		return "", false
	}
	id := p.s[p.i:j]
	p.i = j
	return id, true
}

// name consumes a name written as an identifier or a string, such as a
// character set; "" when there is none.
func (p *ddlScanner) name() string {
	p.punct('=')
	if s, ok := p.str(); ok {
		return s
	}
	id, _ := p.ident()
	return id
}

// str consumes a string literal, '…' or "…", and returns its value: a
// doubled quote is one, a backslash escapes the next character (MySQL's
// default sql_mode).
func (p *ddlScanner) str() (string, bool) {
	p.skip()
	if p.i >= len(p.s) || p.s[p.i] != '\'' && p.s[p.i] != '"' {
		return "", false
	}
	q := p.s[p.i]
	var b strings.Builder
	for j := p.i + 1; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '\\' && j+1 < len(p.s):
			j++
			b.WriteByte(unescape(p.s[j]))
		case c == q && j+1 < len(p.s) && p.s[j+1] == q:
			b.WriteByte(q)
			j++
		case c == q:
			p.i = j + 1
			return b.String(), true
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// unescape is the character a backslash escape stands for.
func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case '0':
		return 0
	}
	return c
}

// token consumes one token and returns its text: a parenthesised group
// whole, a quoted string or identifier, a word or number, or one other
// character.
func (p *ddlScanner) token() string {
	p.skip()
	if p.i >= len(p.s) {
		return ""
	}
	at := p.i
	switch c := p.s[p.i]; {
	case c == '(':
		depth := 0
	group:
		for p.i < len(p.s) {
			switch p.s[p.i] {
			case '\'', '"':
				if _, ok := p.str(); !ok {
					p.i = len(p.s)
				}
				continue
			case '`':
				if _, ok := p.ident(); !ok {
					p.i = len(p.s)
				}
				continue
			case '(':
				depth++
			case ')':
				depth--
			}
			p.i++
			if depth == 0 {
				break group
			}
		}
	case c == '\'' || c == '"':
		if _, ok := p.str(); !ok {
			p.i = len(p.s)
		}
	case c == '`':
		if _, ok := p.ident(); !ok {
			p.i = len(p.s)
		}
	case identByte(c):
		for p.i < len(p.s) && (identByte(p.s[p.i]) || p.s[p.i] == '.' && p.i+1 < len(p.s) && p.s[p.i+1] >= '0' && p.s[p.i+1] <= '9') {
			p.i++
		}
	default:
		p.i++
	}
	return p.s[at:p.i]
}

// keyColumns reads "[name] [USING type] (col[(n)] [ASC|DESC], …)" of a
// key definition and skips what follows it in the element.
func (p *ddlScanner) keyColumns() []string {
	for p.skip(); p.i < len(p.s) && p.s[p.i] != '('; p.skip() {
		p.token()
	}
	if !p.punct('(') {
		return nil
	}
	var cols []string
	for {
		c, ok := p.ident()
		if !ok {
			break
		}
		cols = append(cols, c)
		for p.skip(); p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ')'; p.skip() {
			p.token() // (length), ASC, DESC
		}
		if !p.punct(',') {
			break
		}
	}
	p.punct(')')
	p.skipElement()
	return cols
}

// skipElement consumes tokens up to the next top-level ',' or ')'.
func (p *ddlScanner) skipElement() {
	for p.skip(); p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ')'; p.skip() {
		p.token()
	}
}
