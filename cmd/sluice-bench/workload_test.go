package main

import "testing"

// TestSplitRows checks that the paced writers' id ranges are disjoint,
// cover 1..n in order and differ in size by at most one row.
func TestSplitRows(t *testing.T) {
	for _, c := range []struct {
		n, w, writers int
	}{
		{n: 10, w: 1, writers: 1},
		{n: 10, w: 4, writers: 4},
		{n: 3, w: 4, writers: 3}, // fewer rows than writers
		{n: 400000, w: 4, writers: 4},
		{n: 7, w: 0, writers: 1},
	} {
		from, count := splitRows(c.n, c.w)
		if len(from) != c.writers || len(count) != c.writers {
			t.Fatalf("splitRows(%d, %d): %d writers (%d counts), want %d", c.n, c.w, len(from), len(count), c.writers)
		}
		next, lo, hi := 0, c.n, 0
		for k := range from {
			if from[k] != next {
				t.Errorf("splitRows(%d, %d): writer %d starts after id %d, want %d", c.n, c.w, k, from[k], next)
			}
			next = from[k] + count[k]
			lo, hi = min(lo, count[k]), max(hi, count[k])
		}
		if next != c.n {
			t.Errorf("splitRows(%d, %d): ids end at %d, want %d", c.n, c.w, next, c.n)
		}
		if hi-lo > 1 {
			t.Errorf("splitRows(%d, %d): shares from %d to %d rows", c.n, c.w, lo, hi)
		}
	}
}
