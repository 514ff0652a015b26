package testenv

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSONNode is a JSON document parsed without losing anything that matters
// to a byte-for-byte comparison: object keys keep their order, and keys
// and scalars keep their raw bytes (number spelling such as 2.0 against 2,
// string escapes such as \u00fc against ü). Whitespace is refused: neither
// Kafka Connect's JsonConverter nor sluice writes any, so printing the tree
// back gives the input bytes.
type JSONNode struct {
	// Kind is '{' (object), '[' (array), '"' (string), '0' (number),
	// 't' (true), 'f' (false) or 'n' (null).
	Kind byte
	Raw  []byte      // a scalar's bytes as written (a string with its quotes)
	Keys []string    // an object's keys, decoded, in order
	RawK [][]byte    // an object's keys as written (with quotes)
	Vals []*JSONNode // an object's values (same order as Keys) or an array's elements
}

// ParseJSON parses b strictly (RFC 8259, no whitespace between tokens).
func ParseJSON(b []byte) (*JSONNode, error) {
	p := jsonParser{b: b}
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.i != len(b) {
		return nil, p.errf("trailing bytes")
	}
	return n, nil
}

type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) errf(format string, args ...any) error {
	return fmt.Errorf("json at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}

func (p *jsonParser) value() (*JSONNode, error) {
	if p.i >= len(p.b) {
		return nil, p.errf("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		raw, err := p.str()
		if err != nil {
			return nil, err
		}
		return &JSONNode{Kind: '"', Raw: raw}, nil
	case c == '-' || c >= '0' && c <= '9':
		start := p.i
		p.i++
		for p.i < len(p.b) && strings.IndexByte("0123456789.eE+-", p.b[p.i]) >= 0 {
			p.i++
		}
		raw := p.b[start:p.i]
		if _, err := strconv.ParseFloat(string(raw), 64); err != nil && !strings.Contains(err.Error(), "range") {
			return nil, p.errf("bad number %q", raw)
		}
		return &JSONNode{Kind: '0', Raw: raw}, nil
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
				p.i += len(lit)
				return &JSONNode{Kind: lit[0], Raw: []byte(lit)}, nil
			}
		}
		return nil, p.errf("unexpected byte %q", c)
	}
}

func (p *jsonParser) str() ([]byte, error) {
	start := p.i
	p.i++ // opening quote
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return p.b[start:p.i], nil
		case c == '\\':
			p.i += 2
		case c < 0x20:
			return nil, p.errf("control character in string")
		default:
			p.i++
		}
	}
	return nil, p.errf("unterminated string")
}

func (p *jsonParser) object() (*JSONNode, error) {
	n := &JSONNode{Kind: '{'}
	p.i++
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return n, nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.errf("want a key")
		}
		rawK, err := p.str()
		if err != nil {
			return nil, err
		}
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.errf("want ':'")
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.Keys = append(n.Keys, unquote(rawK))
		n.RawK = append(n.RawK, rawK)
		n.Vals = append(n.Vals, v)
		if p.i >= len(p.b) {
			return nil, p.errf("unterminated object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return n, nil
		default:
			return nil, p.errf("want ',' or '}'")
		}
	}
}

func (p *jsonParser) array() (*JSONNode, error) {
	n := &JSONNode{Kind: '['}
	p.i++
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return n, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.Vals = append(n.Vals, v)
		if p.i >= len(p.b) {
			return nil, p.errf("unterminated array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return n, nil
		default:
			return nil, p.errf("want ',' or ']'")
		}
	}
}

// unquote decodes a raw JSON string (with quotes); malformed escapes are
// kept as written.
func unquote(raw []byte) string {
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 < len(s) {
				if r, err := strconv.ParseUint(string(s[i+1:i+5]), 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			b.WriteString(`\u`)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// Str returns a string node's decoded value ("" for other kinds).
func (n *JSONNode) Str() string {
	if n == nil || n.Kind != '"' {
		return ""
	}
	return unquote(n.Raw)
}

// Get returns the value of an object's key, or nil.
func (n *JSONNode) Get(key string) *JSONNode {
	if n == nil || n.Kind != '{' {
		return nil
	}
	for i, k := range n.Keys {
		if k == key {
			return n.Vals[i]
		}
	}
	return nil
}

// At follows a dotted path of object keys ("source.lsn"); nil when a step
// is missing.
func (n *JSONNode) At(path string) *JSONNode {
	for _, k := range strings.Split(path, ".") {
		n = n.Get(k)
	}
	return n
}

// Append writes the node back as compact JSON.
func (n *JSONNode) Append(dst []byte) []byte {
	switch n.Kind {
	case '{':
		dst = append(dst, '{')
		for i, v := range n.Vals {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, n.RawK[i]...)
			dst = append(dst, ':')
			dst = v.Append(dst)
		}
		return append(dst, '}')
	case '[':
		dst = append(dst, '[')
		for i, v := range n.Vals {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = v.Append(dst)
		}
		return append(dst, ']')
	}
	return append(dst, n.Raw...)
}

// String is the compact JSON of the node.
func (n *JSONNode) String() string {
	if n == nil {
		return "(absent)"
	}
	return string(n.Append(nil))
}

// JSONDiff is one difference between two JSON documents.
type JSONDiff struct {
	// Path locates it: object keys joined by '.', array elements as [i],
	// or as [name] for elements that are objects with a "field" member
	// (the fields of a Kafka Connect struct schema), so that a path names
	// a column rather than its position: schema.fields[after].fields[c_2d].
	Path string
	// What is "value" (both present, different), "missing" (only in
	// Want), "extra" (only in Got), "order" (same keys, other order) or
	// "length" (arrays of different lengths; elements are compared up to
	// the shorter).
	What      string
	Want, Got string // compact JSON of both sides (the key lists for "order")
}

func (d JSONDiff) String() string {
	switch d.What {
	case "missing":
		return fmt.Sprintf("%s: missing in sluice (debezium: %s)", d.Path, clip(d.Want, 200))
	case "extra":
		return fmt.Sprintf("%s: only in sluice (%s)", d.Path, clip(d.Got, 200))
	case "order":
		return fmt.Sprintf("%s: field order differs:\n      debezium %s\n      sluice   %s", d.Path, d.Want, d.Got)
	}
	return fmt.Sprintf("%s: %s differs:\n      debezium %s\n      sluice   %s", d.Path, d.What, clip(d.Want, 400), clip(d.Got, 400))
}

// clip shortens s to about n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…(%d bytes)", len(s))
}

// DiffJSON lists the differences between want and got under path.
func DiffJSON(path string, want, got *JSONNode) []JSONDiff {
	var out []JSONDiff
	diffJSON(path, want, got, &out)
	return out
}

func diffJSON(path string, want, got *JSONNode, out *[]JSONDiff) {
	switch {
	case want == nil && got == nil:
		return
	case want == nil:
		*out = append(*out, JSONDiff{Path: path, What: "extra", Got: got.String()})
		return
	case got == nil:
		*out = append(*out, JSONDiff{Path: path, What: "missing", Want: want.String()})
		return
	case want.Kind != got.Kind || (want.Kind != '{' && want.Kind != '[' && !bytes.Equal(want.Raw, got.Raw)):
		*out = append(*out, JSONDiff{Path: path, What: "value", Want: want.String(), Got: got.String()})
		return
	}
	switch want.Kind {
	case '{':
		seen := map[string]bool{}
		for i, k := range want.Keys {
			seen[k] = true
			diffJSON(join(path, k), want.Vals[i], got.Get(k), out)
		}
		for i, k := range got.Keys {
			if !seen[k] {
				*out = append(*out, JSONDiff{Path: join(path, k), What: "extra", Got: got.Vals[i].String()})
			}
		}
		if common(want.Keys, got.Keys) {
			if strings.Join(want.Keys, "\x00") != strings.Join(got.Keys, "\x00") {
				*out = append(*out, JSONDiff{Path: path, What: "order", Want: strings.Join(want.Keys, ","), Got: strings.Join(got.Keys, ",")})
			}
		} else if order(want.Keys, got.Keys) {
			*out = append(*out, JSONDiff{Path: path, What: "order", Want: strings.Join(want.Keys, ","), Got: strings.Join(got.Keys, ",")})
		}
	case '[':
		if fieldList(want) && fieldList(got) {
			diffFields(path, want, got, out)
			return
		}
		if len(want.Vals) != len(got.Vals) {
			*out = append(*out, JSONDiff{Path: path, What: "length", Want: strconv.Itoa(len(want.Vals)), Got: strconv.Itoa(len(got.Vals))})
		}
		for i := range min(len(want.Vals), len(got.Vals)) {
			diffJSON(path+elemName(want.Vals[i], i), want.Vals[i], got.Vals[i], out)
		}
	}
}

// common reports whether a and b hold the same keys.
func common(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	set := map[string]bool{}
	for _, k := range a {
		set[k] = true
	}
	for _, k := range b {
		if !set[k] {
			return false
		}
	}
	return true
}

// order reports whether the keys both sides have come in another order
// (a key present on one side only is reported on its own).
func order(a, b []string) bool {
	inB := map[string]bool{}
	for _, k := range b {
		inB[k] = true
	}
	inA := map[string]bool{}
	var x, y []string
	for _, k := range a {
		inA[k] = true
		if inB[k] {
			x = append(x, k)
		}
	}
	for _, k := range b {
		if inA[k] {
			y = append(y, k)
		}
	}
	return strings.Join(x, "\x00") != strings.Join(y, "\x00")
}

// fieldList reports whether n is a non-empty array of objects that each
// have a "field" string: the fields of a Kafka Connect struct schema.
func fieldList(n *JSONNode) bool {
	if len(n.Vals) == 0 {
		return false
	}
	for _, v := range n.Vals {
		if f := v.Get("field"); f == nil || f.Kind != '"' {
			return false
		}
	}
	return true
}

// diffFields compares two field lists by field name, as objects are
// compared by key: missing and extra fields, then their order.
func diffFields(path string, want, got *JSONNode, out *[]JSONDiff) {
	names := func(n *JSONNode) []string {
		var s []string
		for _, v := range n.Vals {
			s = append(s, v.Get("field").Str())
		}
		return s
	}
	w, g := names(want), names(got)
	byName := map[string]*JSONNode{}
	for i, v := range got.Vals {
		byName[g[i]] = v
	}
	seen := map[string]bool{}
	for i, v := range want.Vals {
		seen[w[i]] = true
		diffJSON(path+"["+w[i]+"]", v, byName[w[i]], out)
	}
	for i, v := range got.Vals {
		if !seen[g[i]] {
			*out = append(*out, JSONDiff{Path: path + "[" + g[i] + "]", What: "extra", Got: v.String()})
		}
	}
	if order(w, g) {
		*out = append(*out, JSONDiff{Path: path, What: "order", Want: strings.Join(w, ","), Got: strings.Join(g, ",")})
	}
}

func elemName(n *JSONNode, i int) string {
	if f := n.Get("field"); f != nil && f.Kind == '"' {
		return "[" + f.Str() + "]"
	}
	return "[" + strconv.Itoa(i) + "]"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
