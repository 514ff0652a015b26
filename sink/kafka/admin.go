package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// ensureTopic makes sure topic exists before the first record goes to it:
// it asks the metadata first (so a principal without CREATE rights works
// with topics made in advance) and creates the topic when it is missing.
// Known topics are cached; the cost is paid once per topic.
func (s *Sink) ensureTopic(ctx context.Context, adm *kadm.Client, topic string) error {
	if _, ok := s.known[topic]; ok {
		return nil
	}
	if !s.cfg.TopicCreation.Enabled {
		// franz-go fails records to a missing topic after a few
		// metadata refreshes (UNKNOWN_TOPIC_OR_PARTITION); that error
		// reaches the ack.
		s.known[topic] = struct{}{}
		return nil
	}
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("kafka sink: metadata %s: %w", topic, err)
	}
	if d, ok := details[topic]; ok && d.Err == nil {
		s.known[topic] = struct{}{}
		return nil
	}
	tc := &s.cfg.TopicCreation
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
		// Created concurrently by someone else: fine.
	default:
		if resp.ErrMessage != "" {
			err = fmt.Errorf("%w: %s", err, resp.ErrMessage)
		}
		return fmt.Errorf("kafka sink: create topic %s (partitions %s, replication factor %s): %w",
			topic, strconv.Itoa(tc.Partitions), strconv.Itoa(tc.ReplicationFactor), err)
	}
	s.known[topic] = struct{}{}
	return nil
}
