package secret

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretNeverPrints: the value does not appear with any fmt verb or
// in JSON.
func TestSecretNeverPrints(t *testing.T) {
	s := Secret("canary-s3cr3t")
	cfg := struct {
		User     string
		Password Secret
	}{"u", s}
	j, _ := json.Marshal(cfg)
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, s), string(j)} {
		if strings.Contains(out, "canary") {
			t.Errorf("printed %s", out)
		}
	}
}

// TestResolve: the value, or the file's content without its line break;
// both, an unreadable or empty file are errors naming the key.
func TestResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("canary-s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := Resolve("direct", "", "password"); err != nil || got != "direct" {
		t.Errorf("direct: %q, %v", string(got), err)
	}
	if got, err := Resolve("", file, "password"); err != nil || got != "canary-s3cr3t" {
		t.Errorf("file: %q, %v", string(got), err)
	}
	for _, c := range []struct {
		v    Secret
		file string
		want string
	}{
		{"x", file, "password_file: set password or password_file, not both"},
		{"", filepath.Join(dir, "missing"), "password_file: open"},
		{"", empty, "password_file: " + empty + " is empty"},
	} {
		_, err := Resolve(c.v, c.file, "password")
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "canary") {
			t.Errorf("%q %q: %v, want %q", string(c.v), c.file, err, c.want)
		}
	}
}
