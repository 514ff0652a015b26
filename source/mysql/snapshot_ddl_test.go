package mysql

import (
	"slices"
	"testing"
)

// TestJavaHashOrder: the snapshot writes CREATE TABLE events in the order
// Debezium 3.6.1 wrote them for the fixture's eight tables
// (testdata/golden/debezium/mariadb/*/dbzmaria.jsonl), which is neither
// name nor definition order but its HashSet's.
func TestJavaHashOrder(t *testing.T) {
	sorted := []string{"dbz.all_types", "dbz.composite", "dbz.end_marker", "dbz.nopk", "dbz.rid", "dbz.time_precisions", "dbz.trunc", "dbz.unsigned_key"}
	want := []string{"dbz.composite", "dbz.trunc", "dbz.time_precisions", "dbz.all_types", "dbz.rid", "dbz.nopk", "dbz.unsigned_key", "dbz.end_marker"}
	if got := javaHashOrder(sorted); !slices.Equal(got, want) {
		t.Errorf("javaHashOrder = %v\nwant %v", got, want)
	}
	if got := javaHashOrder(nil); len(got) != 0 {
		t.Errorf("javaHashOrder(nil) = %v", got)
	}
}
