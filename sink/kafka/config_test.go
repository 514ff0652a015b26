package kafka

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/eventtest/sinktest"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

const testPath = "pipelines.shop.sinks.kafka"

func testEnv(t testing.TB) sink.Env { return sinktest.Env(t, testPath) }

func TestNewConfig(t *testing.T) {
	min := func() map[string]any { return map[string]any{"type": "kafka", "brokers": []any{"127.0.0.1:9092"}} }
	with := func(kv ...any) map[string]any { return testenv.With(min(), kv...) }
	sinktest.RunConfigCases(t, New, testPath, []sinktest.ConfigCase[Config]{
		{
			Name: "defaults",
			Raw:  min(),
			Check: func(t *testing.T, c Config) {
				want := Config{}.Defaults()
				want.Type = "kafka"
				want.Brokers = []string{"127.0.0.1:9092"}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("config = %+v\nwant %+v", c, want)
				}
			},
		},
		{
			Name: "overrides",
			Raw: with("linger", "20ms", "compression", "zstd", "tombstones_on_delete", false,
				"topic_creation", map[string]any{"partitions": 6, "replication_factor": -1, "configs": map[string]any{"retention.ms": "1000"}},
				"sasl", map[string]any{"mechanism": "scram-sha-512", "username": "u", "password": "hunter2"}),
			Check: func(t *testing.T, c Config) {
				if c.Linger != 20*time.Millisecond || c.Compression != "zstd" || c.TombstonesOnDelete {
					t.Errorf("linger/compression/tombstones = %v %q %v", c.Linger, c.Compression, c.TombstonesOnDelete)
				}
				tc := c.TopicCreation
				if tc.Partitions != 6 || tc.ReplicationFactor != -1 || !tc.Enabled || tc.CleanupPolicy != "delete" || tc.Configs["retention.ms"] != "1000" {
					t.Errorf("topic_creation = %+v", tc)
				}
				if got := fmt.Sprintf("%+v %#v", c, c); strings.Contains(got, "hunter2") {
					t.Errorf("password printed: %s", got)
				}
			},
		},
		{Name: "missing brokers", Raw: map[string]any{"type": "kafka"}, WantErr: []string{testPath + ".brokers: required"}},
		{Name: "empty broker", Raw: with("brokers", []any{"a:1", ""}), WantErr: []string{testPath + ".brokers[1]: empty"}},
		{Name: "brokers wrong type", Raw: with("brokers", 5), WantErr: []string{testPath + ".brokers"}},
		{Name: "unknown key", Raw: with("bootstrap_servers", "x"), WantErr: []string{testPath + ".bootstrap_servers: unknown key"}},
		{Name: "unknown nested key", Raw: with("tls", map[string]any{"enable": true}), WantErr: []string{testPath + ".tls.enable: unknown key"}},
		{Name: "bad compression", Raw: with("compression", "brotli"), WantErr: []string{testPath + `.compression: "brotli" is not one of none, gzip, snappy, lz4, zstd`}},
		{Name: "bad linger", Raw: with("linger", "soon"), WantErr: []string{testPath + ".linger"}},
		{Name: "negative linger", Raw: with("linger", "-1s"), WantErr: []string{testPath + ".linger: must be between 0s and 1m0s"}},
		{Name: "tiny batch", Raw: with("batch_max_bytes", 10), WantErr: []string{testPath + ".batch_max_bytes"}},
		{Name: "zero buffered", Raw: with("max_buffered_records", 0), WantErr: []string{testPath + ".max_buffered_records"}},
		{Name: "zero partitions", Raw: with("topic_creation", map[string]any{"partitions": 0}), WantErr: []string{testPath + ".topic_creation.partitions"}},
		{Name: "bad replication", Raw: with("topic_creation", map[string]any{"replication_factor": -2}), WantErr: []string{testPath + ".topic_creation.replication_factor"}},
		{Name: "bad cleanup", Raw: with("topic_creation", map[string]any{"cleanup_policy": "forever"}), WantErr: []string{testPath + ".topic_creation.cleanup_policy"}},
		{Name: "cleanup in configs", Raw: with("topic_creation", map[string]any{"configs": map[string]any{"cleanup.policy": "delete"}}), WantErr: []string{testPath + ".topic_creation.configs.cleanup.policy"}},
		{Name: "tls off with files", Raw: with("tls", map[string]any{"ca_file": "/ca.pem"}), WantErr: []string{testPath + ".tls.enabled"}},
		{Name: "tls cert without key", Raw: with("tls", map[string]any{"enabled": true, "cert_file": "/c.pem"}), WantErr: []string{testPath + ".tls: cert_file and key_file"}},
		{Name: "sasl bad mechanism", Raw: with("sasl", map[string]any{"mechanism": "GSSAPI", "username": "u"}), WantErr: []string{testPath + `.sasl.mechanism: "GSSAPI"`}},
		{Name: "sasl no username", Raw: with("sasl", map[string]any{"mechanism": "PLAIN", "password": "p"}), WantErr: []string{testPath + ".sasl.username: required"}},
		{Name: "sasl no mechanism", Raw: with("sasl", map[string]any{"username": "u"}), WantErr: []string{testPath + ".sasl.mechanism: required"}},
		{Name: "topic placeholder", Raw: with("topic", "{prefix}.{tbl}"), WantErr: []string{testPath + ".topic: ", "unknown placeholder {tbl}"}},
		{Name: "topic bad char", Raw: with("topic", "cdc/{table}"), WantErr: []string{testPath + ".topic: ", `'/'`}},
		{Name: "message topic with table", Raw: with("message_topic", "{prefix}.{table}"), WantErr: []string{testPath + ".message_topic: logical messages have no table"}},
		{
			Name:    "several errors at once",
			Raw:     map[string]any{"compression": "brotli", "topic_creation": map[string]any{"partitions": -5}},
			WantErr: []string{testPath + ".brokers: required", testPath + ".compression", testPath + ".topic_creation.partitions"},
		},
	})
}

// The documented example must parse, and it documents the defaults.
func TestExampleConfig(t *testing.T) {
	s, err := sink.Build(New, testenv.ExampleConfig(t), testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{}.Defaults()
	want.Type = "kafka"
	want.Brokers = []string{"127.0.0.1:59092"}
	want.TopicCreation.Configs = map[string]string{"min.compaction.lag.ms": "0"}
	if got := s.Config(); !reflect.DeepEqual(got, want) {
		t.Errorf("example config = %+v\nwant defaults %+v", got, want)
	}
}

func TestRegistered(t *testing.T) {
	sinktest.Registered(t, "kafka", map[string]any{"brokers": []any{"b:1"}}, testEnv(t))
}

func TestWriteBeforeOpen(t *testing.T) {
	s, err := sink.Build(New, map[string]any{"brokers": []any{"b:1"}}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	sinktest.WriteBeforeOpen(t, s, insertEvent(1, "a"), ErrNotOpen)
}
