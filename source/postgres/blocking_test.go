package postgres

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// farKey is a key the churn writer never touches, read in the last chunk.
const farKey = 1_000_000_000

// TestBlockingSnapshotWhileWriting: a blocking snapshot of a table a
// writer keeps changing emits the table's rows with no streamed change
// among them, then the stream resumes with the changes committed during
// the read, some older than the rows read (checked on farKey, changed
// twice while an earlier chunk was read); the replayed state still
// equals the table, and a change committed after the snapshot comes
// after every row.
func TestBlockingSnapshotWhileWriting(t *testing.T) {
	const n = 3000
	for _, ch := range signalChannels {
		t.Run(ch.name, func(t *testing.T) {
			h := newHarness(t)
			h.exec(`DROP TABLE IF EXISTS blk, blk_after; CREATE TABLE blk (id int PRIMARY KEY, v bigint NOT NULL, pad text); CREATE TABLE blk_after (id int PRIMARY KEY)`)
			h.exec(`INSERT INTO blk SELECT g, 0, repeat('x', 50) FROM generate_series(1, $1) g`, n)
			h.exec(`INSERT INTO blk VALUES ($1, 0, '')`, farKey)
			h.exec(`DROP TABLE IF EXISTS sluice_signal_blk`)
			h.dropAtEnd("blk", "blk_after", "sluice_signal_blk")
			var fired atomic.Bool
			h.hooks = &chunkHooks{beforeLow: func(ctx context.Context, table string) error {
				if table != "public.blk" || !fired.CompareAndSwap(false, true) {
					return nil
				}
				// Before the first chunk: two commits on farKey, which the
				// last chunk reads after both and the stream delivers after
				// the snapshot.
				db, err := pgx.Connect(ctx, h.dsn)
				if err != nil {
					return err
				}
				defer db.Close(context.WithoutCancel(ctx))
				for v := 1; v <= 2; v++ {
					if _, err := db.Exec(ctx, `UPDATE blk SET v = $2 WHERE id = $1`, farKey, v); err != nil {
						return err
					}
				}
				return nil
			}}
			cnt := h.startCounted(map[string]any{"tables": []any{"public.blk", "public.blk_after"}, "signal_table": "public.sluice_signal_blk",
				"snapshot": map[string]any{"mode": "never", "chunk_size": 300}})
			var stop atomic.Bool
			done := testenv.Churn(t, h.dsn, "blk", n, &stop)
			h.exec(`INSERT INTO blk_after VALUES (0)`) // the stream runs before the snapshot
			h.c.WaitFor("the stream", func(evs []*sluice.Event) bool { return len(ofTable(evs, "blk_after")) == 1 })
			if !ch.send(h, cnt, "sluice_signal_blk", sluice.Signal{ID: "blk", Type: sluice.SignalExecuteSnapshot,
				Data: `{"data-collections": ["public.blk"], "type": "blocking"}`}) {
				t.Fatal("blocking execute-snapshot refused")
			}
			h.c.WaitFor("the blocking snapshot", func(evs []*sluice.Event) bool {
				_, last := countReads(evs, sluice.SnapshotLast)
				return last && h.snapshotIdle()
			})
			h.exec(`INSERT INTO blk_after VALUES (1)`)
			stop.Store(true)
			writes := <-done
			lsn, err := testenv.WALFlushed(context.Background(), h.db)
			if err != nil {
				t.Fatal(err)
			}
			h.c.WaitFor("the stream to catch up", func([]*sluice.Event) bool { return h.confirmedAtLeast(lsn) })
			evs := h.wait(0)

			first, last := -1, -1
			for i, ev := range evs {
				if ev.Op == sluice.OpRead {
					if first < 0 {
						first = i
					}
					last = i
				}
			}
			reads := evs[first : last+1]
			t.Logf("%d writes during the test, %d rows read", writes, len(reads))
			if reads[0].Snapshot != sluice.SnapshotFirst || reads[len(reads)-1].Snapshot != sluice.SnapshotLast {
				t.Errorf("markers: first %s, last %s, want first and last", reads[0].Snapshot, reads[len(reads)-1].Snapshot)
			}
			for i, ev := range reads {
				if ev.Op != sluice.OpRead {
					t.Fatalf("a streamed %s of %s among the rows of the blocking snapshot (at %d of %d)", ev.Op, ev.Table.Name, i, len(reads))
				}
				if i > 0 && i < len(reads)-1 && ev.Snapshot != sluice.SnapshotTrue {
					t.Fatalf("read %d marked %s, want true", i, ev.Snapshot)
				}
				if i > 0 && ev.After[0].Int <= reads[i-1].After[0].Int {
					t.Fatalf("rows out of key order: %d after %d", ev.After[0].Int, reads[i-1].After[0].Int)
				}
			}
			// The stream resumed with farKey's first change, older than
			// the row read: Debezium's behaviour, documented.
			var older bool
			for _, ev := range evs[last+1:] {
				if ev.Op == sluice.OpUpdate && ev.Table.Name == "blk" && ev.After[0].Int == farKey && ev.After[1].Int == 1 {
					older = true
				}
			}
			if r := reads[len(reads)-1]; r.After[0].Int != farKey || r.After[1].Int != 2 || !older {
				t.Errorf("farKey read as %d (want 2) and its change to 1 after it: %v", r.After[1].Int, older)
			}
			after := slices.IndexFunc(evs, func(ev *sluice.Event) bool {
				return ev.Table.Name == "blk_after" && ev.After[0].Int == 1
			})
			if after < last {
				t.Errorf("a change committed after the snapshot (at %d) came before its last row (at %d)", after, last)
			}
			testenv.SameState(t, replay(t, ofTable(evs, "blk"), 1), testenv.TableState(t, h.db, "blk"))
		})
	}
}

// TestBlockingSnapshotResume: a source stopped in the middle of a
// blocking snapshot (as if killed: the next chunk never comes) resumes it
// at the next start, still blocking, after the last acknowledged chunk:
// the changes committed meanwhile come after the rest of the rows.
func TestBlockingSnapshotResume(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS blr, blr_other; CREATE TABLE blr (id int PRIMARY KEY, v bigint NOT NULL); CREATE TABLE blr_other (id int PRIMARY KEY)`)
	h.exec(`INSERT INTO blr SELECT g, g FROM generate_series(1, 100) g`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_blr`)
	h.dropAtEnd("blr", "blr_other", "sluice_signal_blr")
	cfg := map[string]any{"tables": []any{"public.blr", "public.blr_other"}, "signal_table": "public.sluice_signal_blr",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 10}}
	var reads atomic.Int64
	count := testenv.Reject(func(ev *sluice.Event) error {
		if ev.Op == sluice.OpRead {
			reads.Add(1)
		}
		return nil
	})
	h.hooks = &chunkHooks{beforeLow: func(ctx context.Context, table string) error {
		if reads.Load() >= 30 {
			<-ctx.Done() // as if killed before the fourth chunk
			return ctx.Err()
		}
		return nil
	}}
	h.startCounted(cfg, count)
	if err := h.src.Signal(context.Background(), sluice.Signal{ID: "blr", Type: sluice.SignalExecuteSnapshot,
		Data: `{"data-collections": ["public.blr"], "type": "blocking"}`}); err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("three chunks saved", func([]*sluice.Event) bool {
		st, err := h.stored()
		return err == nil && len(st.Jobs) == 1 && st.Jobs[0].Blocking && st.Jobs[0].Rows == 30
	})
	h.exec(`INSERT INTO blr_other VALUES (1)`)
	h.exec(`UPDATE blr SET v = 500 WHERE id = 5`)   // read before the stop
	h.exec(`UPDATE blr SET v = 5000 WHERE id = 50`) // read after the restart
	first := h.c.Events()
	h.stop()
	if n := len(ofTable(first, "blr_other")); n != 0 {
		t.Errorf("the stream delivered %d changes during the blocking snapshot", n)
	}
	if got := readIDs(first, "blr"); len(got) != 30 {
		t.Fatalf("first run read %d rows, want 30", len(got))
	}

	h.hooks = nil
	h.startCounted(cfg)
	evs := h.c.WaitFor("the rest of blr and the changes", func(evs []*sluice.Event) bool {
		return len(readIDs(evs, "blr")) == 70 && len(ofTable(evs, "blr_other")) == 1 && h.snapshotIdle()
	})
	evs = h.wait(len(evs))
	var want []int64
	for id := int64(31); id <= 100; id++ {
		want = append(want, id)
	}
	if got := readIDs(evs, "blr"); !slices.Equal(got, want) {
		t.Errorf("after the restart read %v, want 31..100", got)
	}
	for i, ev := range evs {
		if ev.Op != sluice.OpRead {
			if i < 70 {
				t.Errorf("a streamed %s of %s before the resumed rows ended (at %d)", ev.Op, ev.Table.Name, i)
			}
			break
		}
	}
	if evs[0].Snapshot != sluice.SnapshotFirst || evs[69].Snapshot != sluice.SnapshotLast {
		t.Errorf("markers of the resumed run: %s … %s, want first … last", evs[0].Snapshot, evs[69].Snapshot)
	}
	testenv.SameState(t, replay(t, ofTable(append(first, evs...), "blr"), 1), testenv.TableState(t, h.db, "blr"))
}

// TestBlockingSnapshotKeepsConnection: while a blocking snapshot holds
// the stream (here a chunk that takes three times the server's
// wal_sender_timeout), status updates keep the replication connection
// alive, and the stream resumes where it was.
func TestBlockingSnapshotKeepsConnection(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS blka; CREATE TABLE blka (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.exec(`INSERT INTO blka SELECT g, g FROM generate_series(1, 20) g`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_blka`)
	h.dropAtEnd("blka", "sluice_signal_blka")
	const timeout = 2 * time.Second
	var slow atomic.Bool
	h.hooks = &chunkHooks{beforeLow: func(ctx context.Context, table string) error {
		if !slow.CompareAndSwap(false, true) {
			return nil
		}
		// Committed once the stream waits: read by the snapshot, and
		// streamed after it.
		db, err := pgx.Connect(ctx, h.dsn)
		if err != nil {
			return err
		}
		defer db.Close(context.WithoutCancel(ctx))
		if _, err := db.Exec(ctx, `INSERT INTO blka VALUES (21, 21)`); err != nil {
			return err
		}
		// A slow read: the duration is what is tested.
		select {
		case <-time.After(3 * timeout):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	sep := "?"
	if strings.Contains(h.dsn, "?") {
		sep = "&"
	}
	h.startCounted(map[string]any{"dsn": h.dsn + sep + "options=" + strings.NewReplacer(" ", "%20", "=", "%3D").Replace("-c wal_sender_timeout="+timeout.String()),
		"tables": []any{"public.blka"}, "signal_table": "public.sluice_signal_blka", "status_interval": "1s", "snapshot": map[string]any{"mode": "never", "chunk_size": 10}})
	if err := h.src.Signal(context.Background(), sluice.Signal{ID: "blka", Type: sluice.SignalExecuteSnapshot,
		Data: `{"data-collections": ["public.blka"], "type": "blocking"}`}); err != nil {
		t.Fatal(err)
	}
	evs := h.c.WaitFor("the rows and the change", func(evs []*sluice.Event) bool { return len(evs) == 22 && h.snapshotIdle() })
	if evs[21].Op != sluice.OpCreate || len(readIDs(evs, "blka")) != 21 {
		t.Errorf("got %d reads then %s, want 21 reads then the insert", len(readIDs(evs, "blka")), evs[21].Op)
	}
}
