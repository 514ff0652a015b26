package config

import (
	"reflect"
	"sort"
	"strings"

	"github.com/sluice-cdc/sluice/internal/registry"
)

// schemas maps "source/postgres", "sink/kafka", "encoding" to the typed
// config struct of that block. Parse uses it to know which keys exist, so
// SLUICE_… environment variables can set keys the file does not mention.
var schemas = registry.New[reflect.Type]("config schema")

// RegisterSchema records the config struct of a block; kind is "source",
// "sink", "transform" or a fixed block name such as "encoding". The plugin
// registries (sink.Register, source.Register) call it for each plugin, so a
// plugin registers once.
func RegisterSchema(kind, typ string, sample any) {
	schemas.Register(schemaName(kind, typ), reflect.TypeOf(sample))
}

func schemaName(kind, typ string) string {
	if typ == "" {
		return kind
	}
	return kind + "/" + typ
}

// fieldPaths lists the yaml paths of t's leaf fields.
func fieldPaths(t reflect.Type) [][]string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return [][]string{nil}
	}
	var out [][]string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		for _, sub := range fieldPaths(f.Type) {
			out = append(out, joinPath([]string{name}, sub...))
		}
	}
	return out
}

// bindSchema calls try with the path of every key of the block's
// registered schema (if any) under prefix.
func bindSchema(try func([]string), kind, typ string, prefix []string) {
	t, err := schemas.Lookup(schemaName(kind, typ))
	if err != nil {
		return // unknown type: reported when the plugin is looked up
	}
	for _, p := range fieldPaths(t) {
		try(joinPath(prefix, p...))
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
