package mysql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
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
		testenv.Missing(t, fmt.Sprintf("the test server cannot create old-format TIME columns (MariaDB's mysql56_temporal_format): %v", err))
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

// TestEnumSetLatin1: ENUM and SET labels of a latin1 table stream as the
// snapshot reads them, in UTF-8, and the schema's allowed labels are the
// same UTF-8 text from both: the table map holds the labels in latin1.
func TestEnumSetLatin1(t *testing.T) {
	h := newHarness(t)
	const table = "enumset_latin1"
	h.exec("DROP TABLE IF EXISTS "+table,
		"CREATE TABLE "+table+" (id int PRIMARY KEY, e enum('café','thé'), s set('crème','brûlée','à la mode')) CHARSET latin1",
		"INSERT INTO "+table+" VALUES (1, 'café', 'crème,brûlée'), (2, 'thé', 'à la mode')")
	h.dropAfter(table)
	h.start(map[string]any{"tables": []any{table}, "snapshot": map[string]any{"mode": "initial"}})
	h.wait(2)
	h.streaming()
	h.exec("INSERT INTO "+table+" SELECT id + 10, e, s FROM "+table+" ORDER BY id",
		"UPDATE "+table+" SET e = 'café', s = 'brûlée,à la mode' WHERE id = 12")
	evs := h.wait(5)
	wantRows := [][2]string{{"café", "crème,brûlée"}, {"thé", "à la mode"}}
	for i, w := range wantRows {
		rd, st := evs[i], evs[2+i]
		if rd.Op != sluice.OpRead || st.Op != sluice.OpCreate {
			t.Fatalf("row %d: ops %s and %s, want r and c", i+1, rd.Op, st.Op)
		}
		for _, ev := range []*sluice.Event{rd, st} {
			if e, s := string(ev.After[1].Bytes), string(ev.After[2].Bytes); e != w[0] || s != w[1] {
				t.Errorf("%s of row %d: e %q, s %q; want %q, %q", ev.Op, ev.After[0].Int, e, s, w[0], w[1])
			}
		}
	}
	if u := evs[4]; u.Op != sluice.OpUpdate || string(u.Before[1].Bytes) != "thé" || string(u.After[1].Bytes) != "café" ||
		string(u.After[2].Bytes) != "brûlée,à la mode" {
		t.Errorf("update: %s %q → %q, s %q", u.Op, u.Before[1].Bytes, u.After[1].Bytes, u.After[2].Bytes)
	}
	wantEnum := map[string]string{"e": "café|thé", "s": "crème|brûlée|à la mode"}
	for _, ev := range []*sluice.Event{evs[0], evs[2]} {
		for _, c := range ev.Table.Columns[1:] {
			if got := strings.Join(c.Enum, "|"); got != wantEnum[c.Name] {
				t.Errorf("%s event: column %s allows %q, want %q", ev.Op, c.Name, c.Enum, wantEnum[c.Name])
			}
		}
	}
}
