// Package transform holds the registry of transforms and the built-in
// ones. A transform reshapes the row changes a source reads into the
// events a consumer wants: fewer columns, masked values, another key. It
// is configured as an ordered list, on a pipeline (for every sink) or on
// one sink (for that sink only, after the pipeline's), and registered by
// name like sources and sinks so that a new transform is one file and one
// Register call.
//
// Every entry shares three keys, handled here once instead of by each
// transform: type, tables (names or globs) and ops (c, u, d, r, t, m).
// An event that does not match them passes through unchanged.
package transform

import (
	"errors"
	"fmt"
	"maps"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/registry"
)

// Env is what the runner gives every transform it builds; pipeline.Build
// fills every field.
type Env struct {
	// Pipeline is the name of the pipeline the transform belongs to.
	Pipeline string
	// Path is the config key of the entry
	// ("pipelines.shop.transforms[0]"), used to prefix errors.
	Path   string
	Logger *zap.Logger
	// TopicPrefix is the pipeline's topic prefix and Database its
	// source's database, for transforms that name topics as the Kafka
	// sink does (route).
	TopicPrefix, Database string
	// StateDir is the daemon's state_dir, where transforms that keep
	// state on disk (the join) make their own directory.
	StateDir string
	// Sink is the name of the sink whose own transforms the entry is
	// in; "" for the pipeline's transforms.
	Sink string
}

// Factory builds a transform from its raw configuration entry, common
// keys included.
type Factory func(raw map[string]any, env Env) (sluice.Transform, error)

var plugins = registry.New[Factory]("transform")

// Register makes a transform type available by name; call it once, in an
// init function:
//
//	func init() { transform.Register("columns", newColumns, ColumnsConfig{}) }
//
// C is the transform's config struct: its yaml-tagged fields are the
// entry's own keys (type, tables and ops are handled by the registry and
// must not be among them), and its Defaults method, when it has one, gives
// the values the entry is decoded over. newT validates, naming offending
// keys relative to env.Path. Register panics on an empty or duplicate
// name, a programming error caught at start-up.
func Register[C any, T sluice.Transform](name string, newT func(C, Env) (T, error), sample C) {
	RegisterWhole(name, func(cfg C, m Matcher, env Env) (sluice.Transform, error) {
		t, err := newT(cfg, env)
		if err != nil {
			return nil, err // never a typed nil inside the interface
		}
		if w := m.(*when); !w.all() {
			return &matched{w: w, t: t}, nil
		}
		return t, nil
	}, sample)
}

// Matcher tells which events an entry's tables and ops select.
type Matcher interface {
	Match(ev *sluice.Event) bool
	// TableNames are the entry's tables: names or globs, as written.
	TableNames() []string
}

// RegisterWhole is Register for transforms that must see every event,
// not only those their entry selects (the join reads its lookup table's
// changes too): newT gets the entry's tables and ops as a Matcher and
// applies it itself, and the transform is returned unwrapped, so the
// runner sees the optional interfaces it implements (sluice.Expander,
// sluice.OpenTransform, sluice.Syncer).
func RegisterWhole[C any, T sluice.Transform](name string, newT func(C, Matcher, Env) (T, error), sample C) {
	config.RegisterSchema("transform", name, sample)
	plugins.Register(name, func(raw map[string]any, env Env) (sluice.Transform, error) {
		own := maps.Clone(raw)
		common := map[string]any{}
		for _, k := range []string{"type", "tables", "ops"} {
			if v, ok := own[k]; ok {
				common[k] = v
				delete(own, k)
			}
		}
		m, werr := compileWhen(common, env.Path)
		cfg, decErr := config.DecodeOver[C](own, env.Path)
		t, err := newT(cfg, m, env) // also after a decoding error, so that one run reports every problem
		if err = errors.Join(werr, decErr, err); err != nil {
			return nil, err // never a typed nil inside the interface
		}
		return t, nil
	})
}

// Match reports whether the entry applies to ev (Matcher).
func (w *when) Match(ev *sluice.Event) bool { return w.match(ev) }

// TableNames returns the entry's tables key (Matcher).
func (w *when) TableNames() []string { return w.Tables }

// New builds the transform an entry describes, looking its type up in
// the registry.
func New(raw map[string]any, env Env) (sluice.Transform, error) {
	typ, ok := raw["type"].(string)
	if !ok || typ == "" {
		return nil, fmt.Errorf("%s.type: required (one of %v)", env.Path, plugins.Names())
	}
	f, err := plugins.Lookup(typ)
	if err != nil {
		return nil, fmt.Errorf("%s.type: %w", env.Path, err)
	}
	return f(raw, env)
}
