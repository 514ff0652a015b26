package kafka

import (
	"github.com/valyala/fastjson"

	"github.com/sluice-cdc/sluice"
)

// Records written without schemas (Debezium's and sluice's default JSON)
// say nothing about types beyond JSON's own. The table of such a topic
// is guessed from the values: whole numbers are int64, other numbers
// float64, strings text, booleans bool, objects and arrays JSON. A column
// keeps its type while later records fit it; a record that does not (a
// column added, a float where whole numbers were, a value where only
// nulls were) makes a new table, its columns' types widened.

// jsonKind is the type a JSON value suggests.
func jsonKind(v *fastjson.Value) (sluice.Type, bool) {
	switch v.Type() {
	case fastjson.TypeNumber:
		if _, err := v.Int64(); err == nil {
			return sluice.TypeInt64, true
		}
		return sluice.TypeFloat64, true
	case fastjson.TypeString:
		return sluice.TypeText, true
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return sluice.TypeBool, true
	case fastjson.TypeObject, fastjson.TypeArray:
		return sluice.TypeJSON, true
	}
	return sluice.TypeText, false // null
}

// fits reports whether the row object's fields are cols, in order, with
// values of their types.
func fits(cols []column, row *fastjson.Value) bool {
	o := row.GetObject()
	if o == nil || o.Len() != len(cols) {
		return false
	}
	i, ok := 0, true
	o.Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		c := &cols[i]
		i++
		if c.Name != string(k) {
			ok = false
			return
		}
		t, known := jsonKind(v)
		switch {
		case !known:
		case c.unknown:
			ok = false
		case t == c.Type, t == sluice.TypeInt64 && c.Type == sluice.TypeFloat64:
		default:
			ok = false
		}
	})
	return ok
}

// guessTable makes the table of row, keeping what prev knew of columns
// that are null here and widening int64 to float64 where needed.
func guessTable(topic string, prev *cached, row *fastjson.Value, src *sourceInfo, keyNames []string) *cached {
	o := row.GetObject()
	cols := make([]column, 0, o.Len())
	o.Visit(func(k []byte, v *fastjson.Value) {
		c := column{Column: sluice.Column{Name: string(k), Optional: true, Scale: -1}}
		t, known := jsonKind(v)
		var old *column
		if prev != nil {
			if i := index(prev.cols, k); i >= 0 {
				old = &prev.cols[i]
			}
		}
		switch {
		case !known && old != nil:
			t, c.unknown = old.Type, old.unknown
		case !known:
			c.unknown = true
		case t == sluice.TypeInt64 && old != nil && old.Type == sluice.TypeFloat64:
			t = sluice.TypeFloat64
		}
		c.Type = t
		cols = append(cols, c)
	})
	return newCached(topic, cols, src, keyNames)
}
