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
		{"unknown key and bad value at once", with("slots", "x", "tables", []any{""}), []string{"src.slots: unknown key", "src.tables[0]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := source.Build(New, tc.raw, testEnv())
			if tc.errs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if s.cfg.Slot != "sluice_shop" || s.cfg.Publication != "sluice_shop" || !s.cfg.Messages || s.cfg.Snapshot.Workers != 1 {
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
