package testenv

import "testing"

// SameState fails the test unless got, the latest value per key a
// consumer replayed from a change stream, equals want, what the table
// holds at the end. It names a few of the keys that differ.
func SameState(t testing.TB, got, want map[int64]int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("replayed %d keys, the table has %d rows", len(got), len(want))
	}
	bad := 0
	for id, v := range want {
		if g, ok := got[id]; !ok || g != v {
			if bad++; bad <= 5 {
				t.Errorf("key %d: replayed %d (present %v), the table has %d", id, g, ok, v)
			}
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			if bad++; bad <= 10 {
				t.Errorf("key %d was replayed but is not in the table (deleted)", id)
			}
		}
	}
}
