// Package cluster runs a daemon's pipelines as one member of a group of
// sluice processes. The members join one Kafka consumer group; its
// coordinator and a cooperative sticky balancer assign each pipeline to
// exactly one member, and move pipelines when members join, leave or die.
// Kafka's group protocol is the consensus: nothing here elects, locks or
// votes on its own.
//
// A pipeline is a partition of the cluster topic (one partition per
// pipeline, in the order of their sorted names); the topic holds no
// records, its partitions are only what the balancer hands out. The
// group's protocol name carries a fingerprint of the pipeline set, so the
// coordinator refuses a member whose configuration differs
// (INCONSISTENT_GROUP_PROTOCOL) instead of letting two halves split the
// pipelines between two views of them.
package cluster

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
)

// Config is the daemon's `cluster:` block.
type Config struct {
	// Group is the consumer group every member of one cluster joins.
	// Required.
	Group string `yaml:"group"`
	// Brokers are the seed brokers (host:port). Required.
	Brokers []string `yaml:"brokers"`
	// Topic is the cluster topic, one partition per pipeline, created
	// when missing and grown when pipelines are added. Default
	// sluice_cluster_<group>.
	Topic string `yaml:"topic"`
	// Member names this process in logs, /metrics and `sluice cluster
	// status`. Default <hostname>-<pid>.
	Member string `yaml:"member"`
	// SessionTimeout is how long the group waits for a member that
	// stopped answering (kill -9, a lost network) before its pipelines
	// move. A member that leaves (SIGTERM) hands them over at once.
	// Default 10s, between 6s and 5m (the broker's
	// group.min/max.session.timeout.ms must allow it).
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// RebalanceTimeout is how long a member may take to stop the
	// pipelines it hands over (each drains within its drain_timeout).
	// Default 60s, at least 10s.
	RebalanceTimeout time.Duration `yaml:"rebalance_timeout"`
	// TLS and SASL are as the kafka sink's.
	TLS  kafkaconn.TLS  `yaml:"tls"`
	SASL kafkaconn.SASL `yaml:"sasl"`
}

// Parse decodes and validates the block at path ("cluster"), filling the
// defaults. It reports every problem at once.
func Parse(raw map[string]any, path string) (*Config, error) {
	var c Config
	decErr := config.Decode(raw, &c, path)
	if c.Topic == "" && c.Group != "" {
		c.Topic = "sluice_cluster_" + c.Group
	}
	if c.Member == "" {
		host, _ := os.Hostname()
		c.Member = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = 60 * time.Second
	}
	var errs []error
	if strings.TrimSpace(c.Group) == "" {
		errs = append(errs, fmt.Errorf("%s.group: required", path))
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, fmt.Errorf("%s.brokers: required", path))
	}
	if err := config.DurationIn(path+".session_timeout", c.SessionTimeout, 6*time.Second, 5*time.Minute); err != nil {
		errs = append(errs, err)
	}
	if err := config.DurationIn(path+".rebalance_timeout", c.RebalanceTimeout, 10*time.Second, time.Hour); err != nil {
		errs = append(errs, err)
	}
	for _, p := range kafkaconn.Validate(c.TLS, c.SASL) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, p.Key, p.Msg))
	}
	if err := errors.Join(decErr, errors.Join(errs...)); err != nil {
		return nil, err
	}
	return &c, nil
}

// heartbeat is the interval of the group heartbeats: a third of the
// session timeout, at most Kafka's default 3s.
func (c *Config) heartbeat() time.Duration { return min(c.SessionTimeout/3, 3*time.Second) }
