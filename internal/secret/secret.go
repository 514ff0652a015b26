// Package secret holds the type of configuration values that must never
// be shown (passwords, API keys, salts) and reads their *_file variants,
// so that an orchestrator's mounted secrets (Docker and Kubernetes secret
// files) can be used without putting the value in the YAML or the
// environment.
package secret

import (
	"fmt"
	"os"
	"strings"
)

// Secret is a string that prints as "[redacted]" with the fmt verbs and
// in JSON, so a configuration can be logged or printed without leaking
// it. Use string(s) where the value is needed.
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return `"[redacted]"` }

// MarshalJSON keeps the value out of JSON too.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// Resolve returns the secret given either directly (v) or as the path of a
// file holding it (file, the key's *_file variant), never both. The file's
// trailing line breaks are dropped, as secret files usually end with one.
// key is the config key of v, for the error; the error never holds the
// value.
func Resolve(v Secret, file, key string) (Secret, error) {
	switch {
	case file == "":
		return v, nil
	case v != "":
		return "", fmt.Errorf("%s_file: set %s or %s_file, not both", key, key, key)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_file: %w", key, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", fmt.Errorf("%s_file: %s is empty", key, file)
	}
	return Secret(s), nil
}
