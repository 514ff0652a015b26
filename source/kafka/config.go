package kafka

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/internal/registry/schemaregistry"
)

// Config is the `source:` block of a pipeline with `type: kafka`.
type Config struct {
	// Type is "kafka".
	Type string `yaml:"type"`
	// Brokers are the seed brokers, "host:port" (required).
	// Kafka: bootstrap.servers.
	Brokers []string `yaml:"brokers"`
	// Topics lists the change topics to read; TopicPattern is a regular
	// expression (Go syntax, matched against the whole name) instead, so
	// topics created later are read too. One of the two is required.
	// Kafka Connect: topics / topics.regex.
	Topics       []string `yaml:"topics"`
	TopicPattern string   `yaml:"topic_pattern"`
	// Group is the consumer group; processes with the same group share
	// the partitions (scale-out and failover). Default "sluice-<pipeline>".
	// Kafka: group.id.
	Group string `yaml:"group"`
	// Format is the records' format: json (Debezium's JSON, with or
	// without Connect schemas, told apart per record) or avro (the
	// Confluent wire format through registry). Default json.
	Format string `yaml:"format"`
	// Registry is the schema registry of format avro (url, auth, tls as
	// the kafka sink's registry block).
	Registry schemaregistry.Config `yaml:"registry"`
	// StartFrom is where a group without committed offsets begins:
	// earliest (default: the whole topic, the way to build an index) or
	// latest. Kafka: auto.offset.reset.
	StartFrom string `yaml:"start_from"`
	// DeadLetterTopic receives the records that cannot be read as change
	// events, unchanged, with headers saying where they came from and
	// why (Kafka Connect's __connect.errors.* headers). Created on first
	// use when missing. Default "<group>.dead-letter".
	// Kafka Connect: errors.deadletterqueue.topic.name.
	DeadLetterTopic string `yaml:"dead_letter_topic"`
	// UnavailableValuePlaceholder is the value the capturing connector
	// wrote for an unchanged TOASTed column; such columns are read as
	// unchanged, so a search index keeps what it has. Default Debezium's
	// "__debezium_unavailable_value". Debezium: unavailable.value.placeholder.
	UnavailableValuePlaceholder string `yaml:"unavailable_value_placeholder"`
	// Epoch names the log the events' positions belong to (see the
	// Elasticsearch sink's on_epoch_change). Default: the connector and
	// the capture's topic prefix from each event's source block.
	Epoch string `yaml:"epoch"`
	// Connector and Database are what a sink that writes Debezium's
	// envelope again (a kafka sink behind this source) writes as
	// source.connector and source.db. Defaults postgresql and "".
	Connector string `yaml:"connector"`
	Database  string `yaml:"database"`
	// CommitInterval is how often acknowledged offsets are committed to
	// the group. Default 1s. Offsets are also committed when partitions
	// are taken away and on shutdown.
	CommitInterval time.Duration `yaml:"commit_interval"`
	// SessionTimeout is how long the group waits for a member that
	// stopped answering (kill -9) before its partitions go to the
	// others. Default 10s. Kafka: session.timeout.ms.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// DrainTimeout bounds how long a shutdown waits for the sinks to
	// acknowledge what they hold before the offsets are committed.
	// Default 30s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// ClientID is sent to the brokers. Default "sluice". Kafka: client.id.
	ClientID string `yaml:"client_id"`
	// TLS and SASL are as the kafka sink's.
	TLS  kafkaconn.TLS  `yaml:"tls"`
	SASL kafkaconn.SASL `yaml:"sasl"`
}

// Formats of the records.
const (
	FormatJSON = "json"
	FormatAvro = "avro"
)

// DefaultPlaceholder is Debezium's unavailable.value.placeholder.
const DefaultPlaceholder = "__debezium_unavailable_value"

// Defaults returns the source's defaults (config.Defaulter); the group
// and the dead-letter topic depend on the pipeline's name: New fills them.
func (Config) Defaults() Config {
	return Config{
		Format:                      FormatJSON,
		Registry:                    schemaregistry.Defaults(),
		StartFrom:                   "earliest",
		UnavailableValuePlaceholder: DefaultPlaceholder,
		Connector:                   "postgresql",
		CommitInterval:              time.Second,
		SessionTimeout:              10 * time.Second,
		DrainTimeout:                30 * time.Second,
		ClientID:                    "sluice",
	}
}

// validate returns one error per problem, each naming its key under path.
func (c *Config) validate(path string) error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("%s.brokers: required", path))
	}
	switch {
	case len(c.Topics) == 0 && c.TopicPattern == "":
		errs = append(errs, fmt.Errorf("%s.topics: required (or topic_pattern)", path))
	case len(c.Topics) > 0 && c.TopicPattern != "":
		errs = append(errs, fmt.Errorf("%s.topic_pattern: set topics or topic_pattern, not both", path))
	case c.TopicPattern != "":
		if _, err := regexp.Compile(c.TopicPattern); err != nil {
			errs = append(errs, fmt.Errorf("%s.topic_pattern: %v", path, err))
		}
	}
	for i, t := range c.Topics {
		if t == "" {
			errs = append(errs, fmt.Errorf("%s.topics[%d]: empty", path, i))
		}
	}
	switch c.Format {
	case FormatJSON:
	case FormatAvro:
		if c.Registry.URL == "" {
			errs = append(errs, fmt.Errorf("%s.registry.url: required with format avro", path))
		}
	default:
		errs = append(errs, fmt.Errorf("%s.format: %q is not json or avro", path, c.Format))
	}
	if c.Format == FormatAvro {
		for _, p := range c.Registry.Validate() {
			errs = append(errs, fmt.Errorf("%s.registry.%s: %s", path, p.Key, p.Msg))
		}
	}
	switch c.StartFrom {
	case "earliest", "latest":
	default:
		errs = append(errs, fmt.Errorf("%s.start_from: %q is not earliest or latest", path, c.StartFrom))
	}
	switch c.Connector {
	case "postgresql", "mysql", "mariadb":
	default:
		errs = append(errs, fmt.Errorf("%s.connector: %q is not postgresql, mysql or mariadb", path, c.Connector))
	}
	if c.Group == "" {
		errs = append(errs, fmt.Errorf("%s.group: must not be empty", path))
	}
	if c.DeadLetterTopic == "" {
		errs = append(errs, fmt.Errorf("%s.dead_letter_topic: must not be empty", path))
	}
	for _, p := range kafkaconn.Validate(c.TLS, c.SASL) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, p.Key, p.Msg))
	}
	errs = config.Collect(errs,
		config.DurationIn(path+".commit_interval", c.CommitInterval, 10*time.Millisecond, time.Hour),
		config.DurationIn(path+".session_timeout", c.SessionTimeout, time.Second, time.Hour),
		config.DurationIn(path+".drain_timeout", c.DrainTimeout, 100*time.Millisecond, 24*time.Hour))
	return errors.Join(errs...)
}
