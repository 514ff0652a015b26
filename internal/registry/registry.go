// Package registry is the name → factory table behind the sink and source
// plugin registries, kept in one place so both behave the same way.
package registry

import (
	"fmt"
	"sort"
	"sync"
)

// Registry maps plugin type names to factories of type F.
type Registry[F any] struct {
	kind string
	mu   sync.RWMutex
	m    map[string]F
}

// New returns an empty registry; kind ("sink", "source") prefixes messages.
func New[F any](kind string) *Registry[F] {
	return &Registry[F]{kind: kind, m: map[string]F{}}
}

// Register adds f under name. It panics on an empty or duplicate name: a
// programming error caught when the binary starts.
func (r *Registry[F]) Register(name string, f F) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" {
		panic(r.kind + ": Register with empty name")
	}
	if _, dup := r.m[name]; dup {
		panic(r.kind + ": Register called twice for " + name)
	}
	r.m[name] = f
}

// Lookup returns the factory registered under name.
func (r *Registry[F]) Lookup(name string) (F, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.m[name]
	if !ok {
		return f, fmt.Errorf("unknown %s type %q (known: %v)", r.kind, name, r.names())
	}
	return f, nil
}

// Names returns the registered names in sorted order.
func (r *Registry[F]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.names()
}

func (r *Registry[F]) names() []string {
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
