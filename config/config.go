package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultCapacity is a pipeline's capacity when the file sets none.
const DefaultCapacity = 8192

// MaxCapacity bounds a pipeline's capacity: the tracker allocates a slot
// per event in flight up front.
const MaxCapacity = 1 << 20

// DefaultLivenessTimeout is http.liveness_timeout's default.
const DefaultLivenessTimeout = 5 * time.Minute

// DefaultStateDir is state_dir's default, relative to the working
// directory.
const DefaultStateDir = "sluice-state"

// File is the whole configuration file.
type File struct {
	Log Log `yaml:"log"`
	// StateDir is where sources keep local state their database cannot
	// hold, e.g. snapshot progress (default ./sluice-state).
	StateDir string `yaml:"state_dir"`
	HTTP     HTTP   `yaml:"http"`
	// FailFast stops the whole daemon when one pipeline fails for good
	// (default false: that pipeline stops, the others go on).
	FailFast bool `yaml:"fail_fast"`
	// Cluster, when set, makes this process one member of a group of
	// sluice processes that share the pipelines (internal/cluster).
	Cluster   map[string]any      `yaml:"cluster"`
	Pipelines map[string]Pipeline `yaml:"-"`

	// RawPipelines is decoded per pipeline so that an error in one
	// pipeline still leaves the others (and its other keys) checked.
	RawPipelines map[string]map[string]any `yaml:"pipelines"`

	lines map[string]int // dotted key → line in the YAML file
	vars  []variable     // the ${VAR}s the file used, scrubbed from errors
}

// Log configures zap.
type Log struct {
	// Level is debug, info, warn or error (default info).
	Level string `yaml:"level"`
	// Format is json (default) or console.
	Format string `yaml:"format"`
}

// HTTP configures the admin endpoints (/healthz, /readyz, /metrics).
type HTTP struct {
	// Listen is the address (default 127.0.0.1:9187: loopback only);
	// "off" disables the endpoints.
	Listen string `yaml:"listen"`
	// Pprof adds Go's profiling endpoints under /debug/pprof/ (default
	// false). They show the process's internals: keep the listener on
	// loopback when it is on.
	Pprof bool `yaml:"pprof"`
	// LivenessTimeout is how long a running pipeline's loop may go
	// without turning (a sink's write or the wait for acknowledgements
	// that never returns) before /healthz fails, so the orchestrator
	// restarts the process (default 5m, between 1s and 24h). An idle
	// pipeline is not stuck, nor one whose sink reports its destination
	// down (that is /readyz's business).
	LivenessTimeout time.Duration `yaml:"liveness_timeout"`
}

// Pipeline is one source, its transforms and its sinks.
type Pipeline struct {
	// Source is the source's block; its `type` selects the plugin
	// (postgres) and the other keys are the plugin's.
	Source map[string]any `yaml:"source"`
	// Transforms are applied in order to every event, before the sinks
	// (package transform); a sink's own transforms key adds more for it.
	Transforms []map[string]any `yaml:"transforms"`
	// Sinks maps a sink name to its block; `type` defaults to the name.
	Sinks map[string]map[string]any `yaml:"sinks"`
	// TopicPrefix is Debezium's topic.prefix: the logical server name in
	// source.name, schema names and the default topic names (default: the
	// pipeline's name).
	TopicPrefix string `yaml:"topic_prefix"`
	// Encoding selects the Debezium type handling modes.
	Encoding map[string]any `yaml:"encoding"`
	// Capacity bounds the events in flight between source and sinks
	// (default 8192, at most MaxCapacity); a full pipeline blocks the
	// source.
	Capacity int `yaml:"capacity"`
	// Signals configures the channels that deliver signals to the
	// running source besides its own signal table: `kafka` reads a
	// signal topic (package internal/signalchan).
	Signals map[string]any `yaml:"signals"`
}

// Load reads a YAML file, applies SLUICE_… environment overrides (a key
// path in upper case with dots as underscores, e.g.
// SLUICE_PIPELINES_SHOP_SOURCE_PASSWORD), and decodes it strictly. Plugin
// blocks are decoded later by their plugins (see Decode).
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data)
}

// Parse is Load for a file already read. On an error that is not a YAML
// syntax error it still returns the File as far as it decoded, so callers
// can report the problems plugins find too.
func Parse(data []byte) (*File, error) { return parse(data, os.LookupEnv) }

// parse is Parse with the environment given.
func parse(data []byte, lookup func(string) (string, bool)) (*File, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	// A variable that is not set leaves its value empty; the error is
	// reported with every other problem of the file.
	var used []variable
	expErr := errors.Join(expandNode(&root, "", lookup, &used)...)
	f := &File{lines: map[string]int{}, vars: used}
	raw := map[string]any{}
	if len(root.Content) > 0 {
		collectLines(root.Content[0], "", f.lines)
		var doc any
		if err := root.Content[0].Decode(&doc); err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		switch m := normalize(doc).(type) {
		case map[string]any:
			raw = m
		case nil:
		default:
			return nil, fmt.Errorf("config: the file must be a mapping of keys (log, http, state_dir, pipelines), not a %T", doc)
		}
	}
	applyEnv(raw, lookup)
	// Keep going after a decoding error so that one run reports every
	// problem: the returned File holds whatever decoded.
	errs := []error{Decode(raw, f, "")}
	f.Pipelines = map[string]Pipeline{}
	for name, raw := range f.RawPipelines {
		p := Pipeline{Capacity: DefaultCapacity}
		errs = append(errs, Decode(raw, &p, "pipelines."+name))
		f.Pipelines[name] = p
	}
	decErr := errors.Join(errs...)
	f.defaults()
	return f, errors.Join(expErr, f.withLines(errors.Join(decErr, f.validate())))
}

func (f *File) defaults() {
	if f.Log.Level == "" {
		f.Log.Level = "info"
	}
	if f.Log.Format == "" {
		f.Log.Format = "json"
	}
	if f.StateDir == "" {
		f.StateDir = DefaultStateDir
	}
	if f.HTTP.Listen == "" {
		f.HTTP.Listen = "127.0.0.1:9187"
	}
	if f.HTTP.LivenessTimeout == 0 {
		f.HTTP.LivenessTimeout = DefaultLivenessTimeout
	}
	for name, p := range f.Pipelines {
		if p.TopicPrefix == "" {
			p.TopicPrefix = name
		}
		for sname, s := range p.Sinks {
			if s == nil {
				s = map[string]any{}
				p.Sinks[sname] = s
			}
			if _, ok := s["type"]; !ok {
				s["type"] = sname
			}
		}
		f.Pipelines[name] = p
	}
}

// validate checks what is not a plugin's business; one error per problem.
func (f *File) validate() error {
	var errs []error
	switch f.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", f.Log.Level))
	}
	switch f.Log.Format {
	case "json", "console":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not one of json, console", f.Log.Format))
	}
	if len(f.Pipelines) == 0 {
		errs = append(errs, errors.New("pipelines: required: at least one pipeline"))
	}
	if err := DurationIn("http.liveness_timeout", f.HTTP.LivenessTimeout, time.Second, 24*time.Hour); err != nil {
		errs = append(errs, err)
	}
	for _, name := range f.PipelineNames() {
		p := f.Pipelines[name]
		path := "pipelines." + name
		if len(p.Source) == 0 {
			errs = append(errs, fmt.Errorf("%s.source: required", path))
		} else if t, _ := p.Source["type"].(string); t == "" {
			errs = append(errs, fmt.Errorf("%s.source.type: required (e.g. postgres)", path))
		}
		if len(p.Sinks) == 0 {
			errs = append(errs, fmt.Errorf("%s.sinks: required: at least one sink", path))
		}
		errs = Collect(errs, IntIn(path+".capacity", int64(p.Capacity), 1, MaxCapacity))
	}
	return errors.Join(errs...)
}

// PipelineNames returns the pipeline names in sorted order.
func (f *File) PipelineNames() []string {
	names := make([]string, 0, len(f.Pipelines))
	for n := range f.Pipelines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Line returns the line of a dotted key in the file, or 0.
func (f *File) Line(key string) int {
	for k := key; k != ""; {
		if l, ok := f.lines[strings.ToLower(k)]; ok {
			return l
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// WithLines appends "(line N)" to each joined error whose message starts
// with a key found in the file.
func (f *File) WithLines(err error) error { return f.withLines(err) }

func (f *File) withLines(err error) error {
	var out []error
	for _, e := range Flatten(err) {
		key, _, _ := strings.Cut(e.Error(), ":")
		if l := f.Line(key); l > 0 && !strings.ContainsAny(key, " '") {
			e = fmt.Errorf("line %d: %w", l, e)
		}
		if msg := scrub(e.Error(), f.vars); msg != e.Error() {
			e = errors.New(msg)
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// Flatten returns the leaves of a tree of joined errors, in order.
func Flatten(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, Flatten(e)...)
	}
	return out
}

// collectLines records the line of every mapping key and list item.
func collectLines(n *yaml.Node, prefix string, lines map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key := strings.ToLower(k.Value)
			if prefix != "" {
				key = prefix + "." + key
			}
			lines[key] = k.Line
			collectLines(val, key, lines)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			key := prefix + "[" + strconv.Itoa(i) + "]"
			lines[key] = item.Line
			collectLines(item, key, lines)
		}
	}
}
