// Package signalchan delivers signals to a running source from outside
// its own signal table: a Kafka signal topic (Debezium's Kafka signal
// channel) and the record format the admin endpoint shares with it. The
// source acts on them through sluice.SignalReceiver.
//
// The Kafka channel is for sources whose database the CDC user may not
// write: the operator, or a tool written for Debezium, produces a record
// keyed by the pipeline's name (or its topic prefix) and sluice acts on it.
package signalchan

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
)

// Config is a pipeline's signals block: the channels besides the source's
// signal table.
type Config struct {
	// Kafka reads signals from a topic; nil: no Kafka channel.
	Kafka *KafkaConfig `yaml:"kafka"`
}

// KafkaConfig is signals.kafka.
type KafkaConfig struct {
	// Brokers are the seed brokers (host:port). Required.
	Brokers []string `yaml:"brokers"`
	// Topic is the signal topic, created with one partition when it is
	// missing. Required. Debezium: signal.kafka.topic.
	Topic string `yaml:"topic"`
	// Group is the consumer group whose committed offset says which
	// signals were handled. Default sluice-signals-<pipeline>: every
	// pipeline reads the whole topic and keeps the records keyed for it.
	Group string `yaml:"group"`
	// ClientID is sent to the brokers. Default "sluice".
	ClientID string `yaml:"client_id"`
	// SessionTimeout is how long the group waits for a member that
	// stopped answering (kill -9) before a new one may take the topic
	// over. Default 10s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// TLS and SASL are as the kafka sink's.
	TLS  kafkaconn.TLS  `yaml:"tls"`
	SASL kafkaconn.SASL `yaml:"sasl"`
}

// Env is what the pipeline gives its channels.
type Env struct {
	// Pipeline is the pipeline's name, the key its signal records carry.
	Pipeline string
	// TopicPrefix is the pipeline's topic_prefix, accepted as a key too:
	// Debezium keys signal records by topic.prefix.
	TopicPrefix string
	// Path is the config key of the signals block, for errors.
	Path   string
	Logger *zap.Logger
	// Signals counts what the channels deliver (sluice.ChannelKafka).
	Signals *sluice.SignalCounter
}

// New decodes a pipeline's signals block and returns its Kafka channel,
// or nil when the block configures none. Like the plugins' constructors
// it does no I/O.
func New(raw map[string]any, env Env) (*Kafka, error) {
	var cfg Config
	// A decoding error still lets the rest be validated, so one run
	// reports every problem.
	decErr := config.Decode(raw, &cfg, env.Path)
	if cfg.Kafka == nil {
		return nil, decErr
	}
	k := *cfg.Kafka
	if k.Group == "" {
		k.Group = "sluice-signals-" + env.Pipeline
	}
	if k.ClientID == "" {
		k.ClientID = "sluice"
	}
	if k.SessionTimeout == 0 {
		k.SessionTimeout = 10 * time.Second
	}
	if err := errors.Join(decErr, k.validate(env.Path+".kafka")); err != nil {
		return nil, err
	}
	log := env.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Kafka{cfg: k, pipeline: env.Pipeline, prefix: env.TopicPrefix, counter: env.Signals,
		log: log.With(zap.String("component", "signals"), zap.String("topic", k.Topic))}, nil
}

// validate returns one error per problem, each naming its key under path.
func (c *KafkaConfig) validate(path string) error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("%s.brokers: required", path))
	}
	if strings.TrimSpace(c.Topic) == "" {
		errs = append(errs, fmt.Errorf("%s.topic: required", path))
	}
	for _, p := range kafkaconn.Validate(c.TLS, c.SASL) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, p.Key, p.Msg))
	}
	errs = config.Collect(errs, config.DurationIn(path+".session_timeout", c.SessionTimeout, time.Second, time.Hour))
	return errors.Join(errs...)
}

// clip shortens b for a log line or an error: a malformed record may be
// large, and its whole value helps nobody.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return fmt.Sprintf("%s… (%d bytes)", b[:n], len(b))
}
