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
