// Package testenv finds the real services integration tests run against.
// Tests use the real thing (DESIGN.md): outside CI a missing service skips
// the test with a hint how to start it; under CI=true it is a failure, so a
// broken CI environment can never pass by skipping everything.
package testenv

import (
	"net"
	"os"
	"testing"
)

// Get returns the value of the environment variable name, which locates a
// service (e.g. SLUICE_TEST_KAFKA_BROKERS). When it is unset or empty, the
// test fails if CI is "true" and is skipped otherwise.
func Get(t testing.TB, name string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	Missing(t, name+" unset; run scripts/services.sh up")
	return ""
}

// Missing reports a service the test cannot reach: under CI=true it fails
// the test, otherwise it skips it with msg.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing service is a failure)")
		return
	}
	t.Skip(msg)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// for a server a test starts.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
