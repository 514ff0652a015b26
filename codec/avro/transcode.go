package avro

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unsafe"
)

type kind uint8

const (
	kNull kind = iota
	kBool
	kInt
	kLong
	kFloat
	kDouble
	kString
	kBytes
	kRecord
	kArray
	kMap
)

// node is how the values of one Avro type are transcoded.
type node struct {
	kind kind
	// union is the index of the null branch when the type is a union
	// with null (0: ["null", T], 1: [T, "null"]), else -1.
	union  int8
	fields []field // kRecord
	items  *node   // kArray: the items; kMap: the values
}

type field struct {
	name string
	n    *node
}

// Append appends the Avro binary encoding of the JSON value js (written
// by sluice's JSON encoder without schemas) to dst.
func (s *Schema) Append(dst, js []byte) ([]byte, error) {
	p := parser{b: js}
	dst, err := p.value(dst, s.root)
	if err != nil {
		return dst, fmt.Errorf("avro: %s: %w", s.Name, err)
	}
	p.ws()
	if p.i != len(p.b) {
		return dst, fmt.Errorf("avro: %s: trailing bytes at %d", s.Name, p.i)
	}
	return dst, nil
}

type parser struct {
	b []byte
	i int
}

var errSyntax = errors.New("malformed JSON")

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *parser) lit(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// value transcodes one JSON value of type n.
func (p *parser) value(dst []byte, n *node) ([]byte, error) {
	if p.peek() == 'n' {
		if !p.lit("null") {
			return dst, errSyntax
		}
		switch {
		case n.union >= 0:
			return appendLong(dst, int64(n.union)), nil
		case n.kind == kNull:
			return dst, nil
		}
		return dst, errors.New("null for a field that is not optional")
	}
	if n.union >= 0 {
		dst = appendLong(dst, int64(1-n.union))
	}
	switch n.kind {
	case kBool:
		switch {
		case p.lit("true"):
			return append(dst, 1), nil
		case p.lit("false"):
			return append(dst, 0), nil
		}
		return dst, fmt.Errorf("boolean expected at %d", p.i)
	case kInt, kLong:
		v, err := p.integer()
		if err != nil {
			return dst, err
		}
		return appendLong(dst, v), nil
	case kFloat, kDouble:
		f, err := p.float()
		if err != nil {
			return dst, err
		}
		if n.kind == kFloat {
			return binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
		}
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case kString:
		return p.str(dst)
	case kBytes:
		return p.bytes(dst)
	case kRecord:
		return p.record(dst, n)
	case kArray, kMap:
		return p.block(dst, n)
	}
	return dst, fmt.Errorf("a value where the schema has null, at %d", p.i)
}

// record transcodes an object's members in the record's field order;
// fields the object leaves out are written as null.
func (p *parser) record(dst []byte, n *node) ([]byte, error) {
	if p.peek() != '{' {
		return dst, fmt.Errorf("object expected at %d", p.i)
	}
	p.i++
	next := 0
	for {
		c := p.peek()
		if c == '}' {
			p.i++
			break
		}
		if next > 0 || c == ',' {
			if c != ',' {
				return dst, errSyntax
			}
			p.i++
			p.ws()
		}
		j := next
		if j < len(n.fields) && p.isKey(n.fields[j].name) {
			p.i += len(n.fields[j].name) + 2 // the expected field, as it comes
		} else {
			key, err := p.rawString()
			if err != nil {
				return dst, err
			}
			for j < len(n.fields) && n.fields[j].name != unsafe.String(unsafe.SliceData(key), len(key)) {
				j++
			}
			if j == len(n.fields) {
				return dst, fmt.Errorf("field %q is not in the schema, or out of order", key)
			}
		}
		if p.peek() != ':' {
			return dst, errSyntax
		}
		p.i++
		var err error
		for ; next < j; next++ {
			if dst, err = nullOf(dst, &n.fields[next]); err != nil {
				return dst, err
			}
		}
		if dst, err = p.value(dst, n.fields[j].n); err != nil {
			return dst, fmt.Errorf("%s: %w", n.fields[j].name, err)
		}
		next = j + 1
	}
	for ; next < len(n.fields); next++ {
		var err error
		if dst, err = nullOf(dst, &n.fields[next]); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func nullOf(dst []byte, f *field) ([]byte, error) {
	if f.n.union < 0 {
		return dst, fmt.Errorf("field %q missing and not optional", f.name)
	}
	return appendLong(dst, int64(f.n.union)), nil
}

// isKey reports whether the string at p.i is name, unescaped.
func (p *parser) isKey(name string) bool {
	end := p.i + 1 + len(name)
	return end < len(p.b) && p.b[p.i] == '"' && p.b[end] == '"' && string(p.b[p.i+1:end]) == name
}

// block transcodes a JSON array (kArray) or object (kMap) as one Avro
// block: the count, then the items, or the keys and values.
func (p *parser) block(dst []byte, n *node) ([]byte, error) {
	open, end := byte('['), byte(']')
	if n.kind == kMap {
		open, end = '{', '}'
	}
	if p.peek() != open {
		return dst, fmt.Errorf("%c expected at %d", open, p.i)
	}
	count, err := p.count(end)
	if err != nil {
		return dst, err
	}
	p.i++
	if count > 0 {
		dst = appendLong(dst, int64(count))
		for k := 0; k < count; k++ {
			if k > 0 {
				p.peek()
				p.i++ // the comma count checked
			}
			if n.kind == kMap {
				p.ws()
				if dst, err = p.str(dst); err != nil {
					return dst, err
				}
				if p.peek() != ':' {
					return dst, errSyntax
				}
				p.i++
			}
			if dst, err = p.value(dst, n.items); err != nil {
				return dst, err
			}
		}
	}
	if p.peek() != end {
		return dst, errSyntax
	}
	p.i++
	return append(dst, 0), nil
}

// count returns the number of elements of the array or object that
// starts at p.i, without moving p.
func (p *parser) count(end byte) (int, error) {
	q := parser{b: p.b, i: p.i + 1}
	if q.peek() == end {
		return 0, nil
	}
	n := 0
	for {
		if end == '}' {
			q.ws()
			if _, err := q.rawString(); err != nil {
				return 0, err
			}
			if q.peek() != ':' {
				return 0, errSyntax
			}
			q.i++
		}
		if err := q.skip(); err != nil {
			return 0, err
		}
		n++
		switch q.peek() {
		case ',':
			q.i++
		case end:
			return n, nil
		default:
			return 0, errSyntax
		}
	}
}

// skip moves past one JSON value.
func (p *parser) skip() error {
	switch p.peek() {
	case '"':
		_, err := p.rawString()
		return err
	case '{', '[':
		depth := 0
		for p.i < len(p.b) {
			switch p.b[p.i] {
			case '"':
				if _, err := p.rawString(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					p.i++
					return nil
				}
			}
			p.i++
		}
		return errSyntax
	}
	start := p.i
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ',', '}', ']', ' ', '\n', '\t', '\r':
			if p.i == start {
				return errSyntax
			}
			return nil
		}
		p.i++
	}
	if p.i == start {
		return errSyntax
	}
	return nil
}

// rawString returns the bytes between the quotes of the string at p.i,
// escapes as they are.
func (p *parser) rawString() ([]byte, error) {
	s, _, err := p.rawStringEsc()
	return s, err
}

// rawStringEsc is rawString, and whether the string has escapes.
func (p *parser) rawStringEsc() ([]byte, bool, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false, fmt.Errorf("string expected at %d", p.i)
	}
	start := p.i + 1
	// Most strings are short and plain: look at them byte by byte first.
	for i := start; i < len(p.b) && i < start+24; i++ {
		switch p.b[i] {
		case '"':
			p.i = i + 1
			return p.b[start:i], false, nil
		case '\\':
			goto long
		}
	}
long:
	from := start
	for {
		j := bytes.IndexByte(p.b[from:], '"')
		if j < 0 {
			return nil, false, errSyntax
		}
		end := from + j
		// The quote ends the string unless an odd number of
		// backslashes escapes it.
		n := 0
		for k := end - 1; k >= start && p.b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			p.i = end + 1
			s := p.b[start:end]
			return s, bytes.IndexByte(s, '\\') >= 0, nil
		}
		from = end + 1
	}
}

func (p *parser) token() []byte {
	p.ws()
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			p.i++
			continue
		}
		break
	}
	return p.b[start:p.i]
}

func (p *parser) integer() (int64, error) {
	p.ws()
	i := p.i
	neg := i < len(p.b) && p.b[i] == '-'
	if neg {
		i++
	}
	start := i
	var u uint64
	for ; i < len(p.b); i++ {
		c := p.b[i]
		if c < '0' || c > '9' {
			break
		}
		if u > (math.MaxUint64-9)/10 {
			return 0, fmt.Errorf("integer out of range at %d", p.i)
		}
		u = u*10 + uint64(c-'0')
	}
	if i == start || i < len(p.b) && (p.b[i] == '.' || p.b[i] == 'e' || p.b[i] == 'E') {
		return 0, fmt.Errorf("integer expected at %d", p.i)
	}
	p.i = i
	if neg {
		if u > 1<<63 {
			return 0, fmt.Errorf("integer out of range at %d", p.i)
		}
		return -int64(u), nil
	}
	if u > math.MaxInt64 {
		return 0, fmt.Errorf("integer out of range at %d", p.i)
	}
	return int64(u), nil
}

// float reads a number, or the strings Debezium writes for NaN and the
// infinities. A number beyond float64's range is the infinity (one too
// small a signed zero), as Kafka Connect's JsonConverter and
// Double.parseDouble read it, not an error that would stop the pipeline.
func (p *parser) float() (float64, error) {
	if p.peek() == '"' {
		s, err := p.rawString()
		if err != nil {
			return 0, err
		}
		switch string(s) {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return 0, fmt.Errorf("number expected, got %q", s)
	}
	t := p.token()
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(t), len(t)), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("number expected at %d", p.i)
	}
	return f, nil // beyond float64's range: ±Inf or ±0, as Jackson reads it
}

// appendLong appends v as Avro's zig-zag varint.
func appendLong(dst []byte, v int64) []byte {
	return binary.AppendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}
