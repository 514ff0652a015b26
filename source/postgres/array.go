package postgres

import (
	"bytes"
	"fmt"

	"github.com/sluice-cdc/sluice"
)

// Arrays.
//
// PostgreSQL's array output is "{1,2,NULL}", with elements double-quoted
// when they are empty, "NULL", or contain braces, quotes, backslashes,
// the delimiter or white space ("{"a b","c\"d",NULL,"NULL"}"), nested
// braces per dimension ("{{1,2},{3,4}}"), and a "[0:1]=" prefix when a
// lower bound is not 1. The decoded Value holds one Elems entry per item
// of the outer braces: for a one-dimensional array the elements, for a
// multi-dimensional one a Value per sub-array (Kind present, Elems set),
// nested like the braces: {{1,2},{3,4}} is [[1,2],[3,4]]. Leaf elements
// never have Elems; sub-arrays always have at least one entry (PostgreSQL
// prints every empty array as "{}"). Bounds are dropped: the first
// element is Elems[0] whatever the lower bound.

// maxArrayDims is PostgreSQL's MAXDIM.
const maxArrayDims = 6

func decodeArray(v *sluice.Value, col *sluice.Column, src []byte) error {
	s := src
	if len(s) > 0 && s[0] == '[' {
		eq := skipBounds(s)
		if eq < 0 {
			return syntaxErr("array bounds", src)
		}
		s = s[eq+1:]
	}
	if len(s) == 2 && s[0] == '{' && s[1] == '}' {
		v.Kind, v.Elems = sluice.KindPresent, []sluice.Value{} // no allocation
		return nil
	}
	delim := byte(',')
	if col.DBType == "_box" { // the only built-in type whose typdelim is not ','
		delim = ';'
	}
	nvals := countArrayValues(s, delim)
	p := arrayParser{src: s, delim: delim, elem: col.Elem, vals: make([]sluice.Value, nvals)}
	if hasBytes(col.Elem) {
		n := len(s)
		if col.Elem == sluice.TypeInterval {
			n += 16 * nvals
		}
		p.arena = make([]byte, 0, n)
	}
	p.skipSpace()
	if err := p.list(v, 0); err != nil {
		return err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return errBadArray
	}
	return nil
}

// skipBounds returns the index of the '=' after "[lb:ub]…" dimension
// decorations, or -1.
func skipBounds(s []byte) int {
	i := 0
	for i < len(s) && s[i] == '[' {
		j := i + 1
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '-' || s[j] == '+' || s[j] == ':') {
			j++
		}
		if j >= len(s) || s[j] != ']' {
			return -1
		}
		i = j + 1
	}
	if i == 0 || i >= len(s) || s[i] != '=' {
		return -1
	}
	return i
}

// countArrayValues returns an upper bound of the Values an array literal
// needs below its top-level Value: one per element or sub-array, i.e. per
// delimiter plus one per non-empty list. Delimiters and braces inside
// quoted elements are counted too: the bound is loose for them, but
// bytes.Count is far faster than a quote-aware scan.
func countArrayValues(s []byte, delim byte) int {
	return bytes.Count(s, []byte{delim}) + bytes.Count(s, []byte{'{'})
}

type arrayParser struct {
	src     []byte
	pos     int
	delim   byte
	elem    sluice.Type
	vals    []sluice.Value // all Values below the top level, carved per list
	used    int
	arena   []byte // all element bytes, carved per element
	scratch []byte // unescaped text of a quoted non-text element
	leaf    int    // elements seen, for error messages
}

func (p *arrayParser) skipSpace() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// isSpace matches the white space array_in skips around elements.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// list parses "{…}" at p.pos into *v.
func (p *arrayParser) list(v *sluice.Value, depth int) error {
	if depth >= maxArrayDims {
		return errTooDeep
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '{' {
		return errBadArray
	}
	p.pos++
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] != '{' {
		return p.leaves(v)
	}
	k, ok := p.items()
	if !ok || k > len(p.vals)-p.used {
		return errBadArray
	}
	items := p.vals[p.used : p.used+k : p.used+k]
	p.used += k
	for i := range items {
		p.skipSpace()
		if i > 0 {
			if p.pos >= len(p.src) || p.src[p.pos] != p.delim {
				return errBadArray
			}
			p.pos++
			p.skipSpace()
		}
		var err error
		if p.pos < len(p.src) && p.src[p.pos] == '{' {
			err = p.list(&items[i], depth+1)
		} else {
			err = p.element(&items[i])
		}
		if err != nil {
			return err
		}
	}
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] != '}' {
		return errBadArray
	}
	p.pos++
	v.Kind, v.Elems = sluice.KindPresent, items
	return nil
}

// leaves parses the rest of a list of elements (no sub-lists) into *v,
// taking Values from the pool as it goes.
func (p *arrayParser) leaves(v *sluice.Value) error {
	first := p.used
	if p.src[p.pos] != '}' {
		for {
			if p.used == len(p.vals) {
				return errBadArray
			}
			if err := p.element(&p.vals[p.used]); err != nil {
				return err
			}
			p.used++
			p.skipSpace()
			if p.pos >= len(p.src) || p.src[p.pos] != p.delim {
				break
			}
			p.pos++
			p.skipSpace()
		}
	}
	if p.pos >= len(p.src) || p.src[p.pos] != '}' {
		return errBadArray
	}
	p.pos++
	v.Kind, v.Elems = sluice.KindPresent, p.vals[first:p.used:p.used]
	return nil
}

// items counts the items of the list whose content starts at p.pos,
// without moving.
func (p *arrayParser) items() (int, bool) {
	i := p.pos
	for i < len(p.src) && isSpace(p.src[i]) {
		i++
	}
	if i < len(p.src) && p.src[i] == '}' {
		return 0, true
	}
	n, depth, quoted := 1, 0, false
	for ; i < len(p.src); i++ {
		c := p.src[i]
		switch {
		case quoted:
			if c == '\\' {
				i++
			} else if c == '"' {
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '\\':
			i++
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				return n, true
			}
			depth--
		case c == p.delim && depth == 0:
			n++
		}
	}
	return 0, false
}

// element parses one quoted or unquoted element at p.pos and decodes it
// into the zero Value *v.
func (p *arrayParser) element(v *sluice.Value) error {
	p.leaf++
	var raw []byte
	escaped := false
	if p.pos < len(p.src) && p.src[p.pos] == '"' {
		start := p.pos + 1
		i := start
		for ; i < len(p.src) && p.src[i] != '"'; i++ {
			if p.src[i] == '\\' {
				escaped = true
				i++
			}
		}
		if i >= len(p.src) {
			return errBadArray
		}
		raw, p.pos = p.src[start:i], i+1
	} else {
		start := p.pos
		i := start
		for ; i < len(p.src); i++ {
			c := p.src[i]
			if c == p.delim || c == '}' {
				break
			}
			if c == '{' || c == '"' {
				return errBadArray
			}
			if c == '\\' {
				escaped = true
				i++
			}
		}
		if i > len(p.src) {
			return errBadArray
		}
		end := i
		for end > start && isSpace(p.src[end-1]) {
			end--
		}
		raw, p.pos = p.src[start:end], i
		if len(raw) == 0 {
			return errBadArray
		}
		if !escaped && len(raw) == 4 && (raw[0]|0x20) == 'n' && (raw[1]|0x20) == 'u' && (raw[2]|0x20) == 'l' && (raw[3]|0x20) == 'l' {
			return nil // KindNull
		}
	}
	var err error
	switch {
	case !escaped:
		p.arena, err = decodeInto(v, p.elem, raw, p.arena)
	case p.elem == sluice.TypeText || p.elem == sluice.TypeJSON || p.elem == sluice.TypeXML || p.elem == sluice.TypeEnum:
		start := len(p.arena)
		p.arena = unescape(p.arena, raw)
		setBytes(v, p.arena, start)
	default:
		p.scratch = unescape(p.scratch[:0], raw)
		p.arena, err = decodeInto(v, p.elem, p.scratch, p.arena)
	}
	if err != nil {
		return fmt.Errorf("array element %d: %w", p.leaf, err)
	}
	return nil
}

// unescape appends raw with each backslash escape replaced by the byte it
// protects.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' && i+1 < len(raw) {
			i++
		}
		dst = append(dst, raw[i])
	}
	return dst
}
