package config

import (
	"fmt"
	"reflect"
	"strings"
)

// envPrefix starts every environment override: SLUICE_ + the key's path in
// upper case with "." as "_", e.g. SLUICE_PIPELINES_SHOP_SOURCE_PASSWORD.
const envPrefix = "SLUICE_"

// envName is the environment variable that overrides the key at path.
func envName(path []string) string {
	return envPrefix + strings.ToUpper(strings.Join(path, "_"))
}

// applyEnv sets, in the file's tree, every key whose environment variable
// is set. The keys considered are the leaves the file has and every key
// the schemas know (the file's own, each pipeline's, and those of the
// plugins its blocks name), so the environment can also set keys the file
// leaves out — secrets above all. Values stay strings; decoding parses
// them (numbers, booleans, durations, comma-separated lists).
func applyEnv(root map[string]any, lookup func(string) (string, bool)) {
	seen := map[string]bool{}
	try := func(path []string) {
		name := envName(path)
		if seen[name] {
			return
		}
		seen[name] = true
		if v, ok := lookup(name); ok {
			setPath(root, path, v)
		}
	}
	for _, p := range leafPaths(root, nil) {
		try(p)
	}
	for _, p := range fieldPaths(reflect.TypeFor[File]()) {
		if p[0] != "pipelines" {
			try(p)
		}
	}
	pipes, _ := root["pipelines"].(map[string]any)
	for _, name := range sortedKeys(pipes) {
		base := []string{"pipelines", name}
		for _, p := range fieldPaths(reflect.TypeFor[Pipeline]()) {
			switch p[0] {
			case "source", "sinks", "encoding", "signals", "transforms":
				continue // plugin blocks: their schemas below
			}
			try(joinPath(base, p...))
		}
		bindSchema(try, "encoding", "", joinPath(base, "encoding"))
		bindSchema(try, "signals", "", joinPath(base, "signals"))
		// A block's type selects its schema: apply its override first.
		try(joinPath(base, "source", "type"))
		pipe, _ := pipes[name].(map[string]any)
		src, _ := pipe["source"].(map[string]any)
		typ, _ := src["type"].(string)
		bindSchema(try, "source", typ, joinPath(base, "source"))
		sinks, _ := pipe["sinks"].(map[string]any)
		for _, s := range sortedKeys(sinks) {
			try(joinPath(base, "sinks", s, "type"))
			block, _ := sinks[s].(map[string]any)
			typ, _ := block["type"].(string)
			if typ == "" {
				typ = s
			}
			bindSchema(try, "sink", typ, joinPath(base, "sinks", s))
		}
	}
}

// joinPath returns a new path: base followed by more.
func joinPath(base []string, more ...string) []string {
	return append(append(make([]string, 0, len(base)+len(more)), base...), more...)
}

// leafPaths lists the paths of the scalar and list values under m.
func leafPaths(m map[string]any, prefix []string) [][]string {
	var out [][]string
	for _, k := range sortedKeys(m) {
		p := joinPath(prefix, k)
		if sub, ok := m[k].(map[string]any); ok {
			out = append(out, leafPaths(sub, p)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// setPath stores v at path, making the maps on the way (a null or scalar
// on the way is replaced by a map).
func setPath(m map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		sub, ok := m[k].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[k] = sub
		}
		m = sub
	}
	m[path[len(path)-1]] = v
}

// normalize turns the maps yaml.v3 made with non-string keys (a mapping
// key written as a number, say) into map[string]any, so that decoding
// names them instead of failing on their type.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}
