// Package source holds the registry of source plugins. Each database lives
// in its own sub-package and registers a Factory under its type name in an
// init function.
package source

import (
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/registry"
)

// Env is what the runner gives every source it builds.
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
}

// Source is a sluice.Source that also tells encoders who it is.
type Source interface {
	sluice.Source
	// Connector is the name written into Debezium's source.connector
	// ("postgresql", "mysql").
	Connector() string
	// Database is the name of the database the source reads.
	Database() string
}

// Factory builds a source from its raw configuration. It validates the
// configuration and does no I/O.
type Factory func(raw map[string]any, env Env) (Source, error)

var plugins = registry.New[Factory]("source")

// Register makes a source type available by name. It panics on an empty or
// duplicate name, a programming error caught at start-up.
func Register(name string, f Factory) { plugins.Register(name, f) }

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, error) { return plugins.Lookup(name) }
