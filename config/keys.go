package config

import (
	"reflect"
	"strings"

	"github.com/sluice-cdc/sluice/internal/registry"
)

// schemas maps "source/postgres", "sink/kafka", "encoding" to the typed
// config struct of that block. Parse uses it to know which keys exist, so
// SLUICE_… environment variables can set keys the file does not mention
// (viper only overrides keys it has seen).
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

// keyPaths lists the dotted yaml paths of t's leaf fields under prefix.
func keyPaths(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return []string{prefix}
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		out = append(out, keyPaths(f.Type, prefix+"."+name)...)
	}
	return out
}

// bindSchema binds the environment variable of every key of the block's
// registered schema (if any).
func bindSchema(bind func(string), kind, typ, prefix string) {
	t, err := schemas.Lookup(schemaName(kind, typ))
	if err != nil {
		return // unknown type: reported when the plugin is looked up
	}
	for _, k := range keyPaths(t, prefix) {
		bind(k)
	}
}
