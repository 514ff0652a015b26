package postgres

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sluice-cdc/sluice"
)

// FuzzDecodeArray: arrays of several element types, against pgx's reading
// of PostgreSQL's output form of an array and the element oracles.
func FuzzDecodeArray(f *testing.F) {
	fzValueTarget(f, []string{"_text", "_int4", "_numeric", "_bool", "_float8", "_bytea", "_uuid", "_date", "_timestamptz",
		"_interval", "_varbit", "_jsonb", "_box"},
		[]string{"{}", "{NULL}", `{"NULL",null,NuLl}`, `{"a b","c\"d","",x}`, "{{1,2},{3,4}}", "{{1,2},{3}}", "[0:1]={1,2}",
			"[1:1][2:3]={{a,b}}", `{"\\x00",\x01}`, "{ a , b }", `{"2018-06-20 17:13:16+02"}`, `{"1 day"}`, "{{{{{{{1}}}}}}}",
			"{a,{b}}", "{1,2", `{"a\`, `{\}`, "{1;2}", "{(1,2),(3,4);(5,6),(7,8)}"})
}

// checkArray: the decoded array's shape, and, for PostgreSQL's output form
// of an array (pgx's reading of it printed back as array_out does is the
// input), pgx's elements each checked with the element type's oracle.
func (o *fzOracle) checkArray(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, err error) {
	t.Helper()
	elem := sluice.Column{Name: col.Name, DBType: strings.TrimPrefix(col.DBType, "_"), Type: col.Elem, Scale: col.Scale, Length: col.Length, Enum: col.Enum}
	if err == nil {
		if v.Kind != sluice.KindPresent || v.Elems == nil {
			t.Fatalf("%s %q: decoded kind %d, elems %v", col.DBType, in, v.Kind, v.Elems)
		}
		fzArrayShape(t, col, in, v, 0)
		if fzTextLike(col.Elem) {
			// What is decoded reads back the same from its output form.
			out := fzArrayOutValue(v, fzDelim(col))
			w, err := decodeText(col, []byte(out))
			if err != nil || !w.Equal(v) {
				t.Fatalf("%s %q: decoded %s, whose output form %q reads back as %s (%v)", col.DBType, in,
					renderValue(col, col.Type, v), out, renderValue(col, col.Type, w), err)
			}
		}
	}
	if col.DBType == "_box" {
		return // ';' delimited: pgx's text[] codec cannot read it
	}
	var arr pgtype.Array[*string]
	if perr := o.scan(pgtype.TextArrayOID, in, &arr); perr != nil || len(arr.Dims) > maxArrayDims || fzArrayOut(arr) != string(in) {
		return // not PostgreSQL's output form of an array (MAXDIM is 6)
	}
	elems := make([]sluice.Value, len(arr.Elements))
	bad := error(nil)
	for i, e := range arr.Elements {
		if e == nil {
			continue
		}
		ev, eerr := decodeText(&elem, []byte(*e))
		o.check(t, &elem, []byte(*e), ev, eerr)
		elems[i] = ev
		if eerr != nil && bad == nil {
			bad = eerr
		}
	}
	if bad != nil {
		if err == nil {
			t.Fatalf("%s %q: accepted, though an element does not decode alone: %v", col.DBType, in, bad)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s %q: refused (%v), but it is PostgreSQL's output form and every element decodes", col.DBType, in, err)
	}
	// The same shape (bounds are dropped) and the same leaves.
	var leaves []sluice.Value
	var walk func(v sluice.Value, dim int)
	walk = func(v sluice.Value, dim int) {
		if dim == len(arr.Dims) {
			leaves = append(leaves, v)
			return
		}
		if len(v.Elems) != int(arr.Dims[dim].Length) {
			t.Fatalf("%s %q: dimension %d has %d items, pgx %d", col.DBType, in, dim+1, len(v.Elems), arr.Dims[dim].Length)
		}
		for _, e := range v.Elems {
			walk(e, dim+1)
		}
	}
	if len(arr.Dims) == 0 {
		if len(v.Elems) != 0 {
			t.Fatalf("%s %q: decoded %d items of an empty array", col.DBType, in, len(v.Elems))
		}
		return
	}
	walk(v, 0)
	for i, l := range leaves {
		want := elems[i]
		if arr.Elements[i] == nil {
			want = sluice.Value{Kind: sluice.KindNull}
		}
		if !l.Equal(want) {
			t.Fatalf("%s %q: element %d decoded %s, alone %s", col.DBType, in, i+1,
				renderValue(col, col.Elem, l), renderValue(col, col.Elem, want))
		}
	}
}

func fzTextLike(t sluice.Type) bool {
	return t == sluice.TypeText || t == sluice.TypeJSON || t == sluice.TypeXML || t == sluice.TypeEnum
}

// fzArrayShape checks array.go's promises: leaves have no Elems, at most
// 6 dimensions, and every slice is capped (appending to one never writes
// into another's bytes).
func fzArrayShape(t *testing.T, col *sluice.Column, in []byte, v sluice.Value, depth int) {
	t.Helper()
	if depth >= maxArrayDims || cap(v.Elems) != len(v.Elems) {
		t.Fatalf("%s %q: depth %d, elems len %d cap %d", col.DBType, in, depth+1, len(v.Elems), cap(v.Elems))
	}
	for _, e := range v.Elems {
		switch {
		case e.Elems != nil:
			// An empty sub-array ("{{}}") is possible, though not from
			// PostgreSQL, which prints every empty array as "{}".
			if e.Kind != sluice.KindPresent {
				t.Fatalf("%s %q: an absent sub-array", col.DBType, in)
			}
			fzArrayShape(t, col, in, e, depth+1)
		case e.Kind == sluice.KindNull:
		case e.Kind != sluice.KindPresent || cap(e.Bytes) != len(e.Bytes):
			t.Fatalf("%s %q: element kind %d, bytes len %d cap %d", col.DBType, in, e.Kind, len(e.Bytes), cap(e.Bytes))
		}
	}
}

// fzDelim is the array delimiter of col's element type.
func fzDelim(col *sluice.Column) byte {
	if col.DBType == "_box" {
		return ';'
	}
	return ','
}

// fzQuote is array_out's rendering of one element.
func fzQuote(b *strings.Builder, s string, delim byte) {
	quote := s == "" || strings.EqualFold(s, "NULL") || strings.ContainsAny(s, "\"\\{} \t\n\r\v\f"+string(delim))
	if !quote {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

// fzArrayOut prints pgx's reading of an array as array_out does.
func fzArrayOut(a pgtype.Array[*string]) string {
	var b strings.Builder
	if len(a.Dims) == 0 {
		return "{}"
	}
	if slices.ContainsFunc(a.Dims, func(d pgtype.ArrayDimension) bool { return d.LowerBound != 1 }) {
		for _, d := range a.Dims {
			fmt.Fprintf(&b, "[%d:%d]", d.LowerBound, d.LowerBound+d.Length-1)
		}
		b.WriteByte('=')
	}
	i := 0
	var dim func(d int)
	dim = func(d int) {
		b.WriteByte('{')
		for k := 0; k < int(a.Dims[d].Length); k++ {
			if k > 0 {
				b.WriteByte(',')
			}
			if d+1 < len(a.Dims) {
				dim(d + 1)
				continue
			}
			if e := a.Elements[i]; e == nil {
				b.WriteString("NULL")
			} else {
				fzQuote(&b, *e, ',')
			}
			i++
		}
		b.WriteByte('}')
	}
	dim(0)
	return b.String()
}

// fzArrayOutValue prints a decoded array of a text-like type as array_out
// does.
func fzArrayOutValue(v sluice.Value, delim byte) string {
	var b strings.Builder
	var list func(v sluice.Value)
	list = func(v sluice.Value) {
		b.WriteByte('{')
		for i, e := range v.Elems {
			if i > 0 {
				b.WriteByte(delim)
			}
			switch {
			case e.Elems != nil:
				list(e)
			case e.Kind == sluice.KindNull:
				b.WriteString("NULL")
			default:
				fzQuote(&b, string(e.Bytes), delim)
			}
		}
		b.WriteByte('}')
	}
	list(v)
	return b.String()
}
