package join

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them: the
// store's goroutines must end when the join closes.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
