package postgres

// Decoding pgoutput's TupleData, the row images of Insert, Update and
// Delete messages: the hottest code of the source, kept apart from the
// stream's protocol handling (benchmarked in tuple_bench_test.go, fuzzed in
// tuple_fuzz_test.go).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice"
)

// decodeTuple decodes one TupleData into a new row. In a key-only old
// tuple ('K') the non-identity columns are KindMissing.
func decodeTuple(rel *relation, p []byte, keyOnly bool) (sluice.Row, []byte, error) {
	if len(p) < 2 {
		return nil, nil, errors.New("truncated tuple")
	}
	n := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	cols := rel.table.Columns
	if n > len(cols) {
		return nil, nil, fmt.Errorf("tuple has %d columns, relation %d", n, len(cols))
	}
	// First pass: check the lengths and add up the bytes the values keep,
	// so that they are carved from one allocation for the whole tuple
	// instead of one per column.
	need := 0
	for i, q := 0, p; i < n; i++ {
		if len(q) < 1 {
			return nil, nil, errors.New("truncated tuple")
		}
		kind := q[0]
		q = q[1:]
		if kind != 't' {
			continue
		}
		if len(q) < 4 {
			return nil, nil, errors.New("truncated tuple")
		}
		l := int(binary.BigEndian.Uint32(q))
		q = q[4:]
		if l < 0 || l > len(q) {
			return nil, nil, errors.New("truncated tuple value")
		}
		if t := cols[i].Type; t != sluice.TypeArray && hasBytes(t) {
			need += bytesBound(t, l)
		}
		q = q[l:]
	}
	var arena []byte
	if need > 0 {
		arena = make([]byte, 0, need)
	}
	row := make(sluice.Row, len(cols))
	for i := 0; i < n; i++ {
		kind := p[0]
		p = p[1:]
		switch kind {
		case 'n':
			if keyOnly && !rel.ident[i] {
				row[i].Kind = sluice.KindMissing
			}
		case 'u':
			row[i].Kind = sluice.KindUnchanged
		case 't':
			l := int(binary.BigEndian.Uint32(p))
			p = p[4:]
			c := &cols[i]
			if c.Type == sluice.TypeArray {
				v, err := decodeText(c, p[:l])
				if err != nil {
					return nil, nil, err
				}
				row[i] = v
			} else {
				var err error
				if arena, err = decodeInto(&row[i], c.Type, p[:l], arena); err != nil {
					return nil, nil, fmt.Errorf("column %s (%s): %w", c.Name, c.DBType, err)
				}
			}
			p = p[l:]
		default:
			return nil, nil, fmt.Errorf("column %s: unsupported tuple data kind %q", cols[i].Name, kind)
		}
	}
	for i := n; i < len(cols); i++ {
		row[i].Kind = sluice.KindMissing
	}
	return row, p, nil
}

// pgTime converts a pgoutput timestamp (microseconds since 2000-01-01 UTC)
// as pglogrepl does.
func pgTime(us int64) time.Time {
	const y2k = 946684800 * 1_000_000
	return time.Unix(0, (y2k+us)*1000)
}
