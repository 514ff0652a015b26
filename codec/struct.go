package codec

import (
	"strconv"

	"github.com/sluice-cdc/sluice"
)

// Struct columns (sluice.TypeStruct) are written as Kafka Connect's
// JsonConverter writes a nested struct: the value a JSON object of the
// fields, the schema a "struct" schema whose fields are the field
// columns' schemas. Each field is a column in its own right, so it is
// written exactly as a top-level column of its Column would be, by its
// own plan and the encoder's handling modes; structs nest.

// structPlan is how a struct column's fields are written: built with the
// column's plan, once per table, so an event costs no planning.
type structPlan struct {
	names [][]byte  // `"field":` per field
	plans []colPlan // per field
}

// structPlanFor plans the fields of struct column c.
func (e *Encoder) structPlanFor(c *sluice.Column) *structPlan {
	sp := &structPlan{names: make([][]byte, len(c.Fields)), plans: make([]colPlan, len(c.Fields))}
	for i := range c.Fields {
		f := &c.Fields[i]
		sp.names[i] = append(appendStr(nil, f.Name), ':')
		sp.plans[i] = e.planFor(f)
	}
	return sp
}

// appendStruct writes the fields of struct column c whose values are
// elems, as a row is written (appendFields). A struct's value that is
// missing as a whole (a NOT NULL struct in a key-only old row) comes
// here with no elems, so that each field falls back to its zero and the
// object still matches its schema.
func (e *Encoder) appendStruct(dst []byte, c *sluice.Column, sp *structPlan, elems []sluice.Value, snap bool) []byte {
	return e.appendFields(dst, c.Fields, sp.names, sp.plans, elems, snap)
}

// appendStructSchema writes the Connect schema of struct column c:
// {"type":"struct","fields":[…],"optional":…,"name":…}, each field's
// schema as a top-level column's (appendFieldSchema), the name
// (Column.DBType) left out when empty.
func (e *Encoder) appendStructSchema(dst []byte, c *sluice.Column, optional bool) []byte {
	dst = append(dst, `{"type":"struct","fields":[`...)
	for i := range c.Fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = e.appendFieldSchema(dst, &c.Fields[i])
	}
	dst = append(dst, `],"optional":`...)
	dst = strconv.AppendBool(dst, optional)
	if c.DBType != "" {
		dst = append(dst, `,"name":`...)
		dst = appendStr(dst, c.DBType)
	}
	return append(dst, '}')
}

// structPlaceholder is the placeholder of an unchanged struct value in
// the struct's shape: an object of its fields' placeholders, so that the
// value still matches the struct's schema. No source sends one (structs
// are made by transforms, from whole rows), but a TOAST placeholder of a
// field's type stays valid if one does.
func (e *Encoder) structPlaceholder(c *sluice.Column) []byte {
	b := []byte{'{'}
	for i := range c.Fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStr(b, c.Fields[i].Name)
		b = append(b, ':')
		b = append(b, e.placeholderFor(&c.Fields[i])...)
	}
	return append(b, '}')
}
