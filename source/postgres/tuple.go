package postgres

// Decoding pgoutput's TupleData, the row images of Insert, Update and
// Delete messages: the hottest code of the source, kept apart from the
// stream's protocol handling (benchmarked in tuple_bench_test.go, fuzzed in
// tuple_fuzz_test.go); and the other messages, which pglogrepl decodes.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"

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
		need += arenaBytes(cols[i].Type, l)
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
			var err error
			if arena, err = decodeColumn(&row[i], &cols[i], p[:l], arena); err != nil {
				return nil, nil, err
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

// arenaBytes is how much of a row's arena (one allocation for the bytes
// of all its values) a value of type t whose text is l bytes may take.
// Arrays are decoded on their own.
func arenaBytes(t sluice.Type, l int) int {
	if t == sluice.TypeArray || !hasBytes(t) {
		return 0
	}
	return bytesBound(t, l)
}

// decodeColumn decodes the text b of column c into v, carving the bytes
// it keeps from arena, sized by arenaBytes. The stream's tuples and the
// snapshot's chunk rows both decode through it, so the two agree byte
// for byte.
func decodeColumn(v *sluice.Value, c *sluice.Column, b, arena []byte) ([]byte, error) {
	if c.Type == sluice.TypeArray {
		x, err := decodeText(c, b)
		if err != nil {
			return arena, err
		}
		*v = x
		return arena, nil
	}
	arena, err := decodeInto(v, c.Type, b, arena)
	if err != nil {
		return arena, fmt.Errorf("column %s (%s): %w", c.Name, c.DBType, err)
	}
	return arena, nil
}

// pgTime converts a pgoutput timestamp (microseconds since 2000-01-01 UTC)
// as pglogrepl does.
func pgTime(us int64) time.Time {
	const y2k = 946684800 * 1_000_000
	return time.Unix(0, (y2k+us)*1000)
}

// parseMessage is pglogrepl.Parse for the messages not decoded by hand
// (Relation, Truncate, logical Message, Type, Origin), which are rare.
// Its decoders index a message by the lengths and counts it announces
// without checking them against its end: a message cut short is an
// error here, not a panic of the daemon.
func parseMessage(d []byte) (msg pglogrepl.Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			msg, err = nil, fmt.Errorf("malformed message of %d bytes: %v", len(d), r)
		}
	}()
	return pglogrepl.Parse(d)
}
