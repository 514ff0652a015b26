package pipeline

import (
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/transform"
)

// deprecatedTransforms builds the transforms a sink translated from its
// old keys (sink.DeprecatedTransformer), each under the old key's path so
// that an error names what the file says. They run after the sink's own
// transforms, where the old option applied: to the events as the sink
// received them, so its names are those after renames and key changes.
func deprecatedTransforms(d sink.DeprecatedTransformer, pipeline, spath, prefix, db string, log *zap.Logger) ([]Transform, []error) {
	var out []Transform
	var errs []error
	for _, dt := range d.DeprecatedTransforms() {
		p := sink.JoinKey(spath, dt.Key)
		t, err := transform.New(dt.Entry, transform.Env{Pipeline: pipeline, Path: p, Logger: log, TopicPrefix: prefix, Database: db})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Transform{Path: p, Transform: t})
	}
	return out, errs
}
