package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/hamba/avro/v2"
)

// The reader of Avro's binary encoding the decoder walks a compiled
// schema (avroNode) with. It never panics on bad input: lengths and
// counts are checked against what is left of the record.

// errTruncated: the body ends inside a value.
var errTruncated = errors.New("the body ends inside a value (not the schema it was written with?)")

// avroReader reads Avro's binary encoding. The first error stops it: every
// later read returns zero values, and done reports the error.
type avroReader struct {
	b   []byte
	off int
	err error
}

func (r *avroReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.off = len(r.b)
}

// done is the reader's error, or one when bytes are left after the record.
func (r *avroReader) done() error {
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.b) {
		return fmt.Errorf("%d bytes after the record (not the schema it was written with?)", len(r.b)-r.off)
	}
	return nil
}

// long reads a zig-zag varint (int, long, lengths, counts, union branches).
func (r *avroReader) long() int64 {
	var u uint64
	for shift := uint(0); shift < 70; shift += 7 {
		if r.off >= len(r.b) {
			r.fail(errTruncated)
			return 0
		}
		c := r.b[r.off]
		r.off++
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return int64(u>>1) ^ -int64(u&1)
		}
	}
	r.fail(errors.New("a varint longer than 10 bytes"))
	return 0
}

// next returns the next n bytes, aliasing the record.
func (r *avroReader) next(n int64) []byte {
	if n < 0 || n > int64(len(r.b)-r.off) {
		r.fail(errTruncated)
		return nil
	}
	b := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return b
}

func (r *avroReader) float32() float32 {
	if b := r.next(4); b != nil {
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	}
	return 0
}

func (r *avroReader) float64() float64 {
	if b := r.next(8); b != nil {
		return math.Float64frombits(binary.LittleEndian.Uint64(b))
	}
	return 0
}

// branch reads a union's branch index and returns that branch; n itself
// when it is no union, nil after an error.
func (r *avroReader) branch(n *avroNode) *avroNode {
	if n.typ != avro.Union {
		return n
	}
	i := r.long()
	if r.err != nil {
		return nil
	}
	if i < 0 || i >= int64(len(n.branches)) {
		r.fail(fmt.Errorf("union branch %d of %d", i, len(n.branches)))
		return nil
	}
	return n.branches[i]
}

// scalar reads a primitive value: booleans and integers as i; strings,
// bytes, enum symbols and fixed as b (aliasing the record: copy what is
// kept). Other values are skipped and read as zero.
func (r *avroReader) scalar(n *avroNode) (i int64, b []byte) {
	n = r.branch(n)
	if n == nil {
		return 0, nil
	}
	switch n.typ {
	case avro.Boolean:
		if b := r.next(1); b != nil && b[0] != 0 {
			return 1, nil
		}
		return 0, nil
	case avro.Int, avro.Long:
		return r.long(), nil
	case avro.String, avro.Bytes:
		return 0, r.next(r.long())
	case avro.Fixed:
		return 0, r.next(int64(n.size))
	case avro.Enum:
		i := r.long()
		if r.err == nil && (i < 0 || i >= int64(len(n.symbols))) {
			r.fail(fmt.Errorf("enum symbol %d of %d", i, len(n.symbols)))
		}
		if r.err != nil {
			return 0, nil
		}
		return 0, []byte(n.symbols[i])
	}
	r.skip(n)
	return 0, nil
}

// record calls field for each field of a (nullable) record; field must
// read or skip the field's value. It reports whether there was a record.
func (r *avroReader) record(n *avroNode, field func(name string, f *avroNode)) bool {
	n = r.branch(n)
	if n == nil || n.typ == avro.Null {
		return false
	}
	if n.typ != avro.Record {
		r.fail(fmt.Errorf("Avro %s where a record was expected", n.typ))
		return false
	}
	for i, f := range n.fields {
		field(n.names[i], f)
	}
	return r.err == nil
}

// blocks reads the blocks of an array or map, calling item for each item
// (which must read it; a map item starts with its key).
func (r *avroReader) blocks(item func()) {
	total := int64(0)
	for r.err == nil {
		c := r.long()
		if c == 0 || r.err != nil {
			return
		}
		if c < 0 {
			c = -c
			r.long() // the block's size in bytes
		}
		// Items take a byte or more, but for null's: a count beyond the
		// record's size is corrupt, not a reason to loop for long.
		if total += c; c < 0 || total > int64(len(r.b)) {
			r.fail(fmt.Errorf("a block of %d items in a %d-byte record", c, len(r.b)))
			return
		}
		for ; c > 0 && r.err == nil; c-- {
			item()
		}
	}
}

// skip reads past one value.
func (r *avroReader) skip(n *avroNode) {
	n = r.branch(n)
	if n == nil {
		return
	}
	switch n.typ {
	case avro.Null:
	case avro.Boolean:
		r.next(1)
	case avro.Int, avro.Long, avro.Enum:
		r.long()
	case avro.Float:
		r.next(4)
	case avro.Double:
		r.next(8)
	case avro.String, avro.Bytes:
		r.next(r.long())
	case avro.Fixed:
		r.next(int64(n.size))
	case avro.Record:
		for _, f := range n.fields {
			r.skip(f)
		}
	case avro.Array, avro.Map:
		r.blocks(func() {
			if n.typ == avro.Map {
				r.next(r.long())
			}
			r.skip(n.items)
		})
	default:
		r.fail(fmt.Errorf("unexpected Avro %s", n.typ))
	}
}
