// Package sink holds the registry of sink plugins. Each destination lives
// in its own sub-package and registers itself once, in an init function,
// with its constructor and its config struct, so adding a sink is one
// package and one blank import.
package sink

import (
	"errors"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/registry"
)

// Env is what the runner gives every sink it builds. pipeline.Build fills
// every field; constructors rely on that instead of defaulting them.
type Env struct {
	// Pipeline is the name of the pipeline the sink belongs to.
	Pipeline string
	// Path is the config key of the sink (e.g. "pipelines.shop.sinks.kafka"),
	// used to prefix configuration errors.
	Path    string
	Logger  *zap.Logger
	Encoder *codec.Encoder
}

// Factory builds a sink from its raw configuration block: it decodes the
// block strictly over the plugin's defaults and calls its constructor,
// which validates (naming offending keys relative to env.Path) and does no
// I/O: connecting is Open's job.
type Factory func(raw map[string]any, env Env) (sluice.Sink, error)

var plugins = registry.New[Factory]("sink")

// DeprecatedTransformer is implemented by sinks whose configuration still
// accepts an older, sink-specific spelling of what a transform now does
// (the Elasticsearch sink's columns option), so old files keep working
// while the sink has no code path of its own for it. pipeline.Build calls
// it once per build and puts the returned entries, in order, after the
// sink's own transforms, where a sink option applied; the sink validates
// the old key when it is built and logs the replacement when asked.
type DeprecatedTransformer interface {
	DeprecatedTransforms() []DeprecatedTransform
}

// DeprecatedTransform is one transform entry translated from an old key.
type DeprecatedTransform struct {
	// Key is the old key the entry comes from, relative to the sink
	// ("columns.public.customers"): errors of the entry name it, since
	// the file has no transforms entry to point at.
	Key string
	// Entry is the transforms entry, type included, as YAML would give it.
	Entry map[string]any
}

// Register makes a sink type available by name; a plugin calls it once, in
// its init:
//
//	func init() { sink.Register("kafka", New, Config{}) }
//
// C is the plugin's config struct (the sample's type): its yaml-tagged
// fields are the block's keys, known to the SLUICE_… environment overrides,
// and its Defaults method (config.Defaulter), when it has one, gives the
// values the file's keys are decoded over. newSink receives the decoded
// struct and returns the concrete sink, so tests call it directly without
// type assertions and no typed nil ever hides inside a sluice.Sink.
// Register panics on an empty or duplicate name, a programming error
// caught at start-up.
func Register[C any, S sluice.Sink](name string, newSink func(C, Env) (S, error), sample C) {
	config.RegisterSchema("sink", name, sample)
	plugins.Register(name, func(raw map[string]any, env Env) (sluice.Sink, error) {
		s, err := Build(newSink, raw, env)
		if err != nil {
			return nil, err // never a typed nil inside the interface
		}
		return s, nil
	})
}

// Build is what the registry does with a block: decode raw strictly over
// C's defaults, then call newSink. It still calls newSink after a decoding
// error, so one run reports every problem. Tests use it to build a sink of
// a known type from a raw block.
func Build[C any, S sluice.Sink](newSink func(C, Env) (S, error), raw map[string]any, env Env) (S, error) {
	cfg, decErr := config.DecodeOver[C](raw, env.Path)
	s, err := newSink(cfg, env)
	if err = errors.Join(decErr, err); err != nil {
		var zero S
		return zero, err
	}
	return s, nil
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, error) { return plugins.Lookup(name) }
