package transform

import (
	"errors"
	"fmt"

	"github.com/expr-lang/expr"

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
	// after.<column>, message.prefix, message.content. A struct column
	// (the row a join added) is read field by field,
	// after.<column>.<field>; nil when the struct is NULL.
	Expression string `yaml:"expression"`
	// OnError says what an evaluation error does (a comparison of a NULL
	// with a number, a value of another type than the expression
	// expects): fail (the default: the pipeline stops, naming the
	// transform), drop or keep the event.
	OnError string `yaml:"on_error"`
}

// Defaults: an evaluation error stops the pipeline.
func (FilterConfig) Defaults() FilterConfig { return FilterConfig{OnError: "fail"} }

// filter keeps the events its expression is true for.
type filter struct {
	x       *expression
	onError string
}

func newFilter(c FilterConfig, env Env) (*filter, error) {
	var errs []error
	switch c.OnError {
	case "fail", "drop", "keep":
	default:
		errs = append(errs, fmt.Errorf("%s.on_error: %q is not fail, drop or keep", env.Path, c.OnError))
	}
	f := &filter{onError: c.OnError}
	if c.Expression == "" {
		errs = append(errs, fmt.Errorf("%s.expression: required, e.g. 'op != \"d\" && after.status == \"paid\"'", env.Path))
	} else {
		var err error
		if f.x, err = newExpression(c.Expression, expr.AsBool()); err != nil {
			errs = append(errs, fmt.Errorf("%s.expression: %w", env.Path, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *filter) Apply(ev *sluice.Event) (bool, error) {
	out, err := f.x.eval(ev)
	if err != nil {
		switch f.onError {
		case "drop":
			return false, nil
		case "keep":
			return true, nil
		}
		return false, err
	}
	return out.(bool), nil
}
