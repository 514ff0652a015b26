package postgres

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// TestReadTableMatchesStream: every row ReadTable returns, before Run and
// while Run streams, equals value by value the same row decoded from the
// WAL, and comes with the table description the stream's events carry.
func TestReadTableMatchesStream(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS rt_types; DROP TYPE IF EXISTS rt_mood;
		CREATE TYPE rt_mood AS ENUM ('sad', 'ok', 'happy');
		CREATE TABLE rt_types (
		  id int PRIMARY KEY, name text NOT NULL, amount numeric(12,3), free numeric, at timestamptz, day date,
		  doc jsonb, tags text[], nums int4[], grid int4[][], mood rt_mood, flag bool, ratio float8, blob bytea,
		  opt text, padded char(4), addr inet)`)
	t.Cleanup(func() { h.exec(`DROP TABLE IF EXISTS rt_types; DROP TYPE IF EXISTS rt_mood`) })
	extra := map[string]any{"tables": []string{"public.rt_types"}}
	// A source never run: the pipeline reads tables before Run.
	before := h.newSource(extra)
	if _, rows := eventtest.ReadAll(t, before, "public.rt_types"); len(rows) != 0 {
		t.Fatalf("empty table: got %d rows", len(rows))
	}
	h.startWith(extra)
	inserts := []string{
		`INSERT INTO rt_types VALUES (3, 'Grüezi "Welt"', 123456789.125, 0.1000000000000000000000000001, '2024-01-02 03:04:05.123456+01', '2024-02-29',
		  '{"a": [1, 2.50], "b": {"c": null}}', '{"a b","c\"d",NULL,"NULL"}', '{1,NULL,3}', '{{1,2},{3,4}}', 'happy', true, 3.141592653589793,
		  '\xdeadbeef', 'x', 'ab', '192.168.0.1/24')`,
		`INSERT INTO rt_types (id, name, free, at, day, ratio, nums) VALUES (1, '', 'NaN', '-infinity', '0044-03-15 BC', 'NaN', '{}')`,
		`INSERT INTO rt_types (id, name, amount, at, doc, tags) VALUES (2, E'tab\there', -0.5, 'infinity', '[]', '{}')`,
		`INSERT INTO rt_types (id, name) VALUES (-7, 'nulls')`,
	}
	for _, q := range inserts {
		h.exec(q)
	}
	events := h.wait(len(inserts))
	streamed := map[int64]*sluice.Event{}
	for _, ev := range events {
		if ev.Op != sluice.OpCreate {
			t.Fatalf("unexpected event %v", ev.Op)
		}
		streamed[ev.After[0].Int] = ev
	}

	for _, src := range []struct {
		name string
		s    *Source
	}{{"before Run", before}, {"beside Run", h.src}} {
		t.Run(src.name, func(t *testing.T) {
			tab, rows := eventtest.ReadAll(t, src.s, "rt_types") // a bare name is in public
			if len(rows) != len(inserts) {
				t.Fatalf("got %d rows, want %d", len(rows), len(inserts))
			}
			for i, row := range rows {
				id := row[0].Int
				if i > 0 && id <= rows[i-1][0].Int {
					t.Errorf("row %d: key %d after %d: not in key order", i, id, rows[i-1][0].Int)
				}
				ev := streamed[id]
				if ev == nil {
					t.Errorf("row with key %d was not streamed", id)
					continue
				}
				if tab.ID != ev.Table.ID {
					t.Errorf("table id %d, stream has %d", tab.ID, ev.Table.ID)
				}
				eventtest.SameTable(t, tab, ev.Table)
				eventtest.SameRow(t, tab, fmt.Sprintf("key %d", id), row, ev.After)
			}
		})
	}
}

// TestReadTableRefusesUncaptured: a table outside source.tables, or
// outside the publication, and the signal table are refused with a
// permanent error naming the table; without source.tables and before the
// publication exists, the tables its FOR ALL TABLES would hold are read.
func TestReadTableRefusesUncaptured(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS rt_in; CREATE TABLE rt_in (id int PRIMARY KEY);
		DROP TABLE IF EXISTS rt_out; CREATE TABLE rt_out (id int PRIMARY KEY);
		DROP TABLE IF EXISTS rt_unlogged; CREATE UNLOGGED TABLE rt_unlogged (id int PRIMARY KEY);
		DROP TABLE IF EXISTS rt_signal; CREATE TABLE rt_signal (id text PRIMARY KEY, type text NOT NULL, data text);
		INSERT INTO rt_out VALUES (1)`)
	h.dropAtEnd("rt_in", "rt_out", "rt_unlogged", "rt_signal")
	ctx := context.Background()
	refused := func(src *Source, table string, why string) {
		t.Helper()
		called := false
		err := src.ReadTable(ctx, table, func(*sluice.Table, sluice.Row) error { called = true; return nil })
		if err == nil || !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "postgres source: read table "+table+": ") ||
			!strings.Contains(err.Error(), why) || strings.Count(err.Error(), "postgres source:") != 1 {
			t.Errorf("ReadTable %s: got %v, want a permanent refusal saying %q", table, err, why)
		}
		if called {
			t.Errorf("ReadTable %s called fn", table)
		}
	}
	listed := h.newSource(map[string]any{"tables": []string{"public.rt_in"}, "signal_table": "public.rt_signal"})
	refused(listed, "public.rt_out", "not captured: source.tables lists public.rt_in")
	refused(listed, "public.rt_signal", "is the signal table")
	if err := listed.ReadTable(ctx, "not.a.table", func(*sluice.Table, sluice.Row) error { return nil }); err == nil || !sluice.IsPermanent(err) {
		t.Errorf("malformed name: got %v, want a permanent error", err)
	}
	// Without a list, before the publication exists.
	all := h.newSource(nil)
	if _, rows := eventtest.ReadAll(t, all, "public.rt_out"); len(rows) != 1 {
		t.Errorf("FOR ALL TABLES to come: got %d rows of rt_out, want 1", len(rows))
	}
	refused(all, "public.rt_unlogged", "would not hold it")
	if err := all.ReadTable(ctx, "public.rt_no_such", func(*sluice.Table, sluice.Row) error { return nil }); err == nil ||
		!errors.Is(err, errNoTable) || !strings.Contains(err.Error(), "read table public.rt_no_such") {
		t.Errorf("missing table: got %v, want errNoTable", err)
	}
	// Without a list, the publication (here created by a run listing
	// rt_in) decides.
	h.start("public.rt_in")
	if _, rows := eventtest.ReadAll(t, all, "public.rt_in"); len(rows) != 0 {
		t.Errorf("got %d rows of rt_in, want none", len(rows))
	}
	refused(all, "public.rt_out", "does not hold it")
}

// TestReadTableChunks: with chunks much smaller than the table, every
// row comes back once, in key order (a composite key, in the key's order,
// not the columns'), all from one snapshot: rows changed while the read
// runs are not seen. A table without a key comes back whole too, and an
// error of fn ends the read and is returned.
func TestReadTableChunks(t *testing.T) {
	const n, size = 500, 7
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS rt_many; CREATE TABLE rt_many (b int, a int, v text, PRIMARY KEY (a, b));
		DROP TABLE IF EXISTS rt_nokey; CREATE TABLE rt_nokey (v int, w text)`)
	h.dropAtEnd("rt_many", "rt_nokey")
	// Inserted out of key order, so neither physical order nor b's is a's.
	h.exec(`INSERT INTO rt_many SELECT (g * 7919) % 5, (g * 104729) % 101, 'v' || g FROM generate_series(1, $1) g`, n)
	h.exec(`INSERT INTO rt_nokey SELECT g, 'w' || g FROM generate_series(1, $1) g`, n)
	src := h.newSource(map[string]any{"tables": []string{"public.rt_many", "public.rt_nokey"},
		"snapshot": map[string]any{"mode": "never", "chunk_size": size}})

	ctx := context.Background()
	var got [][2]int64
	changed := false
	err := src.ReadTable(ctx, "public.rt_many", func(tab *sluice.Table, row sluice.Row) error {
		if !reflect.DeepEqual(tab.Key, []int{1, 0}) {
			t.Fatalf("key %v, want [1 0] (a, b)", tab.Key)
		}
		if row == nil {
			return nil
		}
		if !changed && len(got) == 3*size {
			// Committed while the read runs, after its snapshot.
			h.exec(`DELETE FROM rt_many WHERE a = (SELECT max(a) FROM rt_many)`)
			h.exec(`INSERT INTO rt_many VALUES (-1, 1000, 'late')`)
			changed = true
		}
		got = append(got, [2]int64{row[1].Int, row[0].Int})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("got %d rows, want %d", len(got), n)
	}
	for i := 1; i < len(got); i++ {
		if p, c := got[i-1], got[i]; c[0] < p[0] || c[0] == p[0] && c[1] <= p[1] {
			t.Fatalf("row %d (a, b) = %v after %v: not in key order", i, c, p)
		}
	}

	seen := map[int64]bool{}
	err = src.ReadTable(ctx, "public.rt_nokey", func(tab *sluice.Table, row sluice.Row) error {
		if len(tab.Key) != 0 {
			t.Fatalf("table without a key has key %v", tab.Key)
		}
		if row == nil {
			return nil
		}
		if seen[row[0].Int] {
			t.Errorf("row %d read twice", row[0].Int)
		}
		seen[row[0].Int] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("table without a key: got %d rows, want %d", len(seen), n)
	}

	stop := errors.New("enough")
	calls := 0
	err = src.ReadTable(ctx, "public.rt_nokey", func(_ *sluice.Table, row sluice.Row) error {
		if row == nil {
			return nil
		}
		calls++
		if calls == 10 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 10 {
		t.Fatalf("fn's error after %d calls: got %v, want it returned as is", calls, err)
	}
}

// TestReadTableCancel: a cancelled ctx ends the read at once, with an
// error that is ctx's, and fn is not called again.
func TestReadTableCancel(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS rt_cancel; CREATE TABLE rt_cancel (id int PRIMARY KEY)`)
	h.dropAtEnd("rt_cancel")
	h.exec(`INSERT INTO rt_cancel SELECT generate_series(1, 1000)`)
	src := h.newSource(map[string]any{"tables": []string{"public.rt_cancel"}, "snapshot": map[string]any{"mode": "never", "chunk_size": 100}})

	for _, at := range []int{5, 100} { // inside a chunk, at its end
		t.Run(fmt.Sprint(at), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			err := src.ReadTable(ctx, "public.rt_cancel", func(_ *sluice.Table, row sluice.Row) error {
				if row == nil {
					return nil
				}
				calls++
				if calls == at {
					cancel()
				}
				return nil
			})
			if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "read table public.rt_cancel") {
				t.Fatalf("got %v, want context.Canceled naming the table", err)
			}
			if calls != at {
				t.Fatalf("fn called %d times, cancelled at %d", calls, at)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := src.ReadTable(ctx, "public.rt_cancel", func(*sluice.Table, sluice.Row) error {
		t.Fatal("fn called with a cancelled ctx")
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled before: got %v, want context.Canceled", err)
	}
}
