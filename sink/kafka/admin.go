package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// topicInfo is what the sink learns about a topic on first use.
type topicInfo struct {
	// compacted: cleanup.policy contains "compact", so the broker rejects
	// records without a key (and with them the rest of their batch).
	compacted bool
	// warnedTruncate: a skipped truncate has been logged for the topic.
	warnedTruncate bool
}

// ensureTopic runs before the first record goes to topic: it makes sure the
// topic exists, creating it when topic_creation is enabled, and learns its
// cleanup.policy. It asks the metadata first, so a principal without
// CREATE rights works with topics made in advance. The result is cached;
// the cost is paid once per topic.
func (s *Sink) ensureTopic(ctx context.Context, adm *kadm.Client, topic string) (topicInfo, error) {
	if info, ok := s.known[topic]; ok {
		return info, nil
	}
	tc := &s.cfg.TopicCreation
	create := tc.Enabled
	if create {
		details, err := adm.ListTopics(ctx, topic)
		if err != nil {
			return topicInfo{}, fmt.Errorf("kafka sink: metadata %s: %w", topic, err)
		}
		if d, ok := details[topic]; ok && d.Err == nil {
			create = false
		}
	}
	if !create {
		// An existing topic (or topic creation is off: then franz-go
		// fails records to a missing topic after a few metadata
		// refreshes, and that error reaches the ack).
		info := s.describeTopic(ctx, adm, topic)
		s.known[topic] = info
		return info, nil
	}

	configs := make(map[string]*string, len(tc.Configs)+1)
	for k, v := range tc.Configs {
		configs[k] = kadm.StringPtr(v)
	}
	configs["cleanup.policy"] = kadm.StringPtr(tc.CleanupPolicy)
	resp, err := adm.CreateTopic(ctx, int32(tc.Partitions), int16(tc.ReplicationFactor), configs, topic)
	switch {
	case err == nil:
		s.stats.topicsCreated.Add(1)
		s.log.Info("created topic", zap.String("topic", topic),
			zap.Int32("partitions", resp.NumPartitions),
			zap.Int16("replication_factor", resp.ReplicationFactor),
			zap.String("cleanup_policy", tc.CleanupPolicy))
	case errors.Is(err, kerr.TopicAlreadyExists):
		// Created meanwhile by someone else, with their settings.
		info := s.describeTopic(ctx, adm, topic)
		s.known[topic] = info
		return info, nil
	default:
		if resp.ErrMessage != "" {
			err = fmt.Errorf("%w: %s", err, resp.ErrMessage)
		}
		return topicInfo{}, classify(fmt.Errorf("kafka sink: create topic %s (partitions %d, replication factor %d): %w",
			topic, tc.Partitions, tc.ReplicationFactor, err))
	}
	info := topicInfo{compacted: strings.Contains(tc.CleanupPolicy, "compact")}
	s.known[topic] = info
	return info, nil
}

// describeTopic reads the cleanup.policy of a topic the sink did not
// create. When it cannot (no DescribeConfigs permission, topic missing),
// the topic is treated as not compacted and the broker has the last word.
func (s *Sink) describeTopic(ctx context.Context, adm *kadm.Client, topic string) topicInfo {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err == nil {
		var rc kadm.ResourceConfig
		if rc, err = rcs.On(topic, nil); err == nil && rc.Err == nil {
			for _, c := range rc.Configs {
				if c.Key == "cleanup.policy" {
					return topicInfo{compacted: strings.Contains(c.MaybeValue(), "compact")}
				}
			}
			return topicInfo{}
		} else if err == nil {
			err = rc.Err
		}
	}
	s.log.Debug("cannot read topic configs", zap.String("topic", topic), zap.Error(err))
	return topicInfo{}
}
