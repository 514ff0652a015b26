package kafka

import (
	"testing"

	"github.com/sluice-cdc/sluice/sink"
)

// Created topics take the cluster's replication factor unless the file
// sets one: a default of 1 would silently make production topics
// unreplicated.
func TestTopicsUseTheBrokersReplicationFactor(t *testing.T) {
	for _, c := range []struct {
		raw  map[string]any
		want int
	}{
		{map[string]any{"brokers": []any{"b:1"}}, -1},
		{map[string]any{"brokers": []any{"b:1"}, "topic_creation": map[string]any{"replication_factor": 3}}, 3},
	} {
		s, err := sink.Build(New, c.raw, testEnv(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Config().TopicCreation.ReplicationFactor; got != c.want {
			t.Errorf("replication_factor = %d, want %d", got, c.want)
		}
	}
}
