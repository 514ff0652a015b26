package transform

import (
	"fmt"
	"regexp"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

func init() { Register("route", newRoute, RouteConfig{}) }

// RouteConfig is the route transform's entry: events whose default topic
// (Debezium's <prefix>.<schema>.<table>) matches TopicRegex as a whole go
// to TopicReplacement instead, e.g. every shard orders_1 … orders_64 into
// one topic. Debezium: the ByLogicalTableRouter SMT (topic.regex,
// topic.replacement, key.enforce.uniqueness, key.field.name,
// key.field.regex, key.field.replacement), with the same defaults and
// output: rows of two shards with the same key would overwrite each other
// on a compacted topic, so the key gets a field naming the shard.
type RouteConfig struct {
	// TopicRegex is an RE2 expression matched against the whole default
	// topic name.
	TopicRegex string `yaml:"topic_regex"`
	// TopicReplacement is the new topic, with ${1} … for the regex's
	// groups.
	TopicReplacement string `yaml:"topic_replacement"`
	// KeyEnforceUniqueness adds KeyFieldName to the key of routed
	// events (not to keyless ones). Default true.
	KeyEnforceUniqueness *bool `yaml:"key_enforce_uniqueness"`
	// KeyFieldName is the added key field. Default
	// __dbz__physicalTableIdentifier.
	KeyFieldName string `yaml:"key_field_name"`
	// KeyFieldRegex, matched against the whole default topic, and
	// KeyFieldReplacement (with ${1} … groups) make the field's value;
	// without them, or when the regex does not match, the value is the
	// default topic itself.
	KeyFieldRegex       string `yaml:"key_field_regex"`
	KeyFieldReplacement string `yaml:"key_field_replacement"`
}

// Defaults are Debezium's.
func (RouteConfig) Defaults() RouteConfig {
	return RouteConfig{KeyFieldName: "__dbz__physicalTableIdentifier"}
}

// topicName is what a Kafka topic name may hold.
var topicName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

type route struct {
	re       *regexp.Regexp
	repl     string
	keyField string         // "": key unchanged
	keyRe    *regexp.Regexp // nil: the value is the default topic
	keyRepl  string
	prefix   string
	tmpl     sink.Topic
	db       string
	targets  perTable[*sluice.Route] // input table → route (nil: unmatched)
}

func newRoute(c RouteConfig, env Env) (*route, error) {
	if c.TopicRegex == "" {
		return nil, fmt.Errorf("%s.topic_regex: required, e.g. '(.*)\\.orders_[0-9]+'", env.Path)
	}
	if c.TopicReplacement == "" {
		return nil, fmt.Errorf("%s.topic_replacement: required, e.g. '${1}.orders'", env.Path)
	}
	re, err := regexp.Compile("^(?:" + c.TopicRegex + ")$")
	if err != nil {
		return nil, fmt.Errorf("%s.topic_regex: %w", env.Path, err)
	}
	tmpl, err := sink.ParseTopic(sink.DefaultTopic)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", env.Path, err)
	}
	r := &route{re: re, repl: c.TopicReplacement, prefix: env.TopicPrefix, tmpl: tmpl, db: env.Database}
	if c.KeyEnforceUniqueness == nil || *c.KeyEnforceUniqueness {
		if c.KeyFieldName == "" {
			return nil, fmt.Errorf("%s.key_field_name: empty; leave it out for __dbz__physicalTableIdentifier, or set key_enforce_uniqueness: false", env.Path)
		}
		r.keyField = c.KeyFieldName
	} else if c.KeyFieldRegex != "" || c.KeyFieldReplacement != "" {
		return nil, fmt.Errorf("%s.key_field_regex: only with key_enforce_uniqueness (it makes the key field's value)", env.Path)
	}
	switch {
	case (c.KeyFieldRegex == "") != (c.KeyFieldReplacement == ""):
		return nil, fmt.Errorf("%s.key_field_regex: key_field_regex and key_field_replacement go together", env.Path)
	case c.KeyFieldRegex != "":
		if r.keyRe, err = regexp.Compile("^(?:" + c.KeyFieldRegex + ")$"); err != nil {
			return nil, fmt.Errorf("%s.key_field_regex: %w", env.Path, err)
		}
		r.keyRepl = c.KeyFieldReplacement
	}
	return r, nil
}

func (r *route) Apply(ev *sluice.Event) (bool, error) {
	if ev.Table == nil || ev.Op == sluice.OpMessage || ev.Op == sluice.OpSchemaChange || ev.Topic != "" {
		return true, nil // not a table's change, or another transform chose already
	}
	rt, err := r.targets.get(ev.Table, r.target)
	if err != nil || rt == nil {
		return err == nil, err
	}
	ev.Topic, ev.Route = rt.Topic, rt
	return true, nil
}

// target is the route of t's events when t's default topic matches, else
// nil.
func (r *route) target(t *sluice.Table) (*sluice.Route, error) {
	db := t.DB
	if db == "" {
		db = r.db
	}
	from := r.tmpl.Expand(r.prefix, db, t.Schema, t.Name)
	m := r.re.FindStringSubmatchIndex(from)
	if m == nil {
		return nil, nil
	}
	topic := string(r.re.ExpandString(nil, r.repl, from, m))
	if !topicName.MatchString(topic) {
		return nil, fmt.Errorf("topic_replacement: %q (from %s) is not a Kafka topic name: letters, digits, '.', '_' and '-', at most 249", topic, from)
	}
	rt := &sluice.Route{Topic: topic}
	if r.keyField != "" && len(t.Key) > 0 {
		if t.Index(r.keyField) >= 0 {
			return nil, fmt.Errorf("key_field_name: %s already has a column %q: choose another name", t.QualifiedName(), r.keyField)
		}
		rt.KeyField, rt.KeyValue = r.keyField, from
		if r.keyRe != nil {
			if km := r.keyRe.FindStringSubmatchIndex(from); km != nil {
				rt.KeyValue = string(r.keyRe.ExpandString(nil, r.keyRepl, from, km))
			}
		}
	}
	return rt, nil
}
