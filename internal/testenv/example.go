package testenv

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// ExampleConfig returns the plugin's documented example block,
// testdata/example.yaml of the package under test, decoded the way the
// config file's blocks are, for a test to build the plugin from it.
func ExampleConfig(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatalf("testdata/example.yaml: %v", err)
	}
	return raw
}

// With returns block with the keys and values of kv (key, value, key,
// value …) set over it: the raw block of a config test case.
func With(block map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		block[kv[i].(string)] = kv[i+1]
	}
	return block
}
