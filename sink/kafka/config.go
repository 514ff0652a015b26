package kafka

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/internal/lz4frame"
	"github.com/sluice-cdc/sluice/internal/registry/schemaregistry"
	"github.com/sluice-cdc/sluice/sink"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Config is the YAML configuration of a kafka sink. Every key is optional
// except brokers. See testdata/example.yaml for a complete commented
// example.
type Config struct {
	// Type is the sink type, "kafka"; read by the runner to pick this
	// package and otherwise ignored.
	Type string `yaml:"type"`

	// Brokers are the seed brokers, "host:port". Required. Kafka:
	// bootstrap.servers.
	Brokers []string `yaml:"brokers"`

	// Topic is the topic template for table events (see Topic for the
	// placeholders). Default "{prefix}.{schema}.{table}", Debezium's
	// default topic naming (topic.naming.strategy DefaultTopicNamingStrategy).
	Topic string `yaml:"topic"`

	// MessageTopic is the topic template for logical decoding messages;
	// only {prefix} and {db} may be used. Default "{prefix}.message", the
	// topic Debezium's PostgreSQL connector writes messages to.
	MessageTopic string `yaml:"message_topic"`

	// TombstonesOnDelete follows every delete with a tombstone (same key,
	// null value) so log compaction can drop the key. Default true.
	// Debezium: tombstones.on.delete.
	TombstonesOnDelete bool `yaml:"tombstones_on_delete"`

	// TopicCreation controls creating topics on first use.
	TopicCreation TopicCreation `yaml:"topic_creation"`

	// Compression is the batch compression codec: none, gzip, snappy,
	// lz4 or zstd. Default lz4. Kafka: compression.type.
	Compression string `yaml:"compression"`

	// Linger is how long a partition's batch waits for more records before
	// it is sent, as a Go duration. Default 5ms. Kafka: linger.ms.
	Linger time.Duration `yaml:"linger"`

	// BatchMaxBytes bounds one record batch (uncompressed), in bytes.
	// Default 1048576 (1 MiB); must not exceed the topic's
	// max.message.bytes (broker default 1048588). A single record larger
	// than this fails. Kafka: roughly batch.size's upper bound together
	// with max.request.size.
	BatchMaxBytes int `yaml:"batch_max_bytes"`

	// MaxBufferedRecords is how many records may wait for Kafka's reply
	// before Write blocks: the sink's backpressure point. A delete with
	// its tombstone counts as two. Default 10000. Kafka: the closest Java
	// setting is buffer.memory, which bounds bytes instead.
	MaxBufferedRecords int `yaml:"max_buffered_records"`

	// HealthCheckInterval is how often the sink asks a broker for
	// metadata to tell whether the cluster is reachable; while the last
	// probe failed the sink, and so the daemon's /readyz, reports
	// not-ready. Default 5s, 100ms to 1h.
	HealthCheckInterval time.Duration `yaml:"health_check_interval"`

	// ClientID is sent to the brokers with every request and shows up in
	// their logs and quotas. Default "sluice". Kafka: client.id.
	ClientID string `yaml:"client_id"`

	// TLS configures encryption (Kafka: security.protocol SSL / SASL_SSL).
	TLS TLS `yaml:"tls"`

	// SASL configures authentication (Kafka: security.protocol SASL_*,
	// sasl.mechanism, sasl.jaas.config).
	SASL SASL `yaml:"sasl"`

	// Format is how keys and values are serialized: json (default, the
	// pipeline's encoding settings) or avro (Confluent's wire format: a
	// zero byte, the schema id in four bytes, the Avro body; schemas in
	// the registry below). Debezium: key.converter / value.converter.
	Format string `yaml:"format"`

	// Registry is the schema registry of format avro (Confluent's API;
	// Apicurio serves it under /apis/ccompat/v7).
	Registry RegistryConfig `yaml:"registry"`

	// ExactlyOnce writes in Kafka transactions that also commit the
	// source position (exactly.go). Default false (at-least-once).
	ExactlyOnce bool `yaml:"exactly_once"`
	// Transactions configures exactly_once.
	Transactions Transactions `yaml:"transactions"`
}

// RegistryConfig is the registry block (internal/registry/schemaregistry).
type RegistryConfig = schemaregistry.Config

// TopicCreation is how topics are created the first time an event needs
// them (Debezium: topic.creation.* with the "default" group).
type TopicCreation struct {
	// Enabled creates missing topics with the settings below. Default
	// true. Turn it off when the sink's principal may not create topics
	// and they are made in advance. Debezium: topic.creation.enable.
	Enabled bool `yaml:"enabled"`
	// Partitions is the partition count of a created topic; -1 uses the
	// broker's num.partitions. Default 1. Debezium:
	// topic.creation.default.partitions.
	Partitions int `yaml:"partitions"`
	// ReplicationFactor of a created topic; -1 (the default) uses the
	// broker's default.replication.factor, so a production cluster's
	// durability setting is not overridden. Debezium:
	// topic.creation.default.replication.factor.
	ReplicationFactor int `yaml:"replication_factor"`
	// CleanupPolicy is the topic's cleanup.policy: compact, delete or
	// "compact,delete". Default delete (Kafka's own default), which accepts
	// every event; compact keeps the latest row per key forever and drops
	// deleted rows after their tombstone. A compacted
	// topic cannot hold records without a key: truncates are then not
	// sent, and rows of tables without a key fail (ErrNullKeyCompacted).
	// Debezium: topic.creation.default.cleanup.policy.
	CleanupPolicy string `yaml:"cleanup_policy"`
	// Configs are further topic configs, e.g. {"retention.ms": "604800000"}.
	// cleanup.policy must be set with CleanupPolicy instead. Default none.
	// Debezium: topic.creation.default.<config>.
	Configs map[string]string `yaml:"configs"`
}

// TLS, SASL and Secret are the connection settings every Kafka client of
// sluice shares (see internal/kafkaconn).
type (
	TLS    = kafkaconn.TLS
	SASL   = kafkaconn.SASL
	Secret = kafkaconn.Secret
)

// Defaults returns a Config with every default filled in and no brokers
// (config.Defaulter: the block is decoded over it).
func (Config) Defaults() Config {
	return Config{
		Topic:              sink.DefaultTopic,
		MessageTopic:       sink.DefaultMessageTopic,
		TombstonesOnDelete: true,
		TopicCreation: TopicCreation{
			Enabled:           true,
			Partitions:        1,
			ReplicationFactor: -1,
			CleanupPolicy:     "delete",
		},
		Compression:         "lz4",
		Linger:              5 * time.Millisecond,
		BatchMaxBytes:       1 << 20,
		MaxBufferedRecords:  10000,
		HealthCheckInterval: 5 * time.Second,
		ClientID:            "sluice",
		Format:              FormatJSON,
		Transactions:        Transactions{}.defaults(),
		// Registry stays zero: its client fills the defaults, and an
		// auto_register the YAML leaves out may then follow use_latest.
	}
}

// The serialization formats.
const (
	FormatJSON = "json"
	FormatAvro = "avro"
)

var compressions = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// CompressionOpt is the producer option for the compression name, one
// of the sink's compression values: the sink's producer and the
// benchmark's Kafka ceiling compress alike. lz4 frames are written by
// lz4frame, which skips the copies and the content checksum of franz-go's
// lz4 writer; Kafka reads them as its own.
func CompressionOpt(name string) kgo.Opt {
	if name == "lz4" {
		return kgo.WithCompressor(new(lz4frame.Compressor))
	}
	return kgo.ProducerBatchCompression(compressions[name])
}

// validate checks everything that can be checked without I/O. Each error
// names its full key under path.
func (c *Config) validate(path string) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", sink.JoinKey(path, key), fmt.Sprintf(format, args...)))
	}
	if len(c.Brokers) == 0 {
		bad("brokers", "required: at least one host:port")
	}
	for i, b := range c.Brokers {
		if strings.TrimSpace(b) == "" {
			bad(fmt.Sprintf("brokers[%d]", i), "empty broker address")
		}
	}
	if _, ok := compressions[c.Compression]; !ok {
		bad("compression", "%q is not one of none, gzip, snappy, lz4, zstd", c.Compression)
	}
	if c.Linger < 0 || c.Linger > time.Minute {
		bad("linger", "must be between 0s and 1m0s, got %s", c.Linger)
	}
	if c.BatchMaxBytes < 512 || c.BatchMaxBytes > 1<<30 {
		bad("batch_max_bytes", "must be between 512 and 1073741824, got %d", c.BatchMaxBytes)
	}
	if c.HealthCheckInterval < 100*time.Millisecond || c.HealthCheckInterval > time.Hour {
		bad("health_check_interval", "must be between 100ms and 1h0m0s, got %s", c.HealthCheckInterval)
	}
	if c.MaxBufferedRecords < 1 || c.MaxBufferedRecords > 10_000_000 {
		bad("max_buffered_records", "must be between 1 and 10000000, got %d", c.MaxBufferedRecords)
	}
	tc := &c.TopicCreation
	if tc.Partitions == 0 || tc.Partitions < -1 || tc.Partitions > 1<<31-1 {
		bad("topic_creation.partitions", "must be at least 1, or -1 for the broker default; got %d", tc.Partitions)
	}
	if tc.ReplicationFactor == 0 || tc.ReplicationFactor < -1 || tc.ReplicationFactor > 1<<15-1 {
		bad("topic_creation.replication_factor", "must be at least 1, or -1 for the broker default; got %d", tc.ReplicationFactor)
	}
	switch tc.CleanupPolicy {
	case "compact", "delete", "compact,delete", "delete,compact":
	default:
		bad("topic_creation.cleanup_policy", "%q is not one of compact, delete, \"compact,delete\"", tc.CleanupPolicy)
	}
	if _, ok := tc.Configs["cleanup.policy"]; ok {
		bad("topic_creation.configs.cleanup.policy", "set it with topic_creation.cleanup_policy")
	}
	for k := range tc.Configs {
		if strings.TrimSpace(k) == "" {
			bad("topic_creation.configs", "empty config name")
		}
	}
	for _, p := range kafkaconn.Validate(c.TLS, c.SASL) {
		bad(p.Key, "%s", p.Msg)
	}
	switch c.Format {
	case FormatJSON:
		if c.Registry.URL != "" {
			bad("registry", "set only with format: avro")
		}
	case FormatAvro:
		for _, p := range c.Registry.Validate() {
			bad("registry."+p.Key, "%s", p.Msg)
		}
	default:
		bad("format", "%q is not one of json, avro", c.Format)
	}
	c.validateExactly(bad)
	return errors.Join(errs...)
}

// clientOpts turns a validated Config into franz-go options. It reads the
// TLS files, so it runs in Open, not New.
func (c *Config) clientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		// acks=all; idempotence is franz-go's default and is kept on, so
		// the client's own retries never duplicate or reorder records.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// Keyed records go to toPositive(murmur2(key)) % partitions,
		// exactly what the Java client's BuiltInPartitioner (and the
		// DefaultPartitioner before it) computes, so sluice and Java
		// producers agree on the partition of a key: franz-go's
		// UniformBytesPartitioner with keys=true and a nil hasher uses
		// KafkaHasher(murmur2), whose murmur2 is a port of Kafka's
		// Utils.murmur2 (pkg/kgo/partitioner.go) and passes Kafka's
		// UtilsTest vectors; KafkaHasher masks the sign bit as
		// Utils.toPositive does. Records without a key (truncate) are
		// spread like Java's KIP-794 uniform sticky partitioner. This is
		// franz-go's default, spelled out so it cannot drift.
		kgo.RecordPartitioner(kgo.UniformBytesPartitioner(64<<10, true, true, nil)),
		CompressionOpt(c.Compression),
		kgo.ProducerLinger(c.Linger),
		kgo.ProducerBatchMaxBytes(int32(c.BatchMaxBytes)),
		kgo.MaxBufferedRecords(c.MaxBufferedRecords),
		// RecordRetries and RecordDeliveryTimeout stay at franz-go's
		// unlimited defaults: a record is retried until it is written or
		// the client is closed; the runner decides when to give up.
	}
	conn, err := kafkaconn.Opts(c.TLS, c.SASL)
	if err != nil {
		return nil, fmt.Errorf("kafka sink: %w", err)
	}
	return append(opts, conn...), nil
}
