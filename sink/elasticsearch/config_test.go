package elasticsearch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/eventtest/sinktest"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

const testPath = "pipelines.shop.sinks.search"

func testEnv(t testing.TB) sink.Env { return sinktest.Env(t, testPath) }

func TestNewConfig(t *testing.T) {
	min := func() map[string]any {
		return map[string]any{"type": "elasticsearch", "urls": []any{"http://127.0.0.1:9200"}}
	}
	with := func(kv ...any) map[string]any { return testenv.With(min(), kv...) }
	sinktest.RunConfigCases(t, New, testPath, []sinktest.ConfigCase[Config]{
		{
			Name: "defaults",
			Raw:  min(),
			Check: func(t *testing.T, c Config) {
				want := Config{}.Defaults()
				if c.Index != want.Index || c.Truncate != TruncateDeleteDocuments || c.StateIndex != "sluice-state" ||
					c.Bulk != want.Bulk || c.Retry != want.Retry || !c.CreateIndices || c.JSONHandling != JSONString ||
					c.IndexTemplate.Name != "sluice-shop" || c.RequestTimeout != 30*time.Second {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			Name: "overrides and secrets",
			Raw: with("username", "elastic", "password", "hunter2", "api_key", "c2VjcmV0", "refresh", "wait_for",
				"bulk", map[string]any{"max_actions": 10, "flush_interval": "5s"}, "json_handling", "object",
				"columns", map[string]any{"public.orders": []any{"id", "note"}}),
			Check: func(t *testing.T, c Config) {
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
		{Name: "refresh as bool", Raw: with("refresh", true), Check: func(t *testing.T, c Config) {
			if r, _ := c.refreshParam(); r != "true" {
				t.Errorf("refresh %q", r)
			}
		}},
		{Name: "fixed index: truncate fails by default", Raw: with("index", "everything"), Check: func(t *testing.T, c Config) {
			if c.Truncate != TruncateFail {
				t.Errorf("truncate %q", c.Truncate)
			}
		}},
		{Name: "missing urls", Raw: map[string]any{"type": "elasticsearch"}, WantErr: []string{testPath + ".urls: required"}},
		{Name: "bad url scheme", Raw: with("urls", []any{"ftp://x"}), WantErr: []string{testPath + ".urls[0]: scheme"}},
		{Name: "url without host", Raw: with("urls", []any{"http://"}), WantErr: []string{testPath + ".urls[0]: no host"}},
		{Name: "unknown key", Raw: with("hosts", "x"), WantErr: []string{testPath + ".hosts: unknown key"}},
		{Name: "unknown nested key", Raw: with("bulk", map[string]any{"size": 1}), WantErr: []string{testPath + ".bulk.size: unknown key"}},
		{Name: "password without user", Raw: with("password", "p"), WantErr: []string{testPath + ".username: required"}},
		{Name: "cert without key", Raw: with("tls", map[string]any{"cert_file": "/c.pem"}), WantErr: []string{testPath + ".tls: cert_file and key_file"}},
		{Name: "bad index template", Raw: with("index", "Shop-{table}"), WantErr: []string{testPath + ".index: ", "not allowed"}},
		{Name: "unknown placeholder", Raw: with("index", "{tbl}"), WantErr: []string{testPath + ".index: ", "{tbl}"}},
		{Name: "bad truncate", Raw: with("truncate", "drop"), WantErr: []string{testPath + `.truncate: "drop"`}},
		{Name: "bad json handling", Raw: with("json_handling", "map"), WantErr: []string{testPath + ".json_handling"}},
		{Name: "bad columns key", Raw: with("columns", map[string]any{"orders": []any{"id"}}), WantErr: []string{testPath + ".columns.orders: key must be schema.table"}},
		{Name: "bad state index", Raw: with("state_index", "State"), WantErr: []string{testPath + ".state_index"}},
		{Name: "bad refresh", Raw: with("refresh", "sometimes"), WantErr: []string{testPath + ".refresh"}},
		{Name: "zero in flight", Raw: with("bulk", map[string]any{"max_in_flight": 0}), WantErr: []string{testPath + ".bulk.max_in_flight"}},
		{Name: "backoff order", Raw: with("retry", map[string]any{"initial_backoff": "5s", "max_backoff": "1s"}), WantErr: []string{testPath + ".retry.max_backoff"}},
		{Name: "bad duration", Raw: with("request_timeout", "soon"), WantErr: []string{testPath + ".request_timeout"}},
		{Name: "dlq topic without brokers", Raw: with("dead_letter", map[string]any{"kafka": map[string]any{"topic": "t"}}), WantErr: []string{testPath + ".dead_letter.kafka.brokers: required"}},
		{
			Name:    "several errors at once",
			Raw:     map[string]any{"truncate": "x", "bulk": map[string]any{"max_actions": 0}},
			WantErr: []string{testPath + ".urls: required", testPath + ".truncate", testPath + ".bulk.max_actions"},
		},
	})
}

// The documented example must parse and validate.
func TestExampleConfig(t *testing.T) {
	s, err := sink.Build(New, testenv.ExampleConfig(t), testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config()
	def := Config{}.Defaults()
	if c.Bulk != def.Bulk || c.Retry != def.Retry || c.Index != def.Index || c.StateIndex != def.StateIndex ||
		c.Truncate != TruncateDeleteDocuments {
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
	sinktest.Registered(t, "elasticsearch", map[string]any{"urls": []any{"http://es:9200"}}, testEnv(t))
}

func TestWriteBeforeOpen(t *testing.T) {
	s, err := sink.Build(New, map[string]any{"urls": []any{"http://es:9200"}}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	sinktest.WriteBeforeOpen(t, s, insertEvent(1, "a", 1, "b"), ErrNotOpen)
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

// TestSecretsFromFiles: password_file and api_key_file are read when the
// sink is built; giving a secret both ways is an error naming the key.
func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	pw, key := filepath.Join(dir, "pw"), filepath.Join(dir, "key")
	if err := os.WriteFile(pw, []byte("canary-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte("canary-key"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func() map[string]any {
		return map[string]any{"urls": []any{"http://127.0.0.1:9200"}, "username": "elastic", "password_file": pw, "api_key_file": key}
	}
	s, err := sink.Build(New, base(), testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c.Password != "canary-pw" || c.APIKey != "canary-key" {
		t.Errorf("secrets not read from their files")
	}
	raw := base()
	raw["password"] = "canary-direct"
	_, err = sink.Build(New, raw, testEnv(t))
	if err == nil || !strings.Contains(err.Error(), "password_file: set password or password_file, not both") || strings.Contains(err.Error(), "canary") {
		t.Errorf("both: %v", err)
	}
}
