package elasticsearch

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/sink"
)

const testPath = "pipelines.shop.sinks.search"

func testEnv(t testing.TB) sink.Env {
	t.Helper()
	enc, err := codec.New(codec.Options{Name: "shopserver", Connector: "postgresql", DB: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	return sink.Env{Pipeline: "shop", Path: testPath, Encoder: enc, Logger: zap.NewNop()}
}

func TestNewConfig(t *testing.T) {
	min := func() map[string]any {
		return map[string]any{"type": "elasticsearch", "urls": []any{"http://127.0.0.1:9200"}}
	}
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
				if c.Index != want.Index || c.Truncate != TruncateDeleteDocuments || c.StateIndex != "sluice-state" ||
					c.Bulk != want.Bulk || c.Retry != want.Retry || !c.CreateIndices || c.JSONHandling != JSONString ||
					c.IndexTemplate.Name != "sluice-shop" || c.RequestTimeout != 30*time.Second {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "overrides and secrets",
			raw: with("username", "elastic", "password", "hunter2", "api_key", "c2VjcmV0", "refresh", "wait_for",
				"bulk", map[string]any{"max_actions": 10, "flush_interval": "5s"}, "json_handling", "object",
				"columns", map[string]any{"public.orders": []any{"id", "note"}}),
			check: func(t *testing.T, c Config) {
				if c.Bulk.MaxActions != 10 || c.Bulk.FlushInterval != 5*time.Second || c.Bulk.MaxInFlight != 2 || c.JSONHandling != JSONObject {
					t.Errorf("config = %+v", c)
				}
				if got := fmt.Sprintf("%+v %#v %v", c, c, c); strings.Contains(got, "hunter2") || strings.Contains(got, "c2VjcmV0") {
					t.Errorf("secret printed: %s", got)
				}
				if r, _ := c.refreshParam(); r != "wait_for" {
					t.Errorf("refresh %q", r)
				}
			},
		},
		{name: "refresh as bool", raw: with("refresh", true), check: func(t *testing.T, c Config) {
			if r, _ := c.refreshParam(); r != "true" {
				t.Errorf("refresh %q", r)
			}
		}},
		{name: "fixed index: truncate fails by default", raw: with("index", "everything"), check: func(t *testing.T, c Config) {
			if c.Truncate != TruncateFail {
				t.Errorf("truncate %q", c.Truncate)
			}
		}},
		{name: "missing urls", raw: map[string]any{"type": "elasticsearch"}, wantErr: []string{testPath + ".urls: required"}},
		{name: "bad url scheme", raw: with("urls", []any{"ftp://x"}), wantErr: []string{testPath + ".urls[0]: scheme"}},
		{name: "url without host", raw: with("urls", []any{"http://"}), wantErr: []string{testPath + ".urls[0]: no host"}},
		{name: "unknown key", raw: with("hosts", "x"), wantErr: []string{testPath + ".hosts: unknown key"}},
		{name: "unknown nested key", raw: with("bulk", map[string]any{"size": 1}), wantErr: []string{testPath + ".bulk.size: unknown key"}},
		{name: "password without user", raw: with("password", "p"), wantErr: []string{testPath + ".username: required"}},
		{name: "cert without key", raw: with("tls", map[string]any{"cert_file": "/c.pem"}), wantErr: []string{testPath + ".tls: cert_file and key_file"}},
		{name: "bad index template", raw: with("index", "Shop-{table}"), wantErr: []string{testPath + ".index: ", "not allowed"}},
		{name: "unknown placeholder", raw: with("index", "{tbl}"), wantErr: []string{testPath + ".index: ", "{tbl}"}},
		{name: "bad truncate", raw: with("truncate", "drop"), wantErr: []string{testPath + `.truncate: "drop"`}},
		{name: "bad json handling", raw: with("json_handling", "map"), wantErr: []string{testPath + ".json_handling"}},
		{name: "bad columns key", raw: with("columns", map[string]any{"orders": []any{"id"}}), wantErr: []string{testPath + ".columns.orders: key must be schema.table"}},
		{name: "bad state index", raw: with("state_index", "State"), wantErr: []string{testPath + ".state_index"}},
		{name: "bad refresh", raw: with("refresh", "sometimes"), wantErr: []string{testPath + ".refresh"}},
		{name: "zero in flight", raw: with("bulk", map[string]any{"max_in_flight": 0}), wantErr: []string{testPath + ".bulk.max_in_flight"}},
		{name: "backoff order", raw: with("retry", map[string]any{"initial_backoff": "5s", "max_backoff": "1s"}), wantErr: []string{testPath + ".retry.max_backoff"}},
		{name: "bad duration", raw: with("request_timeout", "soon"), wantErr: []string{testPath + ".request_timeout"}},
		{name: "dlq topic without brokers", raw: with("dead_letter", map[string]any{"kafka": map[string]any{"topic": "t"}}), wantErr: []string{testPath + ".dead_letter.kafka.brokers: required"}},
		{
			name:    "several errors at once",
			raw:     map[string]any{"truncate": "x", "bulk": map[string]any{"max_actions": 0}},
			wantErr: []string{testPath + ".urls: required", testPath + ".truncate", testPath + ".bulk.max_actions"},
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

// The documented example must parse and validate.
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
	c := s.Config()
	def := Config{}.Defaults()
	if c.Bulk != def.Bulk || c.Retry != def.Retry || c.Index != def.Index || c.StateIndex != def.StateIndex ||
		c.Truncate != TruncateDeleteDocuments || len(c.Columns["public.customers"]) != 4 {
		t.Errorf("example config = %+v", c)
	}
}

// Secrets can come from the environment only, with the key path that
// config.Parse binds from the registered schema.
func TestSecretsFromEnvironment(t *testing.T) {
	t.Setenv("SLUICE_PIPELINES_SHOP_SINKS_SEARCH_PASSWORD", "from-env")
	t.Setenv("SLUICE_PIPELINES_SHOP_SINKS_SEARCH_API_KEY", "key-from-env")
	f, err := config.Parse([]byte(`
pipelines:
  shop:
    source: {type: postgres, dsn: "postgres://u@127.0.0.1/db"}
    sinks:
      search:
        type: elasticsearch
        urls: [http://127.0.0.1:9200]
        username: elastic
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sink.Build(New, f.Pipelines["shop"].Sinks["search"], testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c.Password != "from-env" || c.APIKey != "key-from-env" {
		t.Errorf("password/api key not taken from the environment")
	}
}

func TestRegistered(t *testing.T) {
	f, err := sink.Lookup("elasticsearch")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f(map[string]any{"urls": []any{"http://es:9200"}}, testEnv(t)); err != nil {
		t.Fatal(err)
	}
}

func TestWriteBeforeOpen(t *testing.T) {
	s, err := sink.Build(New, map[string]any{"urls": []any{"http://es:9200"}}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	var acks []error
	err = s.Write(t.Context(), insertEvent(1, "a", 1, "b"), func(err error) { acks = append(acks, err) })
	if err != ErrNotOpen || len(acks) != 1 || acks[0] != ErrNotOpen {
		t.Fatalf("Write before Open = %v, acks %v; want ErrNotOpen once", err, acks)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("Close before Open: %v", err)
	}
	if err := s.Ready(); err != ErrNotOpen {
		t.Errorf("Ready before Open = %v", err)
	}
}

// Open fails (for the runner to retry) when nothing answers.
func TestOpenUnreachable(t *testing.T) {
	s, err := sink.Build(New, map[string]any{"urls": []any{"http://127.0.0.1:1"}, "request_timeout": "1s"}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Open(t.Context())
	if err == nil || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("Open = %v", err)
	}
}
