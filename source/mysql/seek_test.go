package mysql

import (
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestSeekAfter: a source told the position an exactly-once sink
// committed resumes after it although its stored offset is behind, and
// stores it; a position of another server is ignored.
func TestSeekAfter(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS seek_rows", "CREATE TABLE seek_rows (id int PRIMARY KEY)")
	t.Cleanup(func() { h.exec("DROP TABLE IF EXISTS seek_rows") })
	cfg := func() map[string]any { return map[string]any{"tables": []string{"seek_rows"}} }

	// An offset to start from, then three transactions it stays behind.
	h.start(cfg())
	h.streaming()
	h.exec("INSERT INTO seek_rows VALUES (0)")
	h.wait(1)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	h.start(cfg(), testenv.HoldMarks())
	h.streaming()
	h.exec("INSERT INTO seek_rows VALUES (1)", "INSERT INTO seek_rows VALUES (2)", "INSERT INTO seek_rows VALUES (3)")
	h.wait(3)
	second := h.c.MarkAfter(func(ev *sluice.Event) bool { return ev.After[0].Int == 2 }) // row 2's commit
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}

	run := func(pos *sluice.Position) []int64 {
		t.Helper()
		h.src = h.newSource(cfg())
		if pos != nil {
			h.src.SeekAfter(*pos)
		}
		h.c = testenv.Collect(t, h.src, testenv.HoldMarks())
		h.streaming()
		got := testenv.IDs(h.wait(0))
		if err := h.stop(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	other := second
	other.Epoch = "mariadb:999999"
	if got := run(&other); len(got) != 3 || got[0] != 1 {
		t.Fatalf("with another server's position: rows %v, want 1 2 3", got)
	}
	if got := run(&second); len(got) != 1 || got[0] != 3 {
		t.Fatalf("after the second transaction: rows %v, want 3 only", got)
	}
	// The position taken was stored: a plain restart resumes there too.
	if got := run(nil); len(got) != 1 || got[0] != 3 {
		t.Fatalf("restart after the seek: rows %v, want 3 only", got)
	}
}
