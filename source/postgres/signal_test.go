package postgres

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// badRequests are snapshot requests the source must refuse, with a word
// its error must contain. Tables not captured would let a signal read
// any relation sluice's role can (pg_authid: password hashes); a filter
// pasted into the chunk query would run any SQL as that role.
var badRequests = []struct {
	table, filter, want string
}{
	{"pg_catalog.pg_authid", "", "not captured"},
	{"public.sig_other", "", "not captured"},
	{"public.sluice_signal_sec", "", "signal table"},
	{"public.sluice_state", "", "state table"},
	{"public.sig_ok", "1=1; DROP TABLE sig_victim", "';'"},
	{"public.sig_ok", "id > 0; DROP TABLE sig_victim", "';'"},
	{"public.sig_ok", "id IN (SELECT oid FROM pg_authid)", "sub-select"},
	{"public.sig_ok", "pg_sleep(10) IS NULL", "function"},
	{"public.sig_ok", "id > 0 OR pg_sleep(10) IS NOT NULL", "function"},
	{"public.sig_ok", "id::text = '1'", "cast"},
	{"public.sig_ok", "id = 1 -- and more", "comment"},
	{"public.sig_ok", "nosuch > 1", `no column "nosuch"`},
	{"public.sig_ok", "id > 'abc'", "invalid input"},
	{"public.sig_ok", "id > 1 AND", "end of the filter"},
}

// TestSnapshotRequestsRefused: `sluice snapshot` (SignalSnapshot) and
// signal rows inserted by hand ask only for captured tables with a filter
// of the restricted grammar; anything else is refused with an error that
// says why, and refused signals are reported as failed snapshots while
// the stream goes on.
func TestSnapshotRequestsRefused(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS sig_ok; CREATE TABLE sig_ok (id int PRIMARY KEY, v bigint, name text)`)
	h.exec(`INSERT INTO sig_ok SELECT g, g, 'r' || g FROM generate_series(1, 100) g`)
	h.exec(`DROP TABLE IF EXISTS sig_other; CREATE TABLE sig_other (id int PRIMARY KEY)`)
	h.exec(`DROP TABLE IF EXISTS sig_victim; CREATE TABLE sig_victim (id int PRIMARY KEY)`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_sec`)
	h.dropAtEnd("sig_ok", "sig_other", "sig_victim", "sluice_signal_sec")
	h.startStreaming(map[string]any{"tables": []any{"public.sig_ok"}, "signal_table": "public.sluice_signal_sec",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 7}})
	ctx := context.Background()

	for _, r := range badRequests {
		err := signalSnapshot(ctx, h.src, []string{r.table}, r.filter)
		if err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("snapshot of %s where %q: got %v, want an error saying %s", r.table, r.filter, err, r.want)
		}
	}
	var exists bool
	if err := h.db.QueryRow(ctx, "SELECT to_regclass('public.sig_victim') IS NOT NULL").Scan(&exists); err != nil || !exists {
		t.Fatalf("sig_victim was dropped (%v)", err)
	}

	// The same requests written into the signal table directly.
	for i, r := range badRequests {
		data := `{"data-collections": ["` + r.table + `"], "additional-conditions": [{"data-collection": "` + r.table + `", "filter": ` + jsonString(r.filter) + `}]}`
		h.exec(`INSERT INTO sluice_signal_sec VALUES ($1, 'execute-snapshot', $2)`, "bad-"+string(rune('a'+i)), data)
	}
	// A valid request after them still runs, with every part of the
	// grammar.
	filter := "id > 90 AND (v BETWEEN 1 AND 95 OR v IS NULL) AND name LIKE 'r%' AND NOT id IN (93, 94) AND name IS NOT NULL"
	if err := signalSnapshot(ctx, h.src, []string{"public.sig_ok"}, filter); err != nil {
		t.Fatal(err)
	}
	evs := h.c.WaitFor("3 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r >= 3 && h.snapshotIdle() })
	var ids []int64
	for _, ev := range evs {
		if ev.Op == sluice.OpRead {
			if ev.Table.Name != "sig_ok" {
				t.Fatalf("read a row of %s.%s", ev.Table.Schema, ev.Table.Name)
			}
			ids = append(ids, ev.After[0].Int)
		}
	}
	if len(ids) != 3 || ids[0] != 91 || ids[1] != 92 || ids[2] != 95 {
		t.Errorf("read ids %v, want [91 92 95]", ids)
	}
	failed := 0
	for _, j := range h.src.SnapshotProgress() {
		if j.Failed {
			failed++
			if j.Error == "" {
				t.Errorf("failed snapshot of %s without a reason", j.Table)
			}
		}
	}
	if failed != len(badRequests) {
		t.Errorf("%d refused signals reported as failed snapshots, want %d", failed, len(badRequests))
	}
	if err := h.db.QueryRow(ctx, "SELECT to_regclass('public.sig_victim') IS NOT NULL").Scan(&exists); err != nil || !exists {
		t.Fatalf("sig_victim was dropped (%v)", err)
	}
}

// TestSnapshotRequestsCheckedAgainstPublication: without a table list the
// captured tables are those of the publication.
func TestSnapshotRequestsCheckedAgainstPublication(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS sig_pub_a; CREATE TABLE sig_pub_a (id int PRIMARY KEY)`)
	h.exec(`DROP TABLE IF EXISTS sig_pub_b; CREATE TABLE sig_pub_b (id int PRIMARY KEY)`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_pub; CREATE TABLE sluice_signal_pub (id text PRIMARY KEY, type text NOT NULL, data text)`)
	h.dropAtEnd("sig_pub_a", "sig_pub_b", "sluice_signal_pub")
	h.exec(`CREATE PUBLICATION sluice_` + h.name + ` FOR TABLE sig_pub_a, sluice_signal_pub`)
	src := h.newSource(map[string]any{"signal_table": "public.sluice_signal_pub"})
	ctx := context.Background()
	if err := signalSnapshot(ctx, src, []string{"public.sig_pub_a"}, "id > 1"); err != nil {
		t.Errorf("a table of the publication: %v", err)
	}
	for _, table := range []string{"public.sig_pub_b", "pg_catalog.pg_authid", "public.sluice_signal_pub"} {
		if err := signalSnapshot(ctx, src, []string{table}, ""); err == nil {
			t.Errorf("%s: a snapshot request of a table outside the publication was accepted", table)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
