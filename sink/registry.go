// Package sink holds the registry of sink plugins. Each destination lives
// in its own sub-package and registers a Factory under its type name in an
// init function, so adding a sink is one package and one blank import.
package sink

import (
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/registry"
)

// Env is what the runner gives every sink it builds.
type Env struct {
	// Pipeline is the name of the pipeline the sink belongs to.
	Pipeline string
	// Path is the config key of the sink (e.g. "pipelines.shop.sinks.kafka"),
	// used to prefix configuration errors.
	Path    string
	Logger  *zap.Logger
	Encoder *codec.Encoder
}

// Factory builds a sink from its raw configuration. It validates the
// configuration, names offending keys relative to env.Path, and does no
// I/O: connecting is Open's job.
type Factory func(raw map[string]any, env Env) (sluice.Sink, error)

var plugins = registry.New[Factory]("sink")

// Register makes a sink type available by name. It panics on an empty or
// duplicate name, a programming error caught at start-up.
func Register(name string, f Factory) { plugins.Register(name, f) }

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, error) { return plugins.Lookup(name) }
