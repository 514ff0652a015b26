package transform

import (
	"errors"
	"fmt"
	"path"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
)

// when is the part of an entry that says which events it applies to.
type when struct {
	Type   string   `yaml:"type"`
	Tables []string `yaml:"tables"` // qualified names or path.Match globs: public.orders, public.orders_*, shop.*
	Ops    []string `yaml:"ops"`    // c, u, d, r, t, m; empty: all

	ops    [256]bool      // by sluice.Op byte; all false: every op
	tables perTable[bool] // the globs' verdict per table
}

// compileWhen decodes and checks an entry's common keys.
func compileWhen(raw map[string]any, p string) (*when, error) {
	w := &when{}
	err := config.Decode(raw, w, p)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for i, pat := range w.Tables {
		if _, err := path.Match(pat, ""); err != nil || pat == "" {
			errs = append(errs, fmt.Errorf("%s.tables[%d]: %q is not a table name or glob (schema.table, with * ? [..])", p, i, pat))
		}
	}
	for i, o := range w.Ops {
		switch o {
		case "c", "u", "d", "r", "t", "m":
			w.ops[o[0]] = true
		default:
			errs = append(errs, fmt.Errorf("%s.ops[%d]: %q is not an operation (c, u, d, r, t, m)", p, i, o))
		}
	}
	return w, errors.Join(errs...)
}

// all reports whether the entry applies to every event.
func (w *when) all() bool { return len(w.Tables) == 0 && len(w.Ops) == 0 }

// match reports whether the entry applies to ev. An event without a
// table (a logical message) matches only an entry without tables.
func (w *when) match(ev *sluice.Event) bool {
	if len(w.Ops) > 0 && !w.ops[byte(ev.Op)] {
		return false
	}
	if len(w.Tables) == 0 {
		return true
	}
	if ev.Table == nil {
		return false
	}
	m, _ := w.tables.get(ev.Table, w.matchTable)
	return m
}

// matchTable reports whether t's qualified name (schema.table for
// PostgreSQL, db.table for MySQL) matches one of the patterns.
func (w *when) matchTable(t *sluice.Table) (bool, error) {
	name := t.QualifiedName()
	for _, p := range w.Tables {
		if ok, _ := path.Match(p, name); ok {
			return true, nil
		}
	}
	return false, nil
}

// matched applies t to the events its entry's tables and ops select and
// passes the others through.
type matched struct {
	w *when
	t sluice.Transform
}

func (m *matched) Apply(ev *sluice.Event) (bool, error) {
	if !m.w.match(ev) {
		return true, nil
	}
	return m.t.Apply(ev)
}
