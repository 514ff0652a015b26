package transform

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/sluice-cdc/sluice"
)

func init() { Register("filter", newFilter, FilterConfig{}) }

// FilterConfig is the filter transform's entry: events for which the
// expression is true are kept, the others dropped (and acknowledged, so
// they never hold the checkpoint back). Debezium: the Filter SMT's
// condition.
type FilterConfig struct {
	// Expression is an expr-lang expression over the event: op, table,
	// schema, db, name, snapshot, ts_ms, before.<column>,
	// after.<column>, message.prefix, message.content.
	Expression string `yaml:"expression"`
	// OnError says what an evaluation error does (a comparison of a NULL
	// with a number, a value of another type than the expression
	// expects): fail (the default: the pipeline stops, naming the
	// transform), drop or keep the event.
	OnError string `yaml:"on_error"`
}

// Defaults: an evaluation error stops the pipeline.
func (FilterConfig) Defaults() FilterConfig { return FilterConfig{OnError: "fail"} }

// filter compiles its expression once per table description: column
// references become positions in the row, so evaluating reads values by
// index, without a map of the row or reflection.
type filter struct {
	src     string
	onError string
	cur     *sluice.Event // the event being evaluated (Apply is never concurrent)
	vm      vm.VM
	general *vm.Program // for events without a table (messages)
	tables  map[*sluice.Table]*vm.Program
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

func newFilter(c FilterConfig, env Env) (*filter, error) {
	var errs []error
	switch c.OnError {
	case "fail", "drop", "keep":
	default:
		errs = append(errs, fmt.Errorf("%s.on_error: %q is not fail, drop or keep", env.Path, c.OnError))
	}
	f := &filter{src: c.Expression, onError: c.OnError, tables: map[*sluice.Table]*vm.Program{}}
	if c.Expression == "" {
		errs = append(errs, fmt.Errorf("%s.expression: required, e.g. 'op != \"d\" && after.status == \"paid\"'", env.Path))
	} else {
		// The table-less program checks syntax and names when the file
		// is validated; column names are checked per table.
		p, err := f.compile(nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.expression: %w", env.Path, err))
		}
		f.general = p
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *filter) Apply(ev *sluice.Event) (bool, error) {
	p := f.general
	if ev.Table != nil {
		var ok bool
		if p, ok = f.tables[ev.Table]; !ok {
			var err error
			if p, err = f.compile(ev.Table); err != nil {
				return false, fmt.Errorf("expression on %s: %w", ev.Table.QualifiedName(), err)
			}
			if len(f.tables) >= maxCachedTables {
				clear(f.tables)
			}
			f.tables[ev.Table] = p
		}
	}
	f.cur = ev
	out, err := f.vm.Run(p, nil)
	f.cur = nil
	if err != nil {
		switch f.onError {
		case "drop":
			return false, nil
		case "keep":
			return true, nil
		}
		return false, fmt.Errorf("expression: %w", err)
	}
	return out.(bool), nil
}

// compile compiles the expression for t's columns (nil: no columns).
// Each name the expression uses becomes a call of a function without
// arguments that reads it from the current event: after.qty becomes
// __after_3() where qty is column 3. The virtual machine then passes no
// argument slice, and nothing looks a column up by name per event.
func (f *filter) compile(t *sluice.Table) (*vm.Program, error) {
	tree, err := parser.Parse(f.src)
	if err != nil {
		return nil, err
	}
	pv := &patcher{f: f, t: t, funcs: map[string]expr.Option{}}
	ast.Walk(&tree.Node, pv) // collects the functions; Compile patches again
	if pv.err != nil {
		return nil, pv.err
	}
	opts := []expr.Option{expr.Env(struct{}{}), expr.AsBool(), expr.Patch(pv)}
	for _, name := range slices.Sorted(maps.Keys(pv.funcs)) {
		opts = append(opts, pv.funcs[name])
	}
	for i := range metaFuncs {
		opts = append(opts, expr.Function(metaFuncs[i], f.metaFunc(i), new(func() any)))
	}
	return expr.Compile(f.src, opts...)
}

// metaFuncs are the functions of the event's fields, by meta constant.
var metaFuncs = [...]string{"__op", "__table", "__schema", "__db", "__name", "__snapshot", "__ts_ms", "__msg_prefix", "__msg_content"}

// patcher rewrites the event's names into calls of argument-less
// functions: op → __op(), after.qty → __after_3().
type patcher struct {
	f     *filter
	t     *sluice.Table
	funcs map[string]expr.Option
	err   error
}

func (pv *patcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if i, ok := metaNames[n.Value]; ok {
			ast.Patch(node, call(metaFuncs[i]))
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		prop, isStr := n.Property.(*ast.StringNode)
		if !ok || !isStr {
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
		case "before", "after":
			idx := -1
			if pv.t != nil {
				if idx = pv.t.Index(prop.Value); idx < 0 && pv.err == nil {
					pv.err = fmt.Errorf("%s.%s: the table has no column %q", id.Value, prop.Value, prop.Value)
				}
			}
			name := fmt.Sprintf("__%s_%d", id.Value, idx)
			if _, ok := pv.funcs[name]; !ok {
				pv.funcs[name] = expr.Function(name, pv.f.colFunc(id.Value == "after", idx), new(func() any))
			}
			ast.Patch(node, call(name))
		}
	}
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
func (f *filter) metaFunc(which int) func(...any) (any, error) {
	return func(...any) (any, error) {
		ev := f.cur
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

// colFunc returns the function of column i of the current event's after
// (or before) image: nil when the image or the value is absent or NULL.
func (f *filter) colFunc(after bool, i int) func(...any) (any, error) {
	return func(...any) (any, error) {
		ev := f.cur
		if ev == nil || ev.Table == nil {
			return nil, nil
		}
		row := ev.Before
		if after {
			row = ev.After
		}
		if i < 0 || i >= len(row) || row[i].Kind != sluice.KindPresent {
			return nil, nil
		}
		return goValue(&ev.Table.Columns[i], row[i]), nil
	}
}

// goValue is the Go value an expression sees for a column value: bool,
// int, float64, or string (decimals as their exact text; dates and times
// as the stored integer); arrays as []any.
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
