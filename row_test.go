package sluice

import (
	"math"
	"testing"
)

func present(i int64, b string) Value { return Value{Kind: KindPresent, Int: i, Bytes: []byte(b)} }

func TestValueEqual(t *testing.T) {
	arr := func(vs ...Value) Value { return Value{Kind: KindPresent, Elems: vs} }
	cases := []struct {
		name string
		a, b Value
		want bool
	}{
		{"same int", present(1, ""), present(1, ""), true},
		{"other int", present(1, ""), present(2, ""), false},
		{"same bytes", present(0, "x"), present(0, "x"), true},
		{"other bytes", present(0, "x"), present(0, "y"), false},
		{"null and empty", Value{Kind: KindNull}, present(0, ""), false},
		{"nil and empty bytes", Value{Kind: KindPresent}, Value{Kind: KindPresent, Bytes: []byte{}}, true},
		{"NaN", Value{Kind: KindPresent, Float: math.NaN()}, Value{Kind: KindPresent, Float: math.NaN()}, true},
		{"zero signs", Value{Kind: KindPresent, Float: 0}, Value{Kind: KindPresent, Float: math.Copysign(0, -1)}, false},
		{"same arrays", arr(present(1, ""), present(2, "")), arr(present(1, ""), present(2, "")), true},
		{"arrays differ in an element", arr(present(1, ""), present(2, "")), arr(present(1, ""), present(3, "")), false},
		{"arrays differ in length", arr(present(1, "")), arr(present(1, ""), present(1, "")), false},
		{"nested arrays", arr(arr(present(1, "a"))), arr(arr(present(1, "b"))), false},
		{"unchanged and present", Value{Kind: KindUnchanged}, present(0, ""), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.a.Equal(c.b); got != c.want {
				t.Errorf("Equal = %v, want %v", got, c.want)
			}
			if got := c.b.Equal(c.a); got != c.want {
				t.Errorf("Equal (swapped) = %v, want %v", got, c.want)
			}
		})
	}
}

func TestKeyChanged(t *testing.T) {
	tbl := &Table{Columns: []Column{{Name: "a", Key: true}, {Name: "b"}, {Name: "c", Key: true}}, Key: []int{0, 2}}
	missing := Value{Kind: KindMissing}
	row := func(vs ...Value) Row { return Row(vs) }
	cases := []struct {
		name     string
		tbl      *Table
		old, neu Row
		want     bool
	}{
		{"same key, other value", tbl, row(present(1, ""), present(1, ""), present(2, "")), row(present(1, ""), present(9, ""), present(2, "")), false},
		{"first key column", tbl, row(present(1, ""), present(1, ""), present(2, "")), row(present(5, ""), present(1, ""), present(2, "")), true},
		{"second key column", tbl, row(present(1, ""), present(1, ""), present(2, "")), row(present(1, ""), present(1, ""), present(3, "")), true},
		{"old key missing", tbl, row(present(1, ""), missing, missing), row(present(1, ""), present(1, ""), present(3, "")), false},
		{"new key missing", tbl, row(present(1, ""), present(1, ""), present(2, "")), row(present(7, ""), present(1, ""), missing), false},
		{"old row short", tbl, row(present(1, "")), row(present(7, ""), present(1, ""), present(3, "")), false},
		{"array key", &Table{Columns: []Column{{Name: "k", Key: true}}, Key: []int{0}},
			row(Value{Kind: KindPresent, Elems: []Value{present(1, "")}}), row(Value{Kind: KindPresent, Elems: []Value{present(2, "")}}), true},
		{"no key", &Table{Columns: []Column{{Name: "a"}}}, row(present(1, "")), row(present(2, "")), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := KeyChanged(c.tbl, c.old, c.neu); got != c.want {
				t.Errorf("KeyChanged = %v, want %v", got, c.want)
			}
		})
	}
}

// TestKeyStringDistinguishesKeys: KeyString, which dirty detection
// compares, tells apart keys that differ only inside arrays (element
// values, count, NULL elements, nesting) and text keys that an encoding
// without lengths would run together.
func TestKeyStringDistinguishesKeys(t *testing.T) {
	ints := func(xs ...int64) Value {
		v := Value{Kind: KindPresent}
		for _, x := range xs {
			v.Elems = append(v.Elems, Value{Kind: KindPresent, Int: x})
		}
		return v
	}
	text := func(s string) Value { return Value{Kind: KindPresent, Bytes: []byte(s)} }
	nested := Value{Kind: KindPresent, Elems: []Value{ints(1, 2), ints(3)}}
	flat := ints(1, 2, 3)
	withNull := Value{Kind: KindPresent, Elems: []Value{{Kind: KindPresent, Int: 1}, {Kind: KindNull}}}
	one := &Table{Columns: []Column{{Name: "k"}}, Key: []int{0}}
	two := &Table{Columns: []Column{{Name: "a"}, {Name: "b"}}, Key: []int{0, 1}}
	rows := map[string]struct {
		t   *Table
		row Row
	}{
		"{1,2}":       {one, Row{ints(1, 2)}},
		"{1,3}":       {one, Row{ints(1, 3)}},
		"{1}":         {one, Row{ints(1)}},
		"{}":          {one, Row{ints()}},
		"{1,NULL}":    {one, Row{withNull}},
		"{1,0}":       {one, Row{ints(1, 0)}},
		"{{1,2},{3}}": {one, Row{nested}},
		"{1,2,3}":     {one, Row{flat}},
		"(a\\0, b)":   {two, Row{text("a\x00"), text("b")}},
		"(a, \\0b)":   {two, Row{text("a"), text("\x00b")}},
	}
	seen := map[string]string{}
	for name, r := range rows {
		k := KeyString(r.t, r.row)
		if other, dup := seen[k]; dup {
			t.Errorf("keys %s and %s have the same KeyString", name, other)
		}
		seen[k] = name
		if again := KeyString(r.t, Row(append([]Value(nil), r.row...))); again != k {
			t.Errorf("key %s: KeyString not stable", name)
		}
	}
}
