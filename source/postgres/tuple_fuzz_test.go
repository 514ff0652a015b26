package postgres

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// fzTupleDecls is the relation of the tuple targets.
var fzTupleDecls = []string{"int4", "int8", "text", "bool", "numeric", "float8", "date", "timestamptz", "bytea", "uuid", "_text", "interval"}

var fzTupleVals = []string{"42", "-9223372036854775808", "héllo\x00", "t", "-12.50", "NaN", "2024-02-29", "2018-06-20 17:13:16.945104+02",
	`\x00ff`, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", `{"a b",NULL,c}`, "1 year 2 mons 3 days 04:05:06.78"}

func fzRelation(tb testing.TB) *relation {
	t := &sluice.Table{ID: 1, Schema: "public", Name: "fuzz", Columns: fzColumns(tb, fzTupleDecls...), Key: []int{0, 1}}
	t.Columns[0].Key, t.Columns[1].Key = true, true
	ident := make([]bool, len(t.Columns))
	ident[0], ident[1] = true, true
	return &relation{table: t, ident: ident}
}

// fzTuple is a TupleData reference parser: the kind and text of each
// column sent, the bytes after the tuple, or ok false when malformed.
type fzCol struct {
	kind byte
	text []byte
}

func fzParseTuple(p []byte, ncols int) (cols []fzCol, rest []byte, ok bool) {
	if len(p) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if n > ncols {
		return nil, nil, false
	}
	for range n {
		if len(p) < 1 {
			return nil, nil, false
		}
		c := fzCol{kind: p[0]}
		p = p[1:]
		switch c.kind {
		case 'n', 'u':
		case 't':
			if len(p) < 4 || uint64(binary.BigEndian.Uint32(p)) > uint64(len(p)-4) {
				return nil, nil, false
			}
			l := int(binary.BigEndian.Uint32(p))
			c.text, p = bytes.Clone(p[4:4+l]), p[4+l:]
		default:
			return nil, nil, false
		}
		cols = append(cols, c)
	}
	return cols, p, true
}

// checkTuple decodes p as decodeTuple does in handleRow and checks the
// row: framing against fzParseTuple, each text value against decodeText
// (the arena path and the single-value path agree) and the value oracle,
// and that nothing aliases p.
func (o *fzOracle) checkTuple(t *testing.T, rel *relation, p []byte, keyOnly bool) {
	t.Helper()
	want, wantRest, ok := fzParseTuple(p, len(rel.table.Columns))
	var wantErr error
	if ok {
		for i, c := range want {
			if c.kind == 't' {
				if _, err := decodeText(&rel.table.Columns[i], c.text); err != nil {
					wantErr = err
					break
				}
			}
		}
	}
	in := bytes.Clone(p)
	row, rest, err := decodeTuple(rel, p, keyOnly)
	switch {
	case !ok && err == nil:
		t.Fatalf("tuple %q: accepted malformed framing", in)
	case !ok:
		return
	case wantErr != nil && err == nil:
		t.Fatalf("tuple %q: accepted, though a column does not decode: %v", in, wantErr)
	case wantErr == nil && err != nil:
		t.Fatalf("tuple %q: refused: %v", in, err)
	case err != nil:
		return
	}
	if len(row) != len(rel.table.Columns) || !bytes.Equal(rest, wantRest) {
		t.Fatalf("tuple %q: %d values for %d columns, rest %q want %q", in, len(row), len(rel.table.Columns), rest, wantRest)
	}
	for i := range p {
		p[i] = 0xA5 // the connection's read buffer is reused
	}
	for i, v := range row {
		col := &rel.table.Columns[i]
		var wantV sluice.Value
		switch {
		case i >= len(want):
			wantV.Kind = sluice.KindMissing
		case want[i].kind == 'n' && keyOnly && !rel.ident[i]:
			wantV.Kind = sluice.KindMissing
		case want[i].kind == 'n':
			wantV.Kind = sluice.KindNull
		case want[i].kind == 'u':
			wantV.Kind = sluice.KindUnchanged
		default:
			wantV, _ = decodeText(col, want[i].text)
			o.check(t, col, want[i].text, v, nil)
			if cap(v.Bytes) != len(v.Bytes) || cap(v.Elems) != len(v.Elems) {
				t.Fatalf("tuple %q: column %d's slices are not capped (bytes %d/%d, elems %d/%d)", in, i, len(v.Bytes), cap(v.Bytes), len(v.Elems), cap(v.Elems))
			}
		}
		if !v.Equal(wantV) {
			t.Fatalf("tuple %q: column %d (%s) decoded %s, want %s", in, i, col.DBType,
				renderValue(col, col.Type, v), renderValue(col, col.Type, wantV))
		}
	}
}

// FuzzDecodeTuple feeds raw TupleData bytes to decodeTuple.
func FuzzDecodeTuple(f *testing.F) {
	rel := fzRelation(f)
	full := tupleBytes(fzTupleVals)
	f.Add(full, false)
	f.Add(full[:len(full)-1], false)
	f.Add(append(bytes.Clone(full), "rest"...), true)
	f.Add([]byte{0, 3, 'n', 'u', 't', 0, 0, 0, 1, '7'}, true)
	f.Add([]byte{0, 2, 't', 0, 0, 0, 1, '7', 'n'}, true)
	f.Add([]byte{0, 1, 't', 0xff, 0xff, 0xff, 0xff}, false)
	f.Add([]byte{0, 1, 'b', 0, 0, 0, 0}, false)
	f.Add([]byte{0, 13}, false)
	f.Add([]byte{0}, false)
	for i := range fzTupleVals {
		vals := slices.Clone(fzTupleVals[:i+1])
		vals[i] = "x"
		f.Add(tupleBytes(vals), false)
	}
	o := newFzOracle()
	f.Fuzz(func(t *testing.T, p []byte, keyOnly bool) {
		o.checkTuple(t, rel, p, keyOnly)
	})
}

// FuzzDecodeTupleValues builds a tuple of the relation's columns from
// fuzzed text values (a set bit of nulls sends the column as NULL) and
// checks the decoded row.
func FuzzDecodeTupleValues(f *testing.F) {
	rel := fzRelation(f)
	seeds := [][]string{fzTupleVals,
		{"-2147483648", "9223372036854775807", "", "false", "0.000", "-Infinity", "0044-03-15 BC", "infinity",
			`a\\b\001`, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{}", "-1 days +02:00:00"},
		{"2147483648", "1e3", "\xff", "yes", ".5", "1e400", "2024-13-01", "2018-06-20 15:13:16Z", `\x0`, "x", "{a", "1:2:3"},
	}
	for i, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], uint16(i*0x0421))
	}
	o := newFzOracle()
	f.Fuzz(func(t *testing.T, i4, i8, txt, b, num, f8, date, tstz, bytea, uuid, arr, iv string, nulls uint16) {
		vals := []string{i4, i8, txt, b, num, f8, date, tstz, bytea, uuid, arr, iv}
		p := binary.BigEndian.AppendUint16(nil, uint16(len(vals)))
		for i, v := range vals {
			if nulls&(1<<i) != 0 {
				p = append(p, 'n')
				continue
			}
			p = append(p, 't')
			p = binary.BigEndian.AppendUint32(p, uint32(len(v)))
			p = append(p, v...)
		}
		o.checkTuple(t, rel, p, false)
	})
}
