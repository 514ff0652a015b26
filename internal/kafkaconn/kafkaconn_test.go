package kafkaconn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPasswordFile: sasl.password_file is read when the client options
// are made; both keys are a validation problem; a missing file an error.
func TestPasswordFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("canary-s3cr3t\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := SASL{Mechanism: "PLAIN", Username: "u", PasswordFile: file}
	if ps := Validate(TLS{}, s); len(ps) != 0 {
		t.Fatalf("problems %v", ps)
	}
	opts, err := Opts(TLS{}, s)
	if err != nil || len(opts) != 1 {
		t.Fatalf("Opts = %d options, %v", len(opts), err)
	}
	both := s
	both.Password = "x"
	if ps := Validate(TLS{}, both); len(ps) != 1 || ps[0].Key != "sasl.password_file" {
		t.Errorf("both: %v", ps)
	}
	if ps := Validate(TLS{}, SASL{PasswordFile: file}); len(ps) != 1 || ps[0].Key != "sasl.mechanism" {
		t.Errorf("without mechanism: %v", ps)
	}
	missing := s
	missing.PasswordFile = file + ".missing"
	if _, err := Opts(TLS{}, missing); err == nil || !strings.Contains(err.Error(), "sasl.password_file: open") {
		t.Errorf("missing file: %v", err)
	}
}
