package postgres

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

// Fuzz targets of the pgoutput decoder (whole TupleData messages, and
// every text decoder family: numbers and decimals with money, bytea, bit
// strings and uuid, dates and times, intervals, arrays) and of the signal
// table's payload. FuzzDecodeText (types_test.go) covers every type for
// panics; the targets add an oracle. They live by family in
// values_fuzz_test.go (numbers, decimals, money, bytea, bits, uuid),
// datetime_fuzz_test.go, interval_fuzz_test.go, array_fuzz_test.go,
// tuple_fuzz_test.go and signal_fuzz_test.go, each with its type's
// checks; this file holds what they share.
//
// The oracle of a decoded value (fzOracle.check) is pgx's own decoding of
// the same text (pgtype.Map, TextFormatCode) where pgx has a text codec:
// when both accept, both must mean the same value. The two parsers do not
// accept the same inputs, and each documented difference is spelled out
// where it is checked:
//
//   - sluice reads the exact form PostgreSQL prints under the session
//     settings the source fixes (types.go) and refuses spellings that
//     PostgreSQL never prints but pgx tolerates (bool "yes", time "1:2:3",
//     numeric ".5", a "Z" offset, more than 6 fraction digits, a uuid
//     without dashes, bit strings of other characters). Refusing such an
//     input is fine; refusing PostgreSQL's own output form (fzPG…) is not.
//   - sluice accepts forms pgx has no codec for: money, bytea's escape
//     format, timetz, PostgreSQL 17's interval "infinity". Their oracle is
//     PostgreSQL's output grammar and a re-encoding of the decoded value.
//   - sluice also takes a few spellings PostgreSQL never prints (a year
//     of 1 to 3 digits, an interval "++0:00:00", an array "{{}}"): they
//     cannot be received, and are not compared.
//   - ranges: dates and timestamps are int64 days and microseconds since
//     1970 (row.go), so a timestamp after 294247-01-10 is errRange though
//     PostgreSQL keeps them to 294276; sluice does not enforce
//     PostgreSQL's own bounds (pgx does), nor the 4-digit year padding.

// fzOracle holds pgx's type map. Fuzz functions run sequentially in a
// worker process, so one map per target is enough.
type fzOracle struct{ m *pgtype.Map }

func newFzOracle() *fzOracle { return &fzOracle{m: pgtype.NewMap()} }

// scan decodes src with pgx's text codec of oid into dst. A panic inside
// pgx counts as a refusal: it is pgx's problem, not the decoder's.
func (o *fzOracle) scan(oid uint32, src []byte, dst any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pgx panicked: %v", r)
		}
	}()
	return o.m.Scan(oid, pgtype.TextFormatCode, src, dst)
}

// check verifies the decoder's result (v, err) for the text in of column
// col against the oracle of col's type. It is also called for array
// elements, with the element column.
func (o *fzOracle) check(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	if col.Type == sluice.TypeArray {
		o.checkArray(t, col, in, v, err)
		return
	}
	if err == nil && (v.Kind != sluice.KindPresent || v.Elems != nil) {
		t.Fatalf("%s %q: decoded without error to kind %d, elems %v", col.DBType, in, v.Kind, v.Elems)
	}
	switch col.Type {
	case sluice.TypeText, sluice.TypeJSON, sluice.TypeXML, sluice.TypeEnum:
		if err != nil || !bytes.Equal(v.Bytes, in) {
			t.Fatalf("%s %q: got %q, %v; text types keep their bytes", col.DBType, in, v.Bytes, err)
		}
	case sluice.TypeBool:
		o.checkBool(t, col, in, v, err)
	case sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64:
		o.checkInt(t, col, in, v, err)
	case sluice.TypeFloat32, sluice.TypeFloat64:
		o.checkFloat(t, col, in, v, err)
	case sluice.TypeDecimal:
		o.checkDecimal(t, col, in, v, err)
	case sluice.TypeBytes:
		o.checkBytea(t, col, in, v, err)
	case sluice.TypeUUID:
		o.checkUUID(t, col, in, v, err)
	case sluice.TypeBit, sluice.TypeBits:
		o.checkBits(t, col, in, v, err)
	case sluice.TypeDate:
		o.checkDate(t, col, in, v, err)
	case sluice.TypeTime:
		o.checkTime(t, col, in, v, err)
	case sluice.TypeTimeTZ:
		o.checkTimeTZ(t, col, in, v, err)
	case sluice.TypeTimestamp, sluice.TypeTimestampTZ:
		o.checkTimestamp(t, col, in, v, err)
	case sluice.TypeInterval:
		o.checkInterval(t, col, in, v, err)
	default:
		t.Fatalf("%s: no oracle for type %s", col.DBType, col.Type)
	}
}

// accepts fails unless the decoder accepted in exactly when want says so.
func fzAccepts(t *testing.T, col *sluice.Column, in []byte, err error, want bool, grammar string) {
	t.Helper()
	switch {
	case want && err != nil:
		t.Fatalf("%s %q: refused (%v), but it is PostgreSQL's output form (%s)", col.DBType, in, err, grammar)
	case !want && err == nil:
		t.Fatalf("%s %q: accepted, but it is not PostgreSQL's output form (%s)", col.DBType, in, grammar)
	}
}

// fzColumns builds the columns of declarations for testColumn.
func fzColumns(tb testing.TB, decls ...string) []sluice.Column {
	cols := make([]sluice.Column, len(decls))
	for i, d := range decls {
		cols[i] = testColumn(tb, d)
		cols[i].Name = "c" + strconv.Itoa(i)
	}
	return cols
}

// fzValueTarget is the body of the per-family targets: decode in as the
// column which selects, and check it against the oracle.
func fzValueTarget(f *testing.F, decls []string, seeds []string) {
	cols := fzColumns(f, decls...)
	for _, s := range seeds {
		for i := range cols {
			f.Add(uint8(i), s)
		}
	}
	for _, c := range slices.Concat(decodeCases, arrayCases) {
		if i := slices.Index(decls, c.typ); i >= 0 {
			f.Add(uint8(i), c.in)
		}
	}
	for _, c := range errorCases {
		if i := slices.Index(decls, c.typ); i >= 0 {
			f.Add(uint8(i), c.in)
		}
	}
	o := newFzOracle()
	f.Fuzz(func(t *testing.T, which uint8, in string) {
		col := &cols[int(which)%len(cols)]
		src := []byte(in)
		v, err := decodeText(col, src)
		o.check(t, col, []byte(in), v, err)
		if err == nil {
			// src is not retained.
			want := fzClone(v)
			for i := range src {
				src[i] = 0xA5
			}
			if !v.Equal(want) {
				t.Fatalf("%s %q: the value changed with its input buffer", col.DBType, in)
			}
		}
	})
}

// fzClone deep-copies a value.
func fzClone(v sluice.Value) sluice.Value {
	w := v
	w.Bytes = bytes.Clone(v.Bytes)
	if v.Elems != nil {
		w.Elems = make([]sluice.Value, len(v.Elems))
		for i, e := range v.Elems {
			w.Elems[i] = fzClone(e)
		}
	}
	return w
}
