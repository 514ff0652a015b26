// Package sink holds the registry of sink plugins. Each destination lives
// in its own sub-package and registers a Factory under its type name in an
// init function, so adding a sink is one package and one blank import.
package sink

import (
	"fmt"
	"sort"
	"sync"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
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

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a sink type available by name. It panics on an empty or
// duplicate name, which is a programming error caught at start-up.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if name == "" || f == nil {
		panic("sink: Register with empty name or nil factory")
	}
	if _, dup := factories[name]; dup {
		panic("sink: Register called twice for " + name)
	}
	factories[name] = f
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, error) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := factories[name]
	if !ok {
		return nil, fmt.Errorf("unknown sink type %q (known: %v)", name, namesLocked())
	}
	return f, nil
}

func namesLocked() []string {
	names := make([]string, 0, len(factories))
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
