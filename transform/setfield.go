package transform

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/expr-lang/expr"

	"github.com/sluice-cdc/sluice"
)

func init() { Register("set_field", newSetField, SetFieldConfig{}) }

// SetFieldConfig is the set_field transform's entry: fields added to the
// rows of its tables (before and after), each a fixed value or computed
// by an expression — a tenant id, the region a database serves, a flag
// derived from the row. Debezium: the InsertField SMT (static.field,
// static.value).
type SetFieldConfig struct {
	Fields []FieldSpec `yaml:"fields"`
}

// FieldSpec is one field set_field adds. A field named like a column of
// the table replaces that column's values (not a key column's).
type FieldSpec struct {
	Name string `yaml:"name"`
	// Value is a fixed string, number or boolean.
	Value any `yaml:"value"`
	// Expression computes the value per event, over the same names as
	// filter's; its result must be of Type (string, int, float, bool;
	// default string) or nil (NULL).
	Expression string `yaml:"expression"`
	Type       string `yaml:"type"`
}

// field is a FieldSpec ready to use.
type field struct {
	col   sluice.Column
	fixed sluice.Value // for Value
	x     *expression  // for Expression
}

type setField struct {
	fields []field
	tables perTable[*fieldShape]
	vals   []sluice.Value // this event's values, one per field
}

// fieldShape is set_field's plan for one table: the derived description
// and, per field, the column it sets there.
type fieldShape struct {
	table *sluice.Table
	at    []int
}

var fieldTypes = map[string]struct {
	col  sluice.Column
	kind reflect.Kind
}{
	"string": {sluice.Column{DBType: "text", Type: sluice.TypeText}, reflect.String},
	"int":    {sluice.Column{DBType: "int8", Type: sluice.TypeInt64}, reflect.Int},
	"float":  {sluice.Column{DBType: "float8", Type: sluice.TypeFloat64}, reflect.Float64},
	"bool":   {sluice.Column{DBType: "bool", Type: sluice.TypeBool}, reflect.Bool},
}

func newSetField(c SetFieldConfig, env Env) (*setField, error) {
	var errs []error
	bad := func(i int, key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.fields[%d]%s: %s", env.Path, i, key, fmt.Sprintf(format, a...)))
	}
	if len(c.Fields) == 0 {
		errs = append(errs, fmt.Errorf("%s.fields: required: at least one {name, value} or {name, expression, type}", env.Path))
	}
	s := &setField{}
	for _, c := range checkSpecs(c.Fields, bad) {
		f := field{x: c.x}
		if c.x == nil {
			f.col, f.fixed, _ = fixedValue(c.Value)
		} else {
			f.col = fieldTypes[c.typ].col
			f.col.Optional = true
		}
		f.col.Name, f.col.Scale = c.Name, -1
		s.fields = append(s.fields, f)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.vals = make([]sluice.Value, len(s.fields))
	return s, nil
}

// checkedSpec is a FieldSpec checked, its expression compiled.
type checkedSpec struct {
	FieldSpec
	typ string      // the expression's result type (a fieldTypes key); "" for a value
	x   *expression // nil for a value
}

// checkSpecs checks what set_field's fields and headers' headers share:
// unique names, a value (a YAML scalar) or an expression with its result
// type, and compiles the expressions. bad reports a problem of entry i
// at key (".name", "" for the entry itself); a bad entry is left out.
func checkSpecs(specs []FieldSpec, bad func(i int, key, format string, a ...any)) []checkedSpec {
	var out []checkedSpec
	seen := map[string]bool{}
	for i, spec := range specs {
		ok := true
		fail := func(key, format string, a ...any) { bad(i, key, format, a...); ok = false }
		if spec.Name == "" || seen[spec.Name] {
			fail(".name", "%q is empty or set twice", spec.Name)
		}
		seen[spec.Name] = true
		c := checkedSpec{FieldSpec: spec}
		switch {
		case (spec.Value == nil) == (spec.Expression == ""):
			fail("", "set value or expression (one of them)")
		case spec.Value != nil:
			if spec.Type != "" {
				fail(".type", "only with expression: a value's type is its own")
			}
			if _, _, scalar := fixedValue(spec.Value); !scalar {
				fail(".value", "%v is not a string, number or boolean", spec.Value)
			}
		default:
			c.typ = spec.Type
			if c.typ == "" {
				c.typ = "string"
			}
			ft, known := fieldTypes[c.typ]
			if !known {
				fail(".type", "%q is not string, int, float or bool", spec.Type)
				break
			}
			var err error
			if c.x, err = newExpression(spec.Expression, expr.AsKind(ft.kind)); err != nil {
				fail(".expression", "%v", err)
			}
		}
		if ok {
			out = append(out, c)
		}
	}
	return out
}

// fixedValue is the column and value of a YAML scalar.
func fixedValue(v any) (sluice.Column, sluice.Value, bool) {
	present := sluice.Value{Kind: sluice.KindPresent}
	switch x := v.(type) {
	case string:
		present.Bytes = []byte(x)
		return fieldTypes["string"].col, present, true
	case int:
		present.Int = int64(x)
		return fieldTypes["int"].col, present, true
	case float64:
		present.Float = x
		return fieldTypes["float"].col, present, true
	case bool:
		if x {
			present.Int = 1
		}
		return fieldTypes["bool"].col, present, true
	}
	return sluice.Column{}, sluice.Value{}, false
}

func (s *setField) Apply(ev *sluice.Event) (bool, error) {
	if ev.Table == nil || ev.Before == nil && ev.After == nil {
		return true, nil
	}
	sh, err := s.tables.get(ev.Table, s.plan)
	if err != nil {
		return false, err
	}
	for i := range s.fields {
		f := &s.fields[i]
		if f.x == nil {
			s.vals[i] = f.fixed
			continue
		}
		out, err := f.x.eval(ev)
		if err != nil {
			return false, fmt.Errorf("fields[%d]: %w", i, err)
		}
		s.vals[i] = computedValue(out)
	}
	ev.Before = s.project(sh, ev.Before)
	ev.After = s.project(sh, ev.After)
	ev.Table = sh.table
	return true, nil
}

// computedValue stores an expression's result (of the field's type, by
// the compiled expression's kind) as a Value.
func computedValue(out any) sluice.Value {
	v := sluice.Value{Kind: sluice.KindPresent}
	switch x := out.(type) {
	case string:
		v.Bytes = []byte(x)
	case int:
		v.Int = int64(x)
	case float64:
		v.Float = x
	case bool:
		if x {
			v.Int = 1
		}
	default:
		v.Kind = sluice.KindNull
	}
	return v
}

// plan derives a table's description with the fields: a field named like
// a column replaces it, the others come after the table's columns.
func (s *setField) plan(in *sluice.Table) (*fieldShape, error) {
	out := *in
	out.Columns = append([]sluice.Column(nil), in.Columns...)
	sh := &fieldShape{table: &out, at: make([]int, len(s.fields))}
	for i, f := range s.fields {
		j := in.Index(f.col.Name)
		switch {
		case j < 0:
			j = len(out.Columns)
			out.Columns = append(out.Columns, f.col)
		case in.Columns[j].Key:
			return nil, fmt.Errorf("fields[%d]: %q is a key column of %s: setting it would merge rows", i, f.col.Name, in.QualifiedName())
		default:
			out.Columns[j] = f.col
		}
		sh.at[i] = j
	}
	return sh, nil
}

// project returns r with the fields set, as a new row (nil stays nil).
func (s *setField) project(sh *fieldShape, r sluice.Row) sluice.Row {
	if r == nil {
		return nil
	}
	out := make(sluice.Row, len(sh.table.Columns))
	copy(out, r)
	for i := len(r); i < len(out); i++ {
		out[i] = sluice.Value{Kind: sluice.KindMissing}
	}
	for i, j := range sh.at {
		out[j] = s.vals[i]
	}
	return out
}
