package mysql

import (
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestConformance runs the checks every source must pass
// (testenv.SourceConformance) against the test server.
func TestConformance(t *testing.T) {
	testenv.SourceConformance(t, conformance{newHarness(t)})
}

// conformance adapts the harness to testenv.ConformanceHarness. Its
// sources share the offset file in the test's temporary directory.
type conformance struct{ *harness }

func (h conformance) Exec(stmts ...string) {
	h.t.Helper()
	h.exec(stmts...)
}

// NewSource stores a confirmed position every 20 ms and when it stops; a
// short drain_timeout keeps a stop with held marks short.
func (h conformance) NewSource(table string) sluice.Source {
	h.src = h.newSource(map[string]any{"tables": []any{table}, "drain_timeout": "200ms",
		"offsets": map[string]any{"flush_interval": "20ms"}})
	return h.src
}

func (h conformance) Streaming(c *testenv.Collector) {
	h.c = c
	h.streaming()
}
