package mysql

import (
	"fmt"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// oldTimes are TIME values around zero and at the ends of TIME's range.
var oldTimes = []string{"00:00:00", "01:02:03", "-01:00:00", "-838:59:59", "838:59:59", "-00:00:01"}

// TestOldTimeStream: a TIME column of the format before MySQL 5.6.4,
// which MariaDB creates with mysql56_temporal_format=OFF, streams
// negative times as the snapshot reads them, from the row decoder and
// from go-mysql's (compressed row events): the server stores HHMMSS as
// a signed 24-bit integer.
func TestOldTimeStream(t *testing.T) {
	t.Run("plain", func(t *testing.T) { testOldTimeStream(t, false) })
	t.Run("compressed", func(t *testing.T) { testOldTimeStream(t, true) })
}

func testOldTimeStream(t *testing.T, compressed bool) {
	h := newHarness(t)
	r, err := h.db.Execute("SELECT @@global.mysql56_temporal_format")
	if err != nil {
		t.Skipf("the server cannot create old-format TIME columns: %v", err)
	}
	on, err := r.GetInt(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	table := "oldtime_" + map[bool]string{false: "plain", true: "compressed"}[compressed]
	h.exec("DROP TABLE IF EXISTS " + table)
	h.dropAfter(table)
	// The variable is global: set only around the CREATE TABLE, which
	// fixes the column's format.
	h.exec("SET GLOBAL mysql56_temporal_format = OFF")
	_, err = h.db.Execute("CREATE TABLE " + table + " (id int PRIMARY KEY, t time)")
	h.exec(fmt.Sprintf("SET GLOBAL mysql56_temporal_format = %d", on))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range oldTimes {
		h.exec(fmt.Sprintf("INSERT INTO %s VALUES (%d, '%s')", table, i+1, s))
	}
	h.start(map[string]any{"tables": []any{table}, "snapshot": map[string]any{"mode": "initial"}})
	h.wait(len(oldTimes))
	h.streaming()
	if compressed {
		h.compressBinlog()
	}
	h.exec(fmt.Sprintf("INSERT INTO %s SELECT id + 10, t FROM %s ORDER BY id", table, table))
	evs := h.wait(2 * len(oldTimes))
	for i, s := range oldTimes {
		want, err := parseTime([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		rd, st := evs[i], evs[len(oldTimes)+i]
		if rd.Op != sluice.OpRead || st.Op != sluice.OpCreate {
			t.Fatalf("%s: ops %s and %s, want r and c", s, rd.Op, st.Op)
		}
		if rd.After[1].Int != want || st.After[1].Int != want {
			t.Errorf("%s: snapshot %d µs, stream %d µs, want %d", s, rd.After[1].Int, st.After[1].Int, want)
		}
	}
}
