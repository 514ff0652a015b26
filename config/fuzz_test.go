package config

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse feeds arbitrary bytes to Parse. It never panics; a file it
// accepts has at least one pipeline, each with a source type, at least
// one sink (each with a type), a topic prefix and a capacity in range;
// and every error it returns names where the problem is: each joined
// error (Flatten) starts with "config:" or with a key path whose first
// key is one of the file's (log, http, state_dir, pipelines, or a key the
// file has, for an unknown key), optionally after "line N: ".
func FuzzParse(f *testing.F) {
	for _, name := range []string{"example.yaml", "sluice.yaml"} {
		for _, dir := range []string{"../testdata", "../testdata/config"} {
			if b, err := os.ReadFile(dir + "/" + name); err == nil {
				f.Add(b)
			}
		}
	}
	if files, err := os.ReadDir("../testdata/config"); err == nil {
		for _, e := range files {
			if b, err := os.ReadFile("../testdata/config/" + e.Name()); err == nil && !e.IsDir() {
				f.Add(b)
			}
		}
	}
	for _, s := range []string{valid, "", "null", "[]", "- a", "a: b", "pipelines: {}", "pipelines: [1]", "pipelines:\n  p: 1",
		"pipelines:\n  p:\n    source: {type: postgres}\n    sinks: {x: null}",
		"pipelines:\n  p:\n    source: {type: postgres}\n    sinks: {x: {type: kafka}}\n    capacity: 1e30",
		"pipelines:\n  \"a\\nb\":\n    source: {type: 7}\n    sinks: [x]\n    transforms: [{}]\n    bogus: 1",
		"log: {level: loud, format: 5}\nhttp: {listen: 1, pprof: maybe}\nstate_dir: []\n1: 2\n? [a]\n: b",
		"pipelines:\n  p: &a\n    source: *a", "&a [*a]", "a: !!binary aGk=", "pipelines:\n  p:\n    capacity: 0x10\n    encoding: {decimal_handling_mode: x}",
		"%YAML 1.1\n---\na: b\n---\nc: d", "pipelines:\n  p:\n    source:\n      type: postgres\n      <<: {x: 1}\n    sinks: {k: {}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err == nil {
			if file == nil || len(file.Pipelines) == 0 {
				t.Fatalf("%q: accepted without a pipeline", data)
			}
			for name, p := range file.Pipelines {
				if typ, _ := p.Source["type"].(string); typ == "" {
					t.Fatalf("%q: pipeline %q accepted without a source type: %v", data, name, p.Source)
				}
				if len(p.Sinks) == 0 {
					t.Fatalf("%q: pipeline %q accepted without a sink", data, name)
				}
				for sname, s := range p.Sinks {
					if typ, _ := s["type"].(string); typ == "" {
						t.Fatalf("%q: sink %q of pipeline %q has no type: %v", data, sname, name, s)
					}
				}
				if p.TopicPrefix == "" || p.Capacity < 1 || p.Capacity > MaxCapacity {
					t.Fatalf("%q: pipeline %q: topic_prefix %q, capacity %d", data, name, p.TopicPrefix, p.Capacity)
				}
			}
			return
		}
		top := map[string]bool{}
		for _, k := range fieldPaths(reflect.TypeFor[File]()) {
			top[k[0]] = true
		}
		top["pipelines"] = true
		if file != nil {
			for k := range file.lines {
				top[fzFirstKey(k)] = true
			}
		}
		// A key written as another scalar (00, 0x10, true, ~) is named
		// as it decodes (normalize): 0, 16, true, <nil>.
		var doc map[any]any
		if yaml.Unmarshal(data, &doc) == nil {
			for k := range doc {
				top[strings.ToLower(fmt.Sprint(k))] = true
			}
		}
		errs := Flatten(err)
		if len(errs) == 0 {
			t.Fatalf("%q: an error without a message: %#v", data, err)
		}
		for _, e := range errs {
			msg := fzLineRE.ReplaceAllString(e.Error(), "")
			if strings.HasPrefix(msg, "config: ") {
				continue
			}
			lower := strings.ToLower(msg)
			named := false
			for k := range top {
				// Keys that are empty or hold ", " or ":" are quoted.
				for _, form := range []string{k, strings.ToLower(strconv.Quote(k))} {
					if form != "" && (strings.HasPrefix(lower, form+".") || strings.HasPrefix(lower, form+": ") || strings.HasPrefix(lower, form+"[")) {
						named = true
					}
				}
			}
			if !named {
				t.Fatalf("%q: error %q does not start with a key path of the file (keys %q)", data, e, slices.Sorted(maps.Keys(top)))
			}
		}
	})
}

// fzLineRE is the "line N: " withLines puts before an error.
var fzLineRE = regexp.MustCompile(`^line [0-9]+: `)

// fzFirstKey is the first key of a dotted key path ("pipelines.shop" or
// "a[0].b" → "pipelines", "a").
func fzFirstKey(path string) string {
	if i := strings.IndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return path
}
