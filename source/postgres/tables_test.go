package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// tableOps lists the events of one table as "op:id" (the int key in
// column 0), in order.
func tableOps(events []*sluice.Event, table string) []string {
	var out []string
	for _, ev := range events {
		if ev.Table == nil || ev.Table.Schema+"."+ev.Table.Name != table {
			continue
		}
		row := ev.After
		if row == nil {
			row = ev.Before
		}
		out = append(out, fmt.Sprintf("%c:%d", ev.Op, row[0].Int))
	}
	return out
}

// pubMembers lists the tables of the test's publication, from the server.
func (h *harness) pubMembers() []string {
	h.t.Helper()
	rows, err := h.db.Query(context.Background(), "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1", "sluice_"+h.name)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, t)
	}
	return out
}

// TestTablesJoinAndLeave: a pipeline capturing a gains b (listed, or
// matched by a pattern) at a restart: b's rows, including a change
// committed while sluice was stopped (before the ALTER PUBLICATION),
// arrive as op "r" and its new changes stream, while a's stream goes on
// from the slot without a gap and without a second snapshot. Then a
// leaves: its changes stop and it leaves the publication; b's go on.
func TestTablesJoinAndLeave(t *testing.T) {
	for _, c := range []struct {
		name  string
		again func(a, b string) []any // the tables of the second start
	}{
		{"listed", func(a, b string) []any { return []any{"public." + a, "public." + b} }},
		{"pattern", func(a, b string) []any { return []any{"public." + strings.TrimSuffix(a, "a") + "*"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			a, b := "tj_"+c.name+"_a", "tj_"+c.name+"_b"
			pa, pb := "public."+a, "public."+b
			h.exec(fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s, %[2]s; CREATE TABLE %[1]s (id int PRIMARY KEY, v text); CREATE TABLE %[2]s (id int PRIMARY KEY, v text);
				INSERT INTO %[1]s SELECT g, 'a' FROM generate_series(1, 3) g; INSERT INTO %[2]s SELECT g, 'b' FROM generate_series(1, 5) g`, a, b))
			h.dropAtEnd(a, b)
			snap := map[string]any{"mode": "initial", "chunk_size": 2}

			// First start: a only, its initial snapshot, then a change.
			h.startWith(map[string]any{"tables": []any{pa}, "snapshot": snap})
			h.c.WaitFor("a's snapshot", func(evs []*sluice.Event) bool { return len(tableOps(evs, pa)) >= 3 })
			h.c.WaitFor("the snapshot's end", func([]*sluice.Event) bool { return h.snapshotIdle() })
			h.exec("INSERT INTO " + a + " VALUES (4, 'a')")
			first := h.wait(4)
			if got, want := tableOps(first, pa), []string{"r:1", "r:2", "r:3", "c:4"}; !slices.Equal(got, want) {
				t.Fatalf("first start: a's events %v, want %v", got, want)
			}
			if got := tableOps(first, pb); len(got) > 0 {
				t.Fatalf("first start: b not captured yet, got %v", got)
			}
			h.stop()

			// While stopped: changes of both; b's is older than its ALTER.
			h.exec("INSERT INTO " + a + " VALUES (5, 'a')")
			h.exec("INSERT INTO " + b + " VALUES (6, 'b')")

			// Second start: b joins.
			h.startWith(map[string]any{"tables": c.again(a, b), "snapshot": snap})
			h.exec("INSERT INTO " + b + " VALUES (7, 'b')")
			h.exec("UPDATE " + a + " SET v = 'x' WHERE id = 1")
			h.c.WaitFor("b's snapshot", func(evs []*sluice.Event) bool {
				return len(tableOps(evs, pb)) >= 7 && len(tableOps(evs, pa)) >= 2
			})
			h.c.WaitFor("the snapshot's end", func([]*sluice.Event) bool { return h.snapshotIdle() })
			second := h.wait(0)
			if got, want := tableOps(second, pa), []string{"c:5", "u:1"}; !slices.Equal(got, want) {
				t.Errorf("second start: a's events %v, want %v (no gap, no snapshot)", got, want)
			}
			var reads, others []string
			for _, op := range tableOps(second, pb) {
				if op[0] == 'r' {
					reads = append(reads, op)
				} else {
					others = append(others, op)
				}
			}
			slices.Sort(reads)
			if want := []string{"r:1", "r:2", "r:3", "r:4", "r:5", "r:6"}; !slices.Equal(reads[:min(len(reads), 6)], want) || len(reads) > 7 {
				t.Errorf("second start: b's reads %v, want %v (and perhaps r:7)", reads, want)
			}
			if !slices.Equal(others, []string{"c:7"}) {
				t.Errorf("second start: b's changes %v, want [c:7]", others)
			}
			for _, ev := range second {
				if ev.Op == sluice.OpRead && ev.Snapshot != sluice.SnapshotIncremental {
					t.Errorf("b's read %v has snapshot %v, want incremental", tableOps([]*sluice.Event{ev}, pb), ev.Snapshot)
					break
				}
			}
			if got := h.pubMembers(); !slices.Equal(got, []string{pa, pb}) {
				t.Errorf("publication holds %v, want %v", got, []string{pa, pb})
			}
			h.stop()

			// Third start: a leaves. Its change made while stopped precedes
			// the ALTER PUBLICATION … DROP TABLE in the WAL, which the
			// walsender decodes with the publication as it was then: the
			// stream drops it.
			h.exec("INSERT INTO " + a + " VALUES (9, 'a')")
			h.startWith(map[string]any{"tables": []any{pb}, "snapshot": snap})
			h.exec("INSERT INTO " + a + " VALUES (8, 'a')")
			h.exec("INSERT INTO " + b + " VALUES (8, 'b')")
			third := h.wait(1)
			if got := tableOps(third, pa); len(got) > 0 {
				t.Errorf("third start: a left, but its events %v arrived", got)
			}
			if got := tableOps(third, pb); !slices.Equal(got, []string{"c:8"}) {
				t.Errorf("third start: b's events %v, want [c:8]", got)
			}
			if got := h.pubMembers(); !slices.Equal(got, []string{pb}) {
				t.Errorf("publication holds %v, want [%s]", got, pb)
			}
		})
	}
}

// TestTablesJoinCrashSafe: a start that dies after it planned b's
// snapshot (before or after altering the publication) leaves b to be
// snapshotted by the next start.
func TestTablesJoinCrashSafe(t *testing.T) {
	for _, c := range []struct {
		name string
		hook func(h *tableHooks, die func() error)
	}{
		{"before_alter", func(h *tableHooks, die func() error) { h.afterPlan = die }},
		{"after_alter", func(h *tableHooks, die func() error) { h.afterSync = die }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			a, b := "tjc_"+c.name+"_a", "tjc_"+c.name+"_b"
			pa, pb := "public."+a, "public."+b
			h.exec(fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s, %[2]s; CREATE TABLE %[1]s (id int PRIMARY KEY); CREATE TABLE %[2]s (id int PRIMARY KEY);
				INSERT INTO %[2]s SELECT generate_series(1, 3)`, a, b))
			h.dropAtEnd(a, b)
			snap := map[string]any{"mode": "initial"}
			h.startWith(map[string]any{"tables": []any{pa}, "snapshot": snap})
			h.stop()

			// A start that dies at the hook.
			died := errors.New("died")
			s := h.newSource(map[string]any{"tables": []any{pa, pb}, "snapshot": snap})
			s.tableHooks = &tableHooks{}
			c.hook(s.tableHooks, func() error { return died })
			if err := s.Run(context.Background(), func(*sluice.Event) error { return nil }); !errors.Is(err, died) {
				t.Fatalf("hooked start returned %v, want the hook's error", err)
			}
			wantPub := []string{pa}
			if c.name == "after_alter" {
				wantPub = []string{pa, pb}
			}
			if got := h.pubMembers(); !slices.Equal(got, wantPub) {
				t.Fatalf("after the hooked start the publication holds %v, want %v", got, wantPub)
			}

			// The next start snapshots b all the same.
			h.startWith(map[string]any{"tables": []any{pa, pb}, "snapshot": snap})
			h.c.WaitFor("b's snapshot", func(evs []*sluice.Event) bool { return len(tableOps(evs, pb)) >= 3 })
			h.c.WaitFor("the snapshot's end", func([]*sluice.Event) bool { return h.snapshotIdle() })
			h.exec("INSERT INTO " + b + " VALUES (4)")
			evs := h.wait(4)
			if got, want := tableOps(evs, pb), []string{"r:1", "r:2", "r:3", "c:4"}; !slices.Equal(got, want) {
				t.Errorf("b's events %v, want %v", got, want)
			}
			if got := h.pubMembers(); !slices.Equal(got, []string{pa, pb}) {
				t.Errorf("publication holds %v", got)
			}
		})
	}
}

// TestTablesPublicationNotOwned: a publication sluice's role does not own
// must change: the start fails with the statements to run by hand.
func TestTablesPublicationNotOwned(t *testing.T) {
	h := newHarness(t)
	const role = "sluice_tables_other"
	pw := newID()
	h.exec(`DROP TABLE IF EXISTS tjo_a, tjo_b; CREATE TABLE tjo_a (id int PRIMARY KEY); CREATE TABLE tjo_b (id int PRIMARY KEY)`)
	h.dropAtEnd("tjo_a", "tjo_b")
	h.exec("DROP ROLE IF EXISTS " + role)
	h.exec("CREATE ROLE " + role + " LOGIN REPLICATION PASSWORD '" + pw + "'")
	t.Cleanup(func() { h.exec("DROP ROLE IF EXISTS " + role) })
	h.exec("CREATE PUBLICATION sluice_" + h.name + " FOR TABLE tjo_a")
	u, err := url.Parse(h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, pw)
	s := h.newSource(map[string]any{"dsn": u.String(), "tables": []any{"public.tjo_a", "public.tjo_b"}, "state": map[string]any{"store": "file"}})
	err = s.Run(context.Background(), func(*sluice.Event) error { return nil })
	want := `ALTER PUBLICATION "sluice_testtablespublicationnotowned" ADD TABLE "public"."tjo_b"`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "does not own it") || !sluice.IsPermanent(err) {
		t.Fatalf("start with a publication owned by another role: %v; want a permanent error naming %s", err, want)
	}
	if got := h.pubMembers(); !slices.Equal(got, []string{"public.tjo_a"}) {
		t.Errorf("publication holds %v, want it unchanged", got)
	}
}

// TestTablesFilterStream: source.tables filters the stream. With a FOR
// ALL TABLES publication, which sluice leaves as it is, a table it does
// not list sends no event; with either publication a partition of a
// listed partitioned table does (its changes arrive under its own name).
func TestTablesFilterStream(t *testing.T) {
	for _, forAll := range []bool{true, false} {
		t.Run(map[bool]string{true: "for_all_tables", false: "managed"}[forAll], func(t *testing.T) {
			h := newHarness(t)
			h.exec(`DROP TABLE IF EXISTS tfa_a, tfa_c, tfa_p; CREATE TABLE tfa_a (id int PRIMARY KEY); CREATE TABLE tfa_c (id int PRIMARY KEY);
				CREATE TABLE tfa_p (id int PRIMARY KEY) PARTITION BY RANGE (id); CREATE TABLE tfa_p1 PARTITION OF tfa_p FOR VALUES FROM (0) TO (100)`)
			h.dropAtEnd("tfa_a", "tfa_c", "tfa_p")
			if forAll {
				h.exec("CREATE PUBLICATION sluice_" + h.name + " FOR ALL TABLES")
			}
			h.start("public.tfa_a", "public.tfa_p")
			h.exec("INSERT INTO tfa_c VALUES (1)")
			h.exec("INSERT INTO tfa_a VALUES (2)")
			h.exec("INSERT INTO tfa_p VALUES (3)")
			evs := h.wait(2)
			var got []string
			for _, ev := range evs {
				got = append(got, fmt.Sprintf("%s.%s:%d", ev.Table.Schema, ev.Table.Name, ev.After[0].Int))
			}
			if want := []string{"public.tfa_a:2", "public.tfa_p1:3"}; !slices.Equal(got, want) {
				t.Errorf("events %v, want %v", got, want)
			}
		})
	}
}
