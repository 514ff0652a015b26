package postgres

import (
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// startSought is startWith for a source told to start after pos, with its
// marks held: nothing is confirmed, so the slot stays where it was.
func (h *harness) startSought(extra map[string]any, pos sluice.Position) {
	h.t.Helper()
	h.waitSlotFree()
	h.src = h.newSource(extra)
	h.src.SeekAfter(pos)
	h.c = testenv.Collect(h.t, h.src, testenv.HoldMarks())
	h.waitSlotActive(h.c)
}

// TestSeekAfter: a source told the position an exactly-once sink
// committed starts after it although the slot is behind; a position of
// another log is ignored.
func TestSeekAfter(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS seek_rows")
	h.exec("CREATE TABLE seek_rows (id int PRIMARY KEY)")
	t.Cleanup(func() { h.exec("DROP TABLE IF EXISTS seek_rows") })
	cfg := map[string]any{"tables": []string{"public.seek_rows"}}

	h.startWith(cfg, testenv.HoldMarks())
	for _, id := range []int{1, 2, 3} { // one transaction each
		h.exec("INSERT INTO seek_rows VALUES ($1)", id)
	}
	h.wait(3)
	second := h.c.MarkAfter(func(ev *sluice.Event) bool { return ev.After[0].Int == 2 }) // row 2's commit
	h.stop()

	// Another log's position: everything again, from the slot. This runs
	// first because a position taken is confirmed to the slot.
	other := second
	other.Epoch = "postgresql:1:1"
	h.startSought(cfg, other)
	if got := testenv.IDs(h.wait(3)); len(got) != 3 || got[0] != 1 {
		t.Fatalf("with another log's position: rows %v, want 1 2 3", got)
	}
	h.stop()

	h.startSought(cfg, second)
	if got := testenv.IDs(h.wait(1)); len(got) != 1 || got[0] != 3 {
		t.Fatalf("after the second transaction: rows %v, want 3 only", got)
	}
	h.stop()
}
