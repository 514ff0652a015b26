// Package source holds the registry of source plugins. Each database lives
// in its own sub-package and registers itself once, in an init function,
// with its constructor and its config struct.
package source

import (
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/registry"
)

// Env is what the runner gives every source it builds. pipeline.Build fills
// every field; constructors rely on that instead of defaulting them.
type Env struct {
	// Pipeline is the name of the pipeline; sources derive default slot
	// and publication names from it.
	Pipeline string
	// Path is the config key of the source ("pipelines.shop.source"),
	// used to prefix configuration errors.
	Path   string
	Logger *zap.Logger
	// StateDir is where sources keep local state that their database
	// cannot hold, such as snapshot progress.
	StateDir string
	// Signals counts the signals the source reads from its own signal
	// table (sluice.ChannelSource), for /metrics; nil counts nothing.
	Signals *sluice.SignalCounter
}

// Source is a sluice.Source that also tells encoders who it is.
type Source interface {
	sluice.Source
	// Connector is the name written into Debezium's source.connector
	// ("postgresql", "mysql").
	Connector() string
	// Database is the name of the database the source reads.
	Database() string
	// DrainTimeout is how long a shutdown may wait for the sinks (the
	// source's drain_timeout); the runner bounds the whole shutdown by it.
	DrainTimeout() time.Duration
}

// Factory builds a source from its raw configuration block: it decodes the
// block strictly over the plugin's defaults and calls its constructor,
// which validates and does no I/O.
type Factory func(raw map[string]any, env Env) (Source, error)

var plugins = registry.New[Factory]("source")

// Register makes a source type available by name; a plugin calls it once,
// in its init:
//
//	func init() { source.Register("postgres", New, Config{}) }
//
// It works as sink.Register does: C's yaml-tagged fields are the block's
// keys, its Defaults method (config.Defaulter) gives the values the file is
// decoded over, and newSource returns the concrete source. It panics on an
// empty or duplicate name, a programming error caught at start-up.
func Register[C any, S Source](name string, newSource func(C, Env) (S, error), sample C) {
	config.RegisterSchema("source", name, sample)
	plugins.Register(name, func(raw map[string]any, env Env) (Source, error) {
		s, err := Build(newSource, raw, env)
		if err != nil {
			return nil, err // never a typed nil inside the interface
		}
		return s, nil
	})
}

// Build is what the registry does with a block: decode raw strictly over
// C's defaults, then call newSource. It still calls newSource after a
// decoding error, so one run reports every problem. Tests use it to build
// a source of a known type from a raw block.
func Build[C any, S Source](newSource func(C, Env) (S, error), raw map[string]any, env Env) (S, error) {
	cfg, decErr := config.DecodeOver[C](raw, env.Path)
	s, err := newSource(cfg, env)
	if err = errors.Join(decErr, err); err != nil {
		var zero S
		return zero, err
	}
	return s, nil
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, error) { return plugins.Lookup(name) }
