package testenv

import (
	"os"
	"reflect"
	"testing"
)

func TestExampleConfig(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.Mkdir("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/example.yaml", []byte("type: stdout\npretty: true\nbulk: {max_actions: 10}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "stdout", "pretty": true, "bulk": map[string]any{"max_actions": 10}}
	if got := ExampleConfig(t); !reflect.DeepEqual(got, want) {
		t.Errorf("ExampleConfig = %#v, want %#v", got, want)
	}
}

func TestWith(t *testing.T) {
	got := With(map[string]any{"type": "kafka", "linger": "5ms"}, "linger", "20ms", "tls", map[string]any{"enabled": true})
	want := map[string]any{"type": "kafka", "linger": "20ms", "tls": map[string]any{"enabled": true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("With = %v, want %v", got, want)
	}
}
