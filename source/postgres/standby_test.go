package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestDecodeOnStandby: a source reading a streaming standby (PostgreSQL
// 16+) streams the primary's changes; what needs a write there is
// refused with the way out: the table state store and snapshots, a
// publication missing or behind source.tables (with the statement to
// run on the primary); a snapshot signal fails its job only. Before 16
// a standby is refused, naming the version.
func TestDecodeOnStandby(t *testing.T) {
	version := serverMajorOf(t, testenv.Get(t, "SLUICE_TEST_PG_DSN"))
	pair := startPair(t, version)
	ctx := context.Background()
	primary := pair.connect(pair.primary)
	exec := func(sql string) {
		t.Helper()
		if _, err := primary.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	standby := pair.connect(pair.standby)
	// replayed waits until the standby has replayed what the primary
	// wrote so far.
	replayed := func() {
		t.Helper()
		var lsn string
		if err := primary.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
			t.Fatal(err)
		}
		poll(t, "the standby to replay "+lsn, time.Minute, 10*time.Millisecond, func() bool {
			var ok bool
			if err := standby.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", lsn).Scan(&ok); err != nil {
				t.Fatal(err)
			}
			return ok
		})
	}
	exec(`CREATE TABLE standby_rows (id int PRIMARY KEY); CREATE TABLE standby_other (id int PRIMARY KEY)`)
	replayed()
	stateDir := t.TempDir()
	newSource := func(extra map[string]any) *Source {
		raw := map[string]any{"type": "postgres", "dsn": pair.standby, "tables": []string{"public.standby_rows"},
			"status_interval": "1s", "drain_timeout": "5s"}
		for k, v := range extra {
			raw[k] = v
		}
		return pair.source("standbydecode", stateDir, raw)
	}
	refused := func(s *Source, want ...string) {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		err := s.Run(rctx, func(*sluice.Event) error { return nil })
		if !sluice.IsPermanent(err) {
			t.Fatalf("Run on the standby: %v; want a permanent error", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Run on the standby: %v; want it to say %q", err, w)
			}
		}
	}
	streamOnly := map[string]any{"snapshot": map[string]any{"mode": "never"}, "state": map[string]any{"store": "file"}}
	if version < 16 {
		refused(newSource(streamOnly), "standby", "needs PostgreSQL 16 or later")
		return
	}

	// The defaults write: both are named at once.
	refused(newSource(nil), "standby", "state.store is table", "snapshot.mode is initial")
	// No publication yet: the statement to run on the primary.
	refused(newSource(streamOnly), `run on the primary: CREATE PUBLICATION "sluice_standbydecode" FOR TABLE "public"."standby_rows"`)

	exec(`CREATE PUBLICATION sluice_standbydecode FOR TABLE standby_rows`)
	replayed()
	src := newSource(streamOnly)
	c := testenv.Collect(t, src)
	// The slot on the standby waits for a record of the running
	// transactions from the primary.
	// Polled every 50 ms, each time with a new record.
	poll(t, "the source to stream from the standby", 2*time.Minute, 50*time.Millisecond, func() bool {
		ok, err := testenv.SlotStreaming(ctx, standby, "sluice_standbydecode")
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-c.Done():
			t.Fatalf("the source stopped: %v", c.Stop())
		default:
		}
		if !ok {
			exec("SELECT pg_log_standby_snapshot()")
		}
		return ok
	})
	for i := 1; i <= 10; i++ {
		exec(fmt.Sprintf("INSERT INTO standby_rows VALUES (%d)", i))
	}
	primaryEnd := func() uint64 { return walEndOf(t, primary) }
	evs := c.WaitCaughtUp(10, primaryEnd)
	if got, want := testenv.IDs(evs), []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Errorf("rows %v from the standby; want %v", got, want)
	}

	// An incremental snapshot asked for by a signal fails its job (its
	// watermarks would be writes); the stream goes on.
	if err := src.Signal(ctx, sluice.Signal{Type: sluice.SignalExecuteSnapshot,
		Data: sluice.SnapshotSignalData(sluice.SnapshotKindIncremental, []string{"public.standby_rows"}, "")}); err != nil {
		t.Fatalf("signal: %v", err)
	}
	c.WaitFor("the snapshot job to fail", func([]*sluice.Event) bool { return src.IncrementalSnapshotJobs().Failed == 1 })
	exec("INSERT INTO standby_rows VALUES (11)")
	evs = c.WaitCaughtUp(11, primaryEnd)
	if got := testenv.IDs(evs); len(got) != 11 || got[10] != 11 {
		t.Errorf("rows %v after the failed snapshot; want 1 to 11, no snapshot reads", got)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	// A table joins source.tables: the publication must change, on the
	// primary.
	more := map[string]any{"tables": []string{"public.standby_rows", "public.standby_other"}}
	for k, v := range streamOnly {
		more[k] = v
	}
	refused(newSource(more), `run on the primary: ALTER PUBLICATION "sluice_standbydecode" ADD TABLE "public"."standby_other"`)
}
