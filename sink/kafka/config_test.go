package kafka

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/sink"
)

const testPath = "pipelines.shop.sinks.kafka"

func testEnv(t testing.TB) sink.Env {
	t.Helper()
	enc, err := codec.New(codec.Options{Name: "shopserver", Connector: "postgresql", DB: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	return sink.Env{Pipeline: "shop", Path: testPath, Encoder: enc, Logger: zap.NewNop()}
}

func TestNewConfig(t *testing.T) {
	min := func() map[string]any { return map[string]any{"type": "kafka", "brokers": []any{"127.0.0.1:9092"}} }
	with := func(kv ...any) map[string]any {
		m := min()
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		raw     map[string]any
		wantErr []string // substrings that must all appear; nil: no error
		check   func(t *testing.T, c Config)
	}{
		{
			name: "defaults",
			raw:  min(),
			check: func(t *testing.T, c Config) {
				want := Config{}.Defaults()
				want.Type = "kafka"
				want.Brokers = []string{"127.0.0.1:9092"}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("config = %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "overrides",
			raw: with("linger", "20ms", "compression", "zstd", "tombstones_on_delete", false,
				"topic_creation", map[string]any{"partitions": 6, "replication_factor": -1, "configs": map[string]any{"retention.ms": "1000"}},
				"sasl", map[string]any{"mechanism": "scram-sha-512", "username": "u", "password": "hunter2"}),
			check: func(t *testing.T, c Config) {
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
		{name: "missing brokers", raw: map[string]any{"type": "kafka"}, wantErr: []string{testPath + ".brokers: required"}},
		{name: "empty broker", raw: with("brokers", []any{"a:1", ""}), wantErr: []string{testPath + ".brokers[1]: empty"}},
		{name: "brokers wrong type", raw: with("brokers", 5), wantErr: []string{testPath + ".brokers"}},
		{name: "unknown key", raw: with("bootstrap_servers", "x"), wantErr: []string{testPath + ".bootstrap_servers: unknown key"}},
		{name: "unknown nested key", raw: with("tls", map[string]any{"enable": true}), wantErr: []string{testPath + ".tls.enable: unknown key"}},
		{name: "bad compression", raw: with("compression", "brotli"), wantErr: []string{testPath + `.compression: "brotli" is not one of none, gzip, snappy, lz4, zstd`}},
		{name: "bad linger", raw: with("linger", "soon"), wantErr: []string{testPath + ".linger"}},
		{name: "negative linger", raw: with("linger", "-1s"), wantErr: []string{testPath + ".linger: must be between 0s and 1m0s"}},
		{name: "tiny batch", raw: with("batch_max_bytes", 10), wantErr: []string{testPath + ".batch_max_bytes"}},
		{name: "zero buffered", raw: with("max_buffered_records", 0), wantErr: []string{testPath + ".max_buffered_records"}},
		{name: "zero partitions", raw: with("topic_creation", map[string]any{"partitions": 0}), wantErr: []string{testPath + ".topic_creation.partitions"}},
		{name: "bad replication", raw: with("topic_creation", map[string]any{"replication_factor": -2}), wantErr: []string{testPath + ".topic_creation.replication_factor"}},
		{name: "bad cleanup", raw: with("topic_creation", map[string]any{"cleanup_policy": "forever"}), wantErr: []string{testPath + ".topic_creation.cleanup_policy"}},
		{name: "cleanup in configs", raw: with("topic_creation", map[string]any{"configs": map[string]any{"cleanup.policy": "delete"}}), wantErr: []string{testPath + ".topic_creation.configs.cleanup.policy"}},
		{name: "tls off with files", raw: with("tls", map[string]any{"ca_file": "/ca.pem"}), wantErr: []string{testPath + ".tls.enabled"}},
		{name: "tls cert without key", raw: with("tls", map[string]any{"enabled": true, "cert_file": "/c.pem"}), wantErr: []string{testPath + ".tls: cert_file and key_file"}},
		{name: "sasl bad mechanism", raw: with("sasl", map[string]any{"mechanism": "GSSAPI", "username": "u"}), wantErr: []string{testPath + `.sasl.mechanism: "GSSAPI"`}},
		{name: "sasl no username", raw: with("sasl", map[string]any{"mechanism": "PLAIN", "password": "p"}), wantErr: []string{testPath + ".sasl.username: required"}},
		{name: "sasl no mechanism", raw: with("sasl", map[string]any{"username": "u"}), wantErr: []string{testPath + ".sasl.mechanism: required"}},
		{name: "topic placeholder", raw: with("topic", "{prefix}.{tbl}"), wantErr: []string{testPath + ".topic: ", "unknown placeholder {tbl}"}},
		{name: "topic bad char", raw: with("topic", "cdc/{table}"), wantErr: []string{testPath + ".topic: ", `'/'`}},
		{name: "message topic with table", raw: with("message_topic", "{prefix}.{table}"), wantErr: []string{testPath + ".message_topic: logical messages have no table"}},
		{
			name:    "several errors at once",
			raw:     map[string]any{"compression": "brotli", "topic_creation": map[string]any{"partitions": -5}},
			wantErr: []string{testPath + ".brokers: required", testPath + ".compression", testPath + ".topic_creation.partitions"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sink.Build(New, tt.raw, testEnv(t))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tt.check != nil {
					tt.check(t, s.Config())
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// The documented example must parse, and it documents the defaults.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	s, err := sink.Build(New, raw, testEnv(t))
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
	f, err := sink.Lookup("kafka")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f(map[string]any{"brokers": []any{"b:1"}}, testEnv(t)); err != nil {
		t.Fatal(err)
	}
}

func TestWriteBeforeOpen(t *testing.T) {
	s, err := sink.Build(New, map[string]any{"brokers": []any{"b:1"}}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	var acks []error
	err = s.Write(t.Context(), insertEvent(1, "a"), func(err error) { acks = append(acks, err) })
	if err != ErrNotOpen || len(acks) != 1 || acks[0] != ErrNotOpen {
		t.Fatalf("Write before Open = %v, acks %v; want ErrNotOpen once", err, acks)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("Close before Open: %v", err)
	}
}
