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
	if f, err := source.Lookup(typ); err != nil {
		errs = append(errs, fmt.Errorf("%s.source.type: %w", path, err))
	} else if src, err = f(cfg.Source, source.Env{Pipeline: name, Path: path + ".source", Logger: log, StateDir: stateDir}); err != nil {
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

	var sinks []sluice.Sink
	for _, sname := range slices.Sorted(maps.Keys(cfg.Sinks)) {
		raw := cfg.Sinks[sname]
		spath := path + ".sinks." + sname
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
		sinks = append(sinks, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Pipeline{Name: name, Source: src, Sinks: sinks, Logger: log, Capacity: cfg.Capacity, DrainTimeout: src.DrainTimeout()}, nil
}
