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
// topic.replacement).
type RouteConfig struct {
	// TopicRegex is an RE2 expression matched against the whole default
	// topic name.
	TopicRegex string `yaml:"topic_regex"`
	// TopicReplacement is the new topic, with ${1} … for the regex's
	// groups.
	TopicReplacement string `yaml:"topic_replacement"`
}

// topicName is what a Kafka topic name may hold.
var topicName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

type route struct {
	re      *regexp.Regexp
	repl    string
	prefix  string
	tmpl    sink.Topic
	db      string
	targets perTable[string] // input table → topic ("": unmatched)
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
	return &route{re: re, repl: c.TopicReplacement, prefix: env.TopicPrefix, tmpl: tmpl, db: env.Database}, nil
}

func (r *route) Apply(ev *sluice.Event) (bool, error) {
	if ev.Table == nil || ev.Op == sluice.OpMessage || ev.Op == sluice.OpSchemaChange || ev.Topic != "" {
		return true, nil // not a table's change, or another transform chose already
	}
	topic, err := r.targets.get(ev.Table, r.target)
	if err != nil {
		return false, err
	}
	ev.Topic = topic
	return true, nil
}

// target is the topic of t's events: the replacement when t's default
// topic matches, else "".
func (r *route) target(t *sluice.Table) (string, error) {
	db := t.DB
	if db == "" {
		db = r.db
	}
	from := r.tmpl.Expand(r.prefix, db, t.Schema, t.Name)
	m := r.re.FindStringSubmatchIndex(from)
	if m == nil {
		return "", nil
	}
	topic := string(r.re.ExpandString(nil, r.repl, from, m))
	if !topicName.MatchString(topic) {
		return "", fmt.Errorf("topic_replacement: %q (from %s) is not a Kafka topic name: letters, digits, '.', '_' and '-', at most 249", topic, from)
	}
	return topic, nil
}
