package config

import (
	"strings"
	"testing"
	"time"
)

const valid = `
log: {level: debug, format: console}
pipelines:
  Shop:
    source:
      type: postgres
      dsn: postgres://sluice@127.0.0.1:5432/shop
    sinks:
      kafka:
        brokers: [127.0.0.1:9092]
      print: {type: stdout}
`

func TestParseDefaultsAndSinkTypes(t *testing.T) {
	f, err := Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := f.Pipelines["Shop"]
	if !ok {
		t.Fatalf("pipelines = %v, want the name as written, Shop", f.PipelineNames())
	}
	if p.TopicPrefix != "Shop" || p.Capacity != 8192 {
		t.Errorf("defaults: topic_prefix %q capacity %d", p.TopicPrefix, p.Capacity)
	}
	if p.Sinks["kafka"]["type"] != "kafka" || p.Sinks["print"]["type"] != "stdout" {
		t.Errorf("sink types: %v", p.Sinks)
	}
	if f.HTTP.Listen != "127.0.0.1:9187" {
		t.Errorf("admin endpoints must default to loopback, got %q", f.HTTP.Listen)
	}
	if f.Log.Level != "debug" || f.Log.Format != "console" {
		t.Errorf("log = %+v", f.Log)
	}
}

func init() {
	// The plugins register these from their own packages.
	RegisterSchema("source", "postgres", struct {
		Password string `yaml:"password"`
	}{})
	RegisterSchema("sink", "kafka", struct {
		SASL struct {
			Password string `yaml:"password"`
		} `yaml:"sasl"`
	}{})
}

func TestEnvironmentOverrides(t *testing.T) {
	t.Setenv("SLUICE_PIPELINES_SHOP_SOURCE_PASSWORD", "s3cret")
	t.Setenv("SLUICE_PIPELINES_SHOP_CAPACITY", "64")
	t.Setenv("SLUICE_LOG_LEVEL", "warn")
	t.Setenv("SLUICE_PIPELINES_SHOP_SINKS_KAFKA_SASL_PASSWORD", "k4fka")
	f, err := Parse([]byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	p := f.Pipelines["Shop"]
	if got := p.Source["password"]; got != "s3cret" {
		t.Errorf("source password from env = %v", got)
	}
	if p.Capacity != 64 {
		t.Errorf("capacity from env = %d", p.Capacity)
	}
	if f.Log.Level != "warn" {
		t.Errorf("log level from env = %q", f.Log.Level)
	}
	sasl, _ := p.Sinks["kafka"]["sasl"].(map[string]any)
	if sasl["password"] != "k4fka" {
		t.Errorf("sasl password from env = %v", p.Sinks["kafka"])
	}
}

// Keys are data: a block keeps every key as written, in its case, with
// dots, and an empty block is still there.
func TestKeysKeepTheirCaseAndEmptyBlocksStay(t *testing.T) {
	const doc = `
pipelines:
  Legacy.DB:
    source:
      type: postgres
      dsn: postgres://x@h/db
      tables: ["Sales.\"Order Lines\"", public.MixedCase]
    sinks:
      stdout: {}
      print:
      search:
        type: elasticsearch
        columns: {Sales.OrderLines: [ID, Note], public.MixedCase: [Name]}
        topic_creation: {configs: {min.compaction.lag.ms: "0"}}
`
	t.Setenv("SLUICE_PIPELINES_LEGACY.DB_SINKS_PRINT_TYPE", "stdout")
	f, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := f.Pipelines["Legacy.DB"]
	if !ok {
		t.Fatalf("pipelines = %v, want Legacy.DB", f.PipelineNames())
	}
	for _, s := range []string{"stdout", "print", "search"} {
		if _, ok := p.Sinks[s]; !ok {
			t.Errorf("sink %q vanished: %v", s, p.Sinks)
		}
	}
	if p.Sinks["print"]["type"] != "stdout" {
		t.Errorf("the environment did not set the type of the empty block print: %v", p.Sinks["print"])
	}
	cols, _ := p.Sinks["search"]["columns"].(map[string]any)
	if _, ok := cols["Sales.OrderLines"]; !ok {
		t.Errorf("columns lost the table's case: %v", cols)
	}
	if got, _ := cols["public.MixedCase"].([]any); len(got) != 1 || got[0] != "Name" {
		t.Errorf("columns of public.MixedCase = %v", cols["public.MixedCase"])
	}
	tc, _ := p.Sinks["search"]["topic_creation"].(map[string]any)
	configs, _ := tc["configs"].(map[string]any)
	if configs["min.compaction.lag.ms"] != "0" {
		t.Errorf("a key with dots was split: %v", tc)
	}
	if tables, _ := p.Source["tables"].([]any); len(tables) != 2 || tables[0] != `Sales."Order Lines"` {
		t.Errorf("tables = %v", p.Source["tables"])
	}
}

func TestParseErrorsNameKeyAndLine(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown top-level key", "logg: 1\npipelines: {}", []string{"line 1: logg: unknown key", "pipelines: required"}},
		{"wrong type", "log:\n  level: [a]\npipelines:\n  p:\n    source: {type: postgres}\n    sinks: {stdout: {}}",
			[]string{"line 2: log.level:"}},
		{"bad enum", "log: {format: xml}\npipelines:\n  p:\n    source: {type: postgres}\n    sinks: {stdout: {}}",
			[]string{`log.format: "xml" is not one of json, console`}},
		{"missing source and sinks", "pipelines:\n  p:\n    capacity: 10", []string{"line 2: pipelines.p.source: required", "line 2: pipelines.p.sinks: required"}},
		{"source without type", "pipelines:\n  p:\n    source: {dsn: x}\n    sinks: {stdout: {}}", []string{"line 3: pipelines.p.source.type: required"}},
		{"yaml syntax", "pipelines: [\n", []string{"yaml: line"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDecodeStrict(t *testing.T) {
	type inner struct {
		CA string `yaml:"ca_file"`
	}
	type cfg struct {
		Brokers []string      `yaml:"brokers"`
		N       int           `yaml:"n"`
		D       time.Duration `yaml:"d"`
		On      bool          `yaml:"on"`
		TLS     inner         `yaml:"tls"`
	}
	var c cfg
	err := Decode(map[string]any{"brokers": "a,b", "n": "7", "d": "5s", "on": "true", "tls": map[string]any{"ca_file": "x"}}, &c, "p")
	if err != nil || len(c.Brokers) != 2 || c.N != 7 || c.D != 5*time.Second || !c.On || c.TLS.CA != "x" {
		t.Fatalf("decode = %+v, %v", c, err)
	}
	err = Decode(map[string]any{"n": "seven", "brokr": 1, "tls": map[string]any{"ca_fle": "x"}}, &c, "p")
	for _, w := range []string{`p.n: cannot parse "seven" as int`, "p.brokr: unknown key", "p.tls.ca_fle: unknown key"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	if n := len(Flatten(err)); n != 3 {
		t.Errorf("want one error per problem (3), got %d: %v", n, err)
	}
}

// Numbers that YAML reads as floats, bare numbers for durations, and
// values outside a key's documented range are errors naming the key.
func TestNumbersOutOfRange(t *testing.T) {
	const head = "pipelines:\n  p:\n    source: {type: postgres}\n    sinks: {stdout: {}}\n"
	cases := []struct {
		name, yaml, want string
	}{
		{"capacity as float", head + "    capacity: 1e11\n", "pipelines.p.capacity: must be between 1 and 1048576, got 100000000000"},
		{"capacity beyond int64", head + "    capacity: 1e30\n", "pipelines.p.capacity: 1e+30 is not a whole number"},
		{"fractional capacity", head + "    capacity: 2.5\n", "pipelines.p.capacity: 2.5 is not a whole number"},
		{"zero capacity", head + "    capacity: 0\n", "pipelines.p.capacity: must be between 1 and 1048576, got 0"},
		{"negative capacity", head + "    capacity: -3\n", "pipelines.p.capacity: must be between 1 and 1048576, got -3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	type durs struct {
		D time.Duration `yaml:"d"`
		N int           `yaml:"n"`
		U uint16        `yaml:"u"`
	}
	for _, c := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"d": 10}, "p.d: 10 is not a duration: write it with a unit"},
		{map[string]any{"d": 1.5}, "p.d: 1.5 is not a duration"},
		{map[string]any{"n": 4096.5}, "p.n: 4096.5 is not a whole number"},
		{map[string]any{"u": 70000.0}, "p.u: 70000 is not a whole number that fits uint16"},
		{map[string]any{"u": -1.0}, "p.u: -1 is not a whole number that fits uint16"},
	} {
		var d durs
		if err := Decode(c.raw, &d, "p"); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%v) = %v, want %q", c.raw, err, c.want)
		}
	}
	var d durs
	if err := Decode(map[string]any{"d": 0, "n": 4096.0, "u": 7.0}, &d, "p"); err != nil || d.N != 4096 || d.U != 7 {
		t.Errorf("whole floats and a zero duration: %+v, %v", d, err)
	}
}
