package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The lexer: a filter's text as tokens. What no filter may hold (';',
// comments, casts, '$', prefixed strings) is refused here, with its offset.

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
		return fmt.Errorf("%w: at offset %d: %s", ErrRefused, pos, fmt.Sprintf(format, a...))
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
func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
