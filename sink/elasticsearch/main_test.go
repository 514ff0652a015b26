package elasticsearch

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them, as
// goleak.VerifyTestMain does, after one step it cannot take: the test
// helpers (esTest.do) talk to Elasticsearch through http.DefaultClient,
// whose idle keep-alive connections (a read and a write goroutine each)
// stay open by design for 90 s. They are the harness's, not the sink's,
// so they are closed before the check; the sink's own connections are not
// touched and must be gone by then.
func TestMain(m *testing.M) {
	code := m.Run()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: Errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
