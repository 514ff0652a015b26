package postgres

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestSnapshotFilter: an incremental snapshot with a WHERE filter reads
// only the matching rows.
func TestSnapshotFilter(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_filter; CREATE TABLE snap_filter (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO snap_filter SELECT g, g FROM generate_series(1, 100) g`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_f`)
	h.dropAtEnd("snap_filter", "sluice_signal_f")
	h.startStreaming(map[string]any{"tables": []any{"public.snap_filter"}, "signal_table": "public.sluice_signal_f",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 7}})
	if err := signalSnapshot(context.Background(), h.src, []string{"public.snap_filter"}, "id > 90"); err != nil {
		t.Fatal(err)
	}
	evs := h.c.WaitFor("10 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r >= 10 && h.snapshotIdle() })
	r, _ := countReads(evs, 0)
	if r != 10 {
		t.Fatalf("read %d rows, want the 10 with id > 90", r)
	}
}

// TestSnapshotTableWithoutKey: a table without a primary key is read in
// ctid order, chunk by chunk, every row once.
func TestSnapshotTableWithoutKey(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_nokey; CREATE TABLE snap_nokey (a int, b text)`)
	h.exec(`INSERT INTO snap_nokey SELECT g, 'row ' || g FROM generate_series(1, 95) g`)
	h.dropAtEnd("snap_nokey")
	h.startWith(map[string]any{"tables": []any{"public.snap_nokey"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 10}})
	evs := h.c.WaitFor("95 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r >= 95 && h.snapshotIdle() })
	seen := map[int64]bool{}
	for _, ev := range evs {
		if ev.Op == sluice.OpRead {
			if seen[ev.After[0].Int] {
				t.Fatalf("row %d read twice", ev.After[0].Int)
			}
			seen[ev.After[0].Int] = true
		}
	}
	if len(seen) != 95 {
		t.Fatalf("read %d distinct rows, want 95", len(seen))
	}
	if evs[len(evs)-1].Snapshot != sluice.SnapshotLast {
		t.Errorf("last read marked %q", evs[len(evs)-1].Snapshot)
	}
}

// TestSnapshotEnumKeyOutsideSearchPath: the key is an enum of a schema
// that is not on the search_path. Resuming after a chunk compares the
// key with the last one read; that must not depend on the type's name
// resolving (it failed with "type does not exist" on every restart).
func TestSnapshotEnumKeyOutsideSearchPath(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP SCHEMA IF EXISTS snap_enum_s CASCADE; CREATE SCHEMA snap_enum_s;
		CREATE TYPE snap_enum_s.colour AS ENUM ('red', 'green', 'blue', 'black', 'white');
		CREATE TABLE snap_enum_s.paint (c snap_enum_s.colour PRIMARY KEY, v bigint NOT NULL);
		INSERT INTO snap_enum_s.paint VALUES ('white', 5), ('blue', 3), ('red', 1), ('black', 4), ('green', 2)`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_enum`)
	t.Cleanup(func() { h.exec(`DROP SCHEMA IF EXISTS snap_enum_s CASCADE; DROP TABLE IF EXISTS sluice_signal_enum`) })
	h.startStreaming(map[string]any{"tables": []any{"snap_enum_s.paint"}, "signal_table": "public.sluice_signal_enum",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 2}})
	if err := signalSnapshot(context.Background(), h.src, []string{"snap_enum_s.paint"}, ""); err != nil {
		t.Fatal(err)
	}
	evs := h.c.WaitFor("5 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r >= 5 && h.snapshotIdle() })
	var order []string
	for _, ev := range evs {
		if ev.Op == sluice.OpRead {
			order = append(order, string(ev.After[0].Bytes))
		}
	}
	if got := strings.Join(order, ","); got != "red,green,blue,black,white" {
		t.Errorf("read %s, want the enum's order red,green,blue,black,white", got)
	}
	for _, j := range h.src.SnapshotProgress() {
		if j.Failed {
			t.Errorf("snapshot of %s failed: %s", j.Table, j.Error)
		}
	}
}

// TestChunkReadMissesCommittedTransaction: a transaction whose commit
// record precedes a chunk's low watermark is not yet visible to the
// chunk's read. PostgreSQL makes a transaction visible (removes it from
// the ProcArray) after writing its commit record, and a synchronous
// standby can hold that gap open for as long as it lags; here the read
// imports a snapshot exported before the transaction committed, which is
// what the read sees in that gap. The stream carries the transaction
// before the window opens, so a read emitted at the high watermark would
// be older than the change already delivered: the chunk must be read
// again instead.
//
// With one chunk of 100 that is all. With chunks of 8 the worker has read
// the second chunk ahead when the first must be read again: the stream
// must drop the second with it, so that the table's rows are read in key
// order, each once, and the saved progress never skips the first.
func TestChunkReadMissesCommittedTransaction(t *testing.T) {
	for _, chunk := range []int{100, 8} {
		t.Run(strconv.Itoa(chunk), func(t *testing.T) { testChunkReadMisses(t, chunk) })
	}
}

func testChunkReadMisses(t *testing.T, chunk int) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS snap_vis; CREATE TABLE snap_vis (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO snap_vis SELECT g, 0 FROM generate_series(1, 20) g`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_vis`)
	h.dropAtEnd("snap_vis", "sluice_signal_vis")
	ctx := context.Background()
	exporter, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer exporter.Close(ctx)
	var exported string
	var lows, reads atomic.Int64
	h.startHooked(map[string]any{"tables": []any{"public.snap_vis"}, "signal_table": "public.sluice_signal_vis",
		"snapshot": map[string]any{"mode": "never", "chunk_size": chunk}},
		&chunkHooks{
			beforeLow: func(ctx context.Context, table string) error {
				if lows.Add(1) == 1 {
					// A snapshot from before the update, then the update,
					// committed before the low watermark is written.
					if _, err := exporter.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
						return err
					}
					if err := exporter.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&exported); err != nil {
						return err
					}
					h.exec(`UPDATE snap_vis SET v = 1 WHERE id = 5`)
				}
				return nil
			},
			inRead: func(ctx context.Context, tx pgx.Tx) error {
				if reads.Add(1) == 1 {
					_, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+exported+"'")
					return err
				}
				return nil
			},
		})
	if err := signalSnapshot(ctx, h.src, []string{"public.snap_vis"}, ""); err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the snapshot", func([]*sluice.Event) bool { return reads.Load() > 0 && h.snapshotIdle() })
	exporter.Exec(ctx, "ROLLBACK")
	evs := h.wait(0)
	t.Logf("%d chunk reads for %d chunks", reads.Load(), (20+chunk-1)/chunk)
	if n := int64((20 + chunk - 1) / chunk); reads.Load() <= n {
		t.Errorf("%d chunk reads, want more than the %d chunks: the first was not read again", reads.Load(), n)
	}
	var ids []int64
	for _, ev := range evs {
		if ev.Op == sluice.OpRead {
			ids = append(ids, ev.After[0].Int)
		}
	}
	want := make([]int64, 20)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("read ids %v, want 1 to 20 in order, each once", ids)
	}
	testenv.SameState(t, replay(t, evs, 1), testenv.TableState(t, h.db, "snap_vis"))
}
