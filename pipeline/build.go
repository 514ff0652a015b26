package pipeline

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/source"
	"github.com/sluice-cdc/sluice/transform"
)

func init() { config.RegisterSchema("encoding", "", codec.Options{}) }

// Build turns a pipeline's configuration into a runnable Pipeline through
// the plugin registries. Like the plugins' constructors it does no I/O, so
// `sluice validate` uses it to check a file completely. It returns one
// error per problem found. It is the one place that fills the plugins'
// Env: a nil log discards, an empty stateDir is config's default.
func Build(name string, cfg config.Pipeline, stateDir string, log *zap.Logger) (*Pipeline, error) {
	path := "pipelines." + name
	if log == nil {
		log = zap.NewNop()
	}
	if stateDir == "" {
		stateDir = config.DefaultStateDir
	}
	log = log.With(zap.String("pipeline", name))
	var errs []error

	typ, _ := cfg.Source["type"].(string)
	var src source.Source
	signals := &sluice.SignalCounter{}
	if f, err := source.Lookup(typ); err != nil {
		errs = append(errs, fmt.Errorf("%s.source.type: %w", path, err))
	} else if src, err = f(cfg.Source, source.Env{Pipeline: name, Path: path + ".source", Logger: log, StateDir: stateDir, Signals: signals}); err != nil {
		errs = append(errs, err)
	}

	sigch, err := buildSignals(name, cfg.TopicPrefix, path+".signals", cfg.Signals, src, log, signals)
	if err != nil {
		errs = append(errs, err)
	}

	opt := codec.Options{}
	if err := config.Decode(cfg.Encoding, &opt, path+".encoding"); err != nil {
		errs = append(errs, err)
	}
	opt.Name = cfg.TopicPrefix
	if src != nil {
		opt.Connector, opt.DB = src.Connector(), src.Database()
	}
	enc, err := codec.New(opt)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s.encoding.%w", path, err))
	}

	tlog := log.With(zap.String("component", "transform"))
	prefix := cfg.TopicPrefix
	if prefix == "" {
		prefix = name
	}
	tenv := transform.Env{Pipeline: name, Logger: tlog, TopicPrefix: prefix, Database: opt.DB, StateDir: stateDir}
	transforms, terrs := buildTransforms(tenv, path+".transforms", cfg.Transforms)
	errs = append(errs, terrs...)

	var sinks []sluice.Sink
	var sinkTransforms [][]Transform
	var sinkNames []string // the metrics' sink label
	for _, sname := range slices.Sorted(maps.Keys(cfg.Sinks)) {
		raw := cfg.Sinks[sname]
		spath := path + ".sinks." + sname
		// A sink's own transforms are the runner's, not the plugin's key.
		var own []Transform
		if list, ok := raw["transforms"]; ok {
			raw = maps.Clone(raw)
			delete(raw, "transforms")
			entries, err := transformEntries(list, spath+".transforms")
			if err != nil {
				errs = append(errs, err)
			}
			var terrs []error
			senv := tenv
			senv.Sink, senv.Logger = sname, tlog.With(zap.String("sink", sname))
			own, terrs = buildTransforms(senv, spath+".transforms", entries)
			errs = append(errs, terrs...)
		}
		styp, _ := raw["type"].(string)
		f, err := sink.Lookup(styp)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.type: %w", spath, err))
			continue
		}
		s, err := f(raw, sink.Env{Pipeline: name, Path: spath, Logger: log.With(zap.String("sink", sname)), Encoder: enc})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d, ok := s.(sink.DeprecatedTransformer); ok {
			old, terrs := deprecatedTransforms(d, name, spath, prefix, opt.DB, tlog.With(zap.String("sink", sname)))
			errs = append(errs, terrs...)
			own = append(own, old...)
		}
		sinks = append(sinks, s)
		sinkNames = append(sinkNames, sname)
		sinkTransforms = append(sinkTransforms, own)
	}
	if src != nil {
		if err := checkExactlyOnce(path, src, sinks, sinkNames); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Pipeline{Name: name, Source: src, Sinks: sinks, SinkNames: sinkNames, Transforms: transforms, SinkTransforms: sinkTransforms,
		Logger: log, Capacity: cfg.Capacity, DrainTimeout: src.DrainTimeout(), Signals: signals, SignalChannel: sigch}, nil
}

// buildTransforms builds an ordered transforms list whose key is path.
func buildTransforms(env transform.Env, path string, entries []map[string]any) ([]Transform, []error) {
	var out []Transform
	var errs []error
	for i, raw := range entries {
		p := fmt.Sprintf("%s[%d]", path, i)
		env.Path = p
		t, err := transform.New(raw, env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Transform{Path: p, Transform: t})
	}
	return out, errs
}

// transformEntries checks that a sink's transforms key is a list of
// mappings, as the pipeline's is by its type.
func transformEntries(v any, path string) ([]map[string]any, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: must be a list of transforms, not %T", path, v)
	}
	out := make([]map[string]any, 0, len(list))
	var errs []error
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("%s[%d]: must be a mapping with a type, not %T", path, i, e))
			continue
		}
		out = append(out, m)
	}
	return out, errors.Join(errs...)
}
