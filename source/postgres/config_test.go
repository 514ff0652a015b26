package postgres

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/source"
)

func testEnv() source.Env {
	return source.Env{Pipeline: "shop", Path: "src", Logger: zap.NewNop(), StateDir: "state"}
}

// The documented example must build, and it documents the defaults.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	s, err := source.Build(New, raw, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	want := Config{}.Defaults()
	want.Type, want.DSN = "postgres", "postgres://sluice@127.0.0.1:55432/sluice"
	want.Slot, want.Publication = "sluice_shop", "sluice_shop"
	got := s.cfg
	if len(got.Tables) == 0 {
		got.Tables = nil
	}
	if len(got.State.Brokers) == 0 {
		got.State.Brokers = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("example config = %+v\nwant defaults %+v", got, want)
	}
}

func TestValidate(t *testing.T) {
	min := func() map[string]any { return map[string]any{"dsn": "postgres://u@h/db"} }
	with := func(kv ...any) map[string]any {
		m := min()
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name string
		raw  map[string]any
		errs []string // substrings; nil: valid
	}{
		{"defaults", min(), nil},
		{"missing dsn", map[string]any{}, []string{"src.dsn: required"}},
		{"bad slot", with("slot", "Bad-Slot"), []string{"src.slot"}},
		{"bad publication", with("publication", "x y"), []string{"src.publication"}},
		{"bad table", with("tables", []any{"a.b.c"}), []string{"src.tables[0]"}},
		{"zero durations", with("status_interval", "0s", "drain_timeout", "-1s"), []string{"src.status_interval", "src.drain_timeout"}},
		{"bad snapshot", with("snapshot", map[string]any{"mode": "sometimes", "chunk_size": 0, "workers": -1}),
			[]string{"src.snapshot.mode", "src.snapshot.chunk_size", "src.snapshot.workers"}},
		{"bad signal table", with("signal_table", "a.b.c"), []string{"src.signal_table"}},
		{"empty table list", with("tables", []any{}), []string{"src.tables: empty: list at least one table, or write `tables: all`"}},
		{"all with names", with("tables", []any{"all", "public.a"}), []string{"src.tables[0]: `all` cannot be combined"}},
		{"huge chunk", with("snapshot", map[string]any{"chunk_size": int64(9223372036854775807)}), []string{"src.snapshot.chunk_size: must be between 1 and 1000000"}},
		{"too many workers", with("snapshot", map[string]any{"workers": 100000}), []string{"src.snapshot.workers: must be between 1 and 64, got 100000"}},
		{"tiny status interval", with("status_interval", "1ns"), []string{"src.status_interval: must be between 100ms and 10m0s, got 1ns"}},
		{"negative drain", with("drain_timeout", "-5s"), []string{"src.drain_timeout: must be between"}},
		{"bad state store", with("state", map[string]any{"store": "disk"}), []string{"src.state.store: \"disk\" is not table, kafka or file"}},
		{"kafka store without brokers", with("state", map[string]any{"store": "kafka", "topic": ""}),
			[]string{"src.state.brokers: required for the kafka store", "src.state.topic: must not be empty"}},
		{"bad state table", with("state", map[string]any{"table": "a.b.c"}), []string{"src.state.table"}},
		{"state table captured", with("tables", []any{"public.orders", "sluice_state"}), []string{"src.tables[1]: sluice_state is the state table"}},
		{"state table is the signal table", with("signal_table", "public.sluice_state"), []string{"src.state.table: public.sluice_state is the signal table too"}},
		{"state tls without enabled", with("state", map[string]any{"store": "kafka", "brokers": []any{"k:9092"}, "tls": map[string]any{"ca_file": "ca.pem"}}),
			[]string{"src.state.tls.enabled"}},
		{"unknown key and bad value at once", with("slots", "x", "tables", []any{""}), []string{"src.slots: unknown key", "src.tables[0]"}},
	}
	for _, tables := range [][]any{nil, {"all"}} {
		raw := min()
		if tables != nil {
			raw["tables"] = tables
		}
		if s, err := source.Build(New, raw, testEnv()); err != nil || s.cfg.Tables != nil {
			t.Errorf("tables %v: %v, tables %v; want every table (nil)", tables, err, s.cfg.Tables)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := source.Build(New, tc.raw, testEnv())
			if tc.errs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if s.cfg.Slot != "sluice_shop" || s.cfg.Publication != "sluice_shop" || !s.cfg.Messages || s.cfg.Snapshot.Workers != 1 ||
					s.cfg.State.Store != "table" || s.cfg.State.Table != "public.sluice_state" || s.cfg.State.Topic != "sluice_offsets" {
					t.Errorf("defaults not filled: %+v", s.cfg)
				}
				return
			}
			if s != nil {
				t.Errorf("a source was built despite errors")
			}
			for _, want := range tc.errs {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v, want one containing %q", err, want)
				}
			}
		})
	}
}

// TestPasswordFile: password_file's content (without its line break) is
// the connection's password; both keys, or a missing file, are errors
// naming the key and never showing a value.
func TestPasswordFile(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/pw"
	if err := os.WriteFile(file, []byte("canary-s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := source.Build(New, map[string]any{"dsn": "postgres://u@h/db", "password_file": file}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if s.connCf.Password != "canary-s3cr3t" {
		t.Fatalf("password %q", s.connCf.Password)
	}
	for _, c := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"dsn": "postgres://u@h/db", "password": "canary-x", "password_file": file}, "src.password_file: set password or password_file, not both"},
		{map[string]any{"dsn": "postgres://u@h/db", "password_file": dir + "/missing"}, "src.password_file: open"},
	} {
		_, err := source.Build(New, c.raw, testEnv())
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "canary") {
			t.Errorf("%v: %v, want %q", c.raw, err, c.want)
		}
	}
}
