package postgres

import (
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestConformance runs the checks every source must pass
// (testenv.SourceConformance) against the test database.
func TestConformance(t *testing.T) {
	testenv.SourceConformance(t, conformance{newHarness(t)})
}

// conformance adapts the harness to testenv.ConformanceHarness; the
// harness drops the slot and publication when the test ends.
type conformance struct{ *harness }

func (h conformance) Exec(stmts ...string) {
	h.t.Helper()
	for _, s := range stmts {
		h.exec(s)
	}
}

// NewSource waits for the slot to be free: the previous source's server
// process may still be exiting. A short drain_timeout keeps a stop with
// held marks short.
func (h conformance) NewSource(table string) sluice.Source {
	h.waitSlotFree()
	return h.newSource(map[string]any{"tables": []any{"public." + table}, "drain_timeout": "200ms"})
}

func (h conformance) Streaming(c *testenv.Collector) { h.waitSlotActive(c) }
