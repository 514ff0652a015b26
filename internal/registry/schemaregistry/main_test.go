package schemaregistry

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them (an
// ID still retrying, an idle connection left open).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
