package join

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"

	"github.com/sluice-cdc/sluice"
)

// The store's bytes: join keys in an order-preserving, self-delimiting
// form (so that one key is never the prefix of another and a reverse
// index entry is the lookup key followed by the event's key), versions
// inverted so that a key's newest version sorts first, rows as their
// values with the shape they belong to.

// appendKey appends the join-key form of v, a value of type t. Values of
// different integer widths compare equal (an int4 customer_id joins an
// int8 id), as do the text-like types. ok is false for a NULL or
// missing value, which joins nothing.
func appendKey(dst []byte, t sluice.Type, v *sluice.Value) (_ []byte, ok bool, err error) {
	if v.Kind != sluice.KindPresent {
		return dst, false, nil
	}
	switch t {
	case sluice.TypeBool, sluice.TypeBit, sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64, sluice.TypeYear,
		sluice.TypeDate, sluice.TypeTime, sluice.TypeTimestamp, sluice.TypeTimestampTZ:
		dst = append(dst, 'i')
		return binary.BigEndian.AppendUint64(dst, uint64(v.Int)^(1<<63)), true, nil
	case sluice.TypeFloat32, sluice.TypeFloat64:
		dst = append(dst, 'f')
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(v.Float)), true, nil
	case sluice.TypeText, sluice.TypeDecimal, sluice.TypeBytes, sluice.TypeUUID, sluice.TypeJSON, sluice.TypeXML,
		sluice.TypeEnum, sluice.TypeSet, sluice.TypeTimeTZ:
		dst = append(dst, 's')
		return appendEscaped(dst, v.Bytes), true, nil
	}
	return dst, false, fmt.Errorf("a %s column cannot be a join key", t)
}

// appendEscaped appends b with 0x00 written as 0x00 0xff, then the
// terminator 0x00 0x01: the result sorts like b and ends unambiguously.
func appendEscaped(dst, b []byte) []byte {
	for _, c := range b {
		if c == 0 {
			dst = append(dst, 0, 0xff)
			continue
		}
		dst = append(dst, c)
	}
	return append(dst, 0, 1)
}

// version orders the changes the join has seen as the log does: by
// transaction (TxLSN: commits grow), then by the change's own position in
// it, then by its row in a MySQL rows event. The zero version is the
// bootstrap's read, older than any change.
type version struct {
	tx, lsn uint64
	row     uint32
}

const versionLen = 20

func versionOf(ev *sluice.Event) version {
	return version{tx: ev.Pos.TxLSN, lsn: ev.Pos.LSN, row: uint32(max(ev.Row, 0))}
}

// appendVersion appends v inverted, so that newer versions sort first.
func appendVersion(dst []byte, v version) []byte {
	dst = binary.BigEndian.AppendUint64(dst, ^v.tx)
	dst = binary.BigEndian.AppendUint64(dst, ^v.lsn)
	return binary.BigEndian.AppendUint32(dst, ^v.row)
}

func readVersion(b []byte) version {
	return version{tx: ^binary.BigEndian.Uint64(b), lsn: ^binary.BigEndian.Uint64(b[8:]), row: ^binary.BigEndian.Uint32(b[16:])}
}

func (v version) after(w version) bool {
	if v.tx != w.tx {
		return v.tx > w.tx
	}
	if v.lsn != w.lsn {
		return v.lsn > w.lsn
	}
	return v.row > w.row
}

// shape is the columns a stored row is indexed like: the lookup
// projection, or an enriched table's columns. Shapes are stored once,
// under their id (a hash of their description), and rows refer to it.
type shape struct {
	id     uint64
	Schema string          `json:"schema,omitempty"`
	DB     string          `json:"db,omitempty"`
	Name   string          `json:"name"`
	Cols   []sluice.Column `json:"columns"`
	Key    []int           `json:"key,omitempty"`
	table  *sluice.Table   // built once
}

func newShape(t *sluice.Table, cols []sluice.Column, key []int) (*shape, []byte, error) {
	s := &shape{Schema: t.Schema, DB: t.DB, Name: t.Name, Cols: cols, Key: key}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, nil, fmt.Errorf("describe the columns of %s: %w", t.QualifiedName(), err)
	}
	h := fnv.New64a()
	h.Write(b)
	s.id = h.Sum64()
	s.table = &sluice.Table{Schema: s.Schema, DB: s.DB, Name: s.Name, Columns: s.Cols, Key: s.Key}
	return s, b, nil
}

func decodeShape(id uint64, b []byte) (*shape, error) {
	s := &shape{id: id}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("stored shape %x: %w", id, err)
	}
	s.table = &sluice.Table{Schema: s.Schema, DB: s.DB, Name: s.Name, Columns: s.Cols, Key: s.Key}
	return s, nil
}

// Stored values: a flag byte (tombstone or row), then for a row its
// shape id and values. Each value is its Kind and a byte saying which of
// Int, Float, Bytes and Elems follow, so that the form does not depend
// on the column's type.
const (
	flagTombstone byte = 0
	flagRow       byte = 1
)

const (
	hasInt byte = 1 << iota
	hasFloat
	hasBytes
	hasElems
)

func appendRow(dst []byte, shapeID uint64, row sluice.Row) []byte {
	dst = append(dst, flagRow)
	dst = binary.BigEndian.AppendUint64(dst, shapeID)
	dst = binary.AppendUvarint(dst, uint64(len(row)))
	for i := range row {
		dst = appendValue(dst, &row[i])
	}
	return dst
}

func appendValue(dst []byte, v *sluice.Value) []byte {
	var has byte
	if v.Int != 0 {
		has |= hasInt
	}
	if v.Float != 0 || math.Signbit(v.Float) {
		has |= hasFloat
	}
	if v.Bytes != nil {
		has |= hasBytes
	}
	if v.Elems != nil {
		has |= hasElems
	}
	dst = append(dst, byte(v.Kind), has)
	if has&hasInt != 0 {
		dst = binary.AppendVarint(dst, v.Int)
	}
	if has&hasFloat != 0 {
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v.Float))
	}
	if has&hasBytes != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(v.Bytes)))
		dst = append(dst, v.Bytes...)
	}
	if has&hasElems != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(v.Elems)))
		for i := range v.Elems {
			dst = appendValue(dst, &v.Elems[i])
		}
	}
	return dst
}

var errCorrupt = errors.New("join store: malformed stored row")

// decodeRow decodes a stored row; b must be the caller's own copy, since
// the values' Bytes point into it.
func decodeRow(b []byte) (shapeID uint64, row sluice.Row, err error) {
	if len(b) < 9 || b[0] != flagRow {
		return 0, nil, errCorrupt
	}
	shapeID = binary.BigEndian.Uint64(b[1:])
	d := decoder{b: b[9:]}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return 0, nil, errCorrupt
	}
	row = make(sluice.Row, n)
	for i := range row {
		d.value(&row[i], 0)
	}
	if d.err != nil {
		return 0, nil, d.err
	}
	return shapeID, row, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errCorrupt, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) value(v *sluice.Value, depth int) {
	if d.err != nil || len(d.b) < 2 || depth > 32 {
		d.err = errCorrupt
		return
	}
	v.Kind = sluice.Kind(d.b[0])
	has := d.b[1]
	d.b = d.b[2:]
	if has&hasInt != 0 {
		x, n := binary.Varint(d.b)
		if n <= 0 {
			d.err = errCorrupt
			return
		}
		v.Int, d.b = x, d.b[n:]
	}
	if has&hasFloat != 0 {
		if len(d.b) < 8 {
			d.err = errCorrupt
			return
		}
		v.Float, d.b = math.Float64frombits(binary.BigEndian.Uint64(d.b)), d.b[8:]
	}
	if has&hasBytes != 0 {
		n := d.uvarint()
		if d.err != nil || n > uint64(len(d.b)) {
			d.err = errCorrupt
			return
		}
		v.Bytes, d.b = d.b[:n:n], d.b[n:]
	}
	if has&hasElems != 0 {
		n := d.uvarint()
		if d.err != nil || n > uint64(len(d.b)) {
			d.err = errCorrupt
			return
		}
		v.Elems = make([]sluice.Value, n)
		for i := range v.Elems {
			d.value(&v.Elems[i], depth+1)
		}
	}
}
