package transform

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/sluice-cdc/sluice"
)

// expression is an expr-lang expression over an event, compiled once per
// table description: column references become positions in the row, so
// evaluating reads values by index, without a map of the row or
// reflection. Transforms that evaluate expressions (filter, set_field)
// share it.
type expression struct {
	src     string
	opts    []expr.Option // the result's kind (expr.AsBool …)
	cur     *sluice.Event // the event being evaluated (Apply is never concurrent)
	vm      vm.VM
	general *vm.Program // for events without a table (messages)
	tables  perTable[*vm.Program]
}

// newExpression compiles src without a table, which checks its syntax,
// its names and its result's kind when the file is validated; column
// names are checked per table, at the table's first event.
func newExpression(src string, opts ...expr.Option) (*expression, error) {
	x := &expression{src: src, opts: opts}
	p, err := x.compile(nil)
	if err != nil {
		return nil, oneLine(err)
	}
	x.general = p
	return x, nil
}

// eval evaluates the expression on ev.
func (x *expression) eval(ev *sluice.Event) (any, error) {
	p := x.general
	if ev.Table != nil {
		var err error
		if p, err = x.tables.get(ev.Table, x.compile); err != nil {
			return nil, fmt.Errorf("expression on %s: %w", ev.Table.QualifiedName(), oneLine(err))
		}
	}
	x.cur = ev
	out, err := x.vm.Run(p, nil)
	x.cur = nil
	if err != nil {
		return nil, fmt.Errorf("expression: %w", err)
	}
	return out, nil
}

// oneLine keeps the first line of a compile error: expr adds the source
// with a caret under the position, which the error's (line:column)
// already gives, and validate prints one line per problem.
func oneLine(err error) error {
	if msg, _, cut := strings.Cut(err.Error(), "\n"); cut {
		return errors.New(msg)
	}
	return err
}

// The event's fields an expression names (metaFuncs).
const (
	metaOp = iota
	metaTable
	metaSchema
	metaDB
	metaName
	metaSnapshot
	metaTsMs
	metaMsgPrefix
	metaMsgContent
)

var metaNames = map[string]int{"op": metaOp, "table": metaTable, "schema": metaSchema, "db": metaDB, "name": metaName,
	"snapshot": metaSnapshot, "ts_ms": metaTsMs}

// compile compiles the expression for t's columns (nil: no columns).
// Each name the expression uses becomes a call of a function without
// arguments that reads it from the current event: after.qty becomes
// __after_3() where qty is column 3. The virtual machine then passes no
// argument slice, and nothing looks a column up by name per event.
func (x *expression) compile(t *sluice.Table) (*vm.Program, error) {
	tree, err := parser.Parse(x.src)
	if err != nil {
		return nil, err
	}
	pv := &patcher{x: x, t: t, funcs: map[string]expr.Option{}, headers: map[string]string{}, cols: map[string]colRef{}}
	ast.Walk(&tree.Node, pv) // collects the functions; Compile patches again
	if pv.err != nil {
		return nil, pv.err
	}
	opts := append([]expr.Option{expr.Env(struct{}{}), expr.Patch(pv)}, x.opts...)
	for _, name := range slices.Sorted(maps.Keys(pv.funcs)) {
		opts = append(opts, pv.funcs[name])
	}
	for i := range metaFuncs {
		opts = append(opts, expr.Function(metaFuncs[i], x.metaFunc(i), new(func() any)))
	}
	return expr.Compile(x.src, opts...)
}

// metaFuncs are the functions of the event's fields, by meta constant.
var metaFuncs = [...]string{"__op", "__table", "__schema", "__db", "__name", "__snapshot", "__ts_ms", "__msg_prefix", "__msg_content"}

// patcher rewrites the event's names into calls of argument-less
// functions: op → __op(), after.qty → __after_3().
type patcher struct {
	x     *expression
	t     *sluice.Table
	funcs map[string]expr.Option
	// headers maps a header name to its function's name.
	headers map[string]string
	// cols maps the name of a column's (or a struct field's) function to
	// what it reads, so that a field access on it becomes a function too.
	cols map[string]colRef
	err  error
}

func (pv *patcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if i, ok := metaNames[n.Value]; ok {
			ast.Patch(node, call(metaFuncs[i]))
		}
	case *ast.MemberNode:
		prop, isStr := n.Property.(*ast.StringNode)
		if !isStr {
			return
		}
		if c, ok := n.Node.(*ast.CallNode); ok && !n.Method {
			pv.visitField(node, c, prop.Value)
			return
		}
		id, ok := n.Node.(*ast.IdentifierNode)
		if !ok {
			return
		}
		switch id.Value {
		case "message":
			switch prop.Value {
			case "prefix":
				ast.Patch(node, call(metaFuncs[metaMsgPrefix]))
			case "content":
				ast.Patch(node, call(metaFuncs[metaMsgContent]))
			}
		case "headers":
			name := "__header_" + strconv.Itoa(len(pv.funcs))
			if f, ok := pv.headers[prop.Value]; ok {
				name = f
			} else {
				pv.headers[prop.Value] = name
				pv.funcs[name] = expr.Function(name, pv.x.headerFunc(prop.Value), new(func() any))
			}
			ast.Patch(node, call(name))
		case "before", "after":
			idx := -1
			if pv.t != nil {
				if idx = pv.t.Index(prop.Value); idx < 0 && pv.err == nil {
					pv.err = fmt.Errorf("%s.%s: the table has no column %q", id.Value, prop.Value, prop.Value)
				}
			}
			ref := colRef{after: id.Value == "after", idx: idx, label: id.Value + "." + prop.Value}
			if idx >= 0 {
				ref.col = &pv.t.Columns[idx]
			}
			pv.patchCol(node, fmt.Sprintf("__%s_%d", id.Value, idx), ref)
		}
	}
}

// patchCol replaces node with a call of the function that reads ref,
// declaring the function the first time.
func (pv *patcher) patchCol(node *ast.Node, name string, ref colRef) {
	if _, ok := pv.funcs[name]; !ok {
		pv.funcs[name] = expr.Function(name, pv.x.colFunc(ref), new(func() any))
		pv.cols[name] = ref
	}
	ast.Patch(node, call(name))
}

func call(name string) *ast.CallNode {
	return &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}}
}

// ops holds each operation's name boxed once, so that op costs no
// allocation per event.
var ops = func() (m [256]any) {
	for _, o := range []sluice.Op{sluice.OpCreate, sluice.OpUpdate, sluice.OpDelete, sluice.OpRead, sluice.OpTruncate, sluice.OpMessage} {
		m[o] = o.String()
	}
	return m
}()

// metaFunc returns the function of one of the current event's fields.
func (x *expression) metaFunc(which int) func(...any) (any, error) {
	return func(...any) (any, error) {
		ev := x.cur
		if ev == nil {
			return nil, nil
		}
		switch which {
		case metaOp:
			return ops[ev.Op], nil
		case metaTable:
			if ev.Table != nil {
				return ev.Table.QualifiedName(), nil
			}
		case metaSchema:
			if ev.Table != nil {
				return ev.Table.Schema, nil
			}
		case metaDB:
			if ev.Table != nil {
				return ev.Table.DB, nil
			}
		case metaName:
			if ev.Table != nil {
				return ev.Table.Name, nil
			}
		case metaSnapshot:
			return ev.Snapshot != sluice.SnapshotFalse, nil
		case metaTsMs:
			return int(ev.CommitTime.UnixMilli()), nil
		case metaMsgPrefix:
			if ev.Message != nil {
				return ev.Message.Prefix, nil
			}
		case metaMsgContent:
			if ev.Message != nil {
				return bytesString(ev.Message.Content), nil
			}
		}
		return nil, nil
	}
}

// headerFunc returns the function of the current event's header name (a
// header a transform added before): its text, nil when absent or null.
// With several of that name, the last counts.
func (x *expression) headerFunc(name string) func(...any) (any, error) {
	return func(...any) (any, error) {
		ev := x.cur
		if ev == nil {
			return nil, nil
		}
		for i := len(ev.Headers) - 1; i >= 0; i-- {
			if h := &ev.Headers[i]; h.Name == name {
				if h.Null {
					return nil, nil
				}
				return h.Text, nil
			}
		}
		return nil, nil
	}
}

// colFunc returns the function of what ref names in the current event's
// after (or before) image: a column, or a field of a struct column. It
// is nil when the image or the value (or a struct on the way) is absent
// or NULL, or when ref names nothing (an expression compiled without a
// table).
func (x *expression) colFunc(ref colRef) func(...any) (any, error) {
	return func(...any) (any, error) {
		ev := x.cur
		if ev == nil || ev.Table == nil || ref.idx < 0 {
			return nil, nil
		}
		row := ev.Before
		if ref.after {
			row = ev.After
		}
		if ref.idx >= len(row) || row[ref.idx].Kind != sluice.KindPresent {
			return nil, nil
		}
		c, v := &ev.Table.Columns[ref.idx], &row[ref.idx]
		for _, f := range ref.path {
			if f >= len(v.Elems) || v.Elems[f].Kind != sluice.KindPresent {
				return nil, nil
			}
			c, v = &c.Fields[f], &v.Elems[f]
		}
		return goValue(c, *v), nil
	}
}

// goValue is the Go value an expression sees for a column value: bool,
// int, float64, or string (decimals as their exact text; dates and times
// as the stored integer); arrays as []any; structs as map[string]any of
// their fields (NULL fields nil). A field access on a struct column
// (after.customer.city) does not build the map: it is compiled to a
// function of the field (patcher.visitField).
func goValue(c *sluice.Column, v sluice.Value) any {
	switch c.Type {
	case sluice.TypeBool, sluice.TypeBit:
		return v.Int != 0
	case sluice.TypeInt16, sluice.TypeInt32, sluice.TypeInt64, sluice.TypeYear, sluice.TypeDate, sluice.TypeTime,
		sluice.TypeTimestamp, sluice.TypeTimestampTZ:
		return int(v.Int)
	case sluice.TypeInterval:
		if v.Bytes == nil {
			return int(v.Int)
		}
	case sluice.TypeFloat32, sluice.TypeFloat64:
		return v.Float
	case sluice.TypeArray:
		out := make([]any, len(v.Elems))
		ec := sluice.Column{Type: c.Elem}
		for i, e := range v.Elems {
			if e.Kind == sluice.KindPresent {
				out[i] = goValue(&ec, e)
			}
		}
		return out
	case sluice.TypeStruct:
		out := make(map[string]any, len(c.Fields))
		for i := range c.Fields {
			var x any
			if i < len(v.Elems) && v.Elems[i].Kind == sluice.KindPresent {
				x = goValue(&c.Fields[i], v.Elems[i])
			}
			out[c.Fields[i].Name] = x
		}
		return out
	}
	return bytesString(v.Bytes)
}

// bytesString views b as a string without copying: values' bytes are
// never written after the source made them (sluice.Event's ownership
// rules), and the string does not outlive the event.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// colRef is what a column function reads: column idx of the after (or
// before) image, then, for a field of a struct column, the field indices
// down the nested structs. idx is -1 when the expression is compiled
// without a table.
type colRef struct {
	after bool
	idx   int
	path  []int
	col   *sluice.Column // the column or field read; nil without a table
	label string         // as written: after.customer.city
}

// visitField compiles a field access on a column function's result,
// after.customer.city, to a function of its own that reads the field by
// index, as columns are read: checked against the struct's fields once
// per table, and no map of the struct per event. Other member accesses on
// calls are left to expr.
func (pv *patcher) visitField(node *ast.Node, c *ast.CallNode, field string) {
	callee, ok := c.Callee.(*ast.IdentifierNode)
	if !ok || len(c.Arguments) > 0 {
		return
	}
	parent, ok := pv.cols[callee.Value]
	if !ok {
		return
	}
	ref := colRef{after: parent.after, idx: parent.idx, label: parent.label + "." + field}
	name := callee.Value + "_x"
	if parent.col != nil {
		f := -1
		for i := range parent.col.Fields {
			if parent.col.Fields[i].Name == field {
				f = i
				break
			}
		}
		switch {
		case parent.col.Type != sluice.TypeStruct:
			if pv.err == nil {
				pv.err = fmt.Errorf("%s: %s is %s, not a struct", ref.label, parent.label, parent.col.Type)
			}
			return
		case f < 0:
			if pv.err == nil {
				pv.err = fmt.Errorf("%s: the struct %s has no field %q", ref.label, parent.label, field)
			}
			return
		}
		ref.path = append(slices.Clip(parent.path), f)
		ref.col = &parent.col.Fields[f]
		name = callee.Value + "_" + strconv.Itoa(f)
	}
	pv.patchCol(node, name, ref)
}
