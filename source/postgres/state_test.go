package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestSaveStateRoundTrip: the file store writes the state through
// internal/atomicfile (which syncs the directory after the rename) and
// reads back what it wrote.
func TestSaveStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := &Source{stateDir: dir, pipeline: "p", cfg: Config{Slot: "x"}}
	ctx := context.Background()
	if err := s.fileStore().save(ctx, &state{Version: 1, Slot: "x", InitialDone: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "p.postgres.json")); err != nil {
		t.Fatal(err)
	}
	st, err := s.fileStore().load(ctx)
	if err != nil || st == nil || !st.InitialDone {
		t.Fatalf("read back %+v, %v", st, err)
	}
}

// The resume tests snapshot three tables of 40 rows in chunks of 5 with
// one worker, so the tables are read one after the other: a, then b,
// then c. The first run stops in the middle of b, after three of its
// chunks were acknowledged and saved; a is done, c not started.
const (
	resumeRows  = 40
	resumeChunk = 5
	resumeSaved = 3 // chunks of b acknowledged before the stop
)

// resumeTables creates the test's three tables and returns their names.
func (h *harness) resumeTables() []string {
	h.t.Helper()
	var names []string
	for _, x := range []string{"a", "b", "c"} {
		n := "st_" + x
		h.exec(`DROP TABLE IF EXISTS ` + n + `; CREATE TABLE ` + n + ` (id int PRIMARY KEY, v bigint NOT NULL)`)
		h.exec(`INSERT INTO `+n+` SELECT g, g FROM generate_series(1, $1) g`, resumeRows)
		names = append(names, n)
	}
	h.dropAtEnd(names...)
	return names
}

// resumeConfig is the source configuration of a resume test with the
// state block given.
func resumeConfig(store map[string]any) map[string]any {
	return map[string]any{"tables": []any{"public.st_a", "public.st_b", "public.st_c"}, "state": store,
		"snapshot": map[string]any{"mode": "initial", "chunk_size": resumeChunk, "workers": 1}}
}

// interrupt runs the first start: the initial snapshot reads st_a and
// resumeSaved chunks of st_b, then its worker blocks before the next
// chunk; once the store holds that progress the source stops. It returns
// what the run emitted.
func (h *harness) interrupt(cfg map[string]any) []*sluice.Event {
	h.t.Helper()
	// With serial hooks a chunk's low watermark is written after the
	// previous chunk was emitted; a chunk read again (see readChunk) passes beforeLow again,
	// so count the rows emitted, not the calls.
	var readB atomic.Int64
	count := testenv.Reject(func(ev *sluice.Event) error {
		if ev.Op == sluice.OpRead && ev.Table.Name == "st_b" {
			readB.Add(1)
		}
		return nil
	})
	h.hooks = &chunkHooks{serial: true, beforeLow: func(ctx context.Context, table string) error {
		if table == "public.st_b" && readB.Load() >= resumeSaved*resumeChunk {
			<-ctx.Done() // as if killed before the next chunk
			return ctx.Err()
		}
		return nil
	}}
	defer func() { h.hooks = nil }()
	h.startWith(cfg, count)
	h.c.WaitFor("the progress of st_b in the store", func([]*sluice.Event) bool {
		st, err := h.stored()
		if err != nil || len(st.Jobs) != 3 {
			return false
		}
		a, b := st.Jobs[0], st.Jobs[1]
		return a.Done && b.Rows == resumeSaved*resumeChunk && b.LastKey != nil
	})
	evs := h.wait(0)
	h.stop()
	return evs
}

// checkResumed checks the second start's events: nothing of st_a read
// again, st_b read from the row after the last saved chunk, st_c read
// whole, and the replayed events of both runs equal to the tables.
func (h *harness) checkResumed(first, second []*sluice.Event) {
	h.t.Helper()
	reads := map[string][]int64{}
	for _, ev := range second {
		if ev.Op == sluice.OpRead {
			reads[ev.Table.Name] = append(reads[ev.Table.Name], ev.After[0].Int)
		}
	}
	if len(reads["st_a"]) != 0 {
		h.t.Errorf("st_a, finished before the stop, was read again: %v", reads["st_a"])
	}
	var want []int64
	for id := int64(resumeSaved*resumeChunk + 1); id <= resumeRows; id++ {
		want = append(want, id)
	}
	if !slices.Equal(reads["st_b"], want) {
		h.t.Errorf("st_b read %v after the restart, want the rows after the last saved chunk, %v", reads["st_b"], want)
	}
	if n := len(reads["st_c"]); n != resumeRows-1 { // one row deleted between the runs
		h.t.Errorf("st_c: %d rows read after the restart, want %d", n, resumeRows-1)
	}
	all := append(append([]*sluice.Event(nil), first...), second...)
	for _, tb := range []string{"st_a", "st_b", "st_c"} {
		var evs []*sluice.Event
		for _, ev := range all {
			if ev.Table != nil && ev.Table.Name == tb {
				evs = append(evs, ev)
			}
		}
		testenv.SameState(h.t, replay(h.t, evs, 1), testenv.TableState(h.t, h.db, tb))
	}
}

// changeBetweenRuns writes to each table while no source runs, before and
// after st_b's saved progress.
func (h *harness) changeBetweenRuns() {
	h.exec(`INSERT INTO st_a VALUES (41, 41); UPDATE st_b SET v = v + 100 WHERE id IN (2, 30); DELETE FROM st_c WHERE id = 7`)
}

// finish waits for the resumed snapshot to be saved as finished and for
// the stream to pass everything written so far.
func (h *harness) finish() []*sluice.Event {
	h.t.Helper()
	h.c.WaitFor("the finished snapshot in the store", func([]*sluice.Event) bool {
		st, err := h.stored()
		return err == nil && st.InitialDone && len(st.Jobs) == 0
	})
	return h.wait(0)
}

// TestSnapshotResumesWithoutStateFile: the initial snapshot stops in the
// middle (a table done, one half read, one not started) and the local
// state file is lost, as on a pod without a volume; the slot stays. The
// restart reads the progress from the durable store and resumes exactly
// where the acknowledged chunks ended: no table skipped, none re-read,
// and the replayed events equal the tables. (With only the file, the
// restart took the slot for a finished snapshot and read nothing.)
func TestSnapshotResumesWithoutStateFile(t *testing.T) {
	stores := map[string]func(t *testing.T, h *harness) map[string]any{
		"table": func(*testing.T, *harness) map[string]any { return map[string]any{"store": "table"} },
		"kafka": func(t *testing.T, h *harness) map[string]any {
			brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
			topic := fmt.Sprintf("sluice_state_test_%d", time.Now().UnixNano())
			testenv.DeleteTopicsAtEnd(t, brokers, topic)
			return map[string]any{"store": "kafka", "brokers": strings.Split(brokers, ","), "topic": topic}
		},
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.resumeTables()
			cfg := resumeConfig(store(t, h))
			first := h.interrupt(cfg)

			// The local copy was written too; then it is lost.
			cached, err := h.src.fileStore().load(context.Background())
			if err != nil || cached == nil || len(cached.Jobs) != 3 || cached.Jobs[1].Rows != resumeSaved*resumeChunk {
				t.Fatalf("local copy of the state: %+v, %v; want the store's", cached, err)
			}
			if err := os.RemoveAll(h.stateDir); err != nil {
				t.Fatal(err)
			}
			h.changeBetweenRuns()

			h.startWith(cfg)
			h.checkResumed(first, h.finish())
		})
	}
}

// TestStateMigratesFromFile: a snapshot interrupted while its state was
// kept only in the file (state.store file, as every version before the
// stores) resumes under the table store: the store has no state for the
// slot, so the file's is copied into it, and then the file is not needed.
func TestStateMigratesFromFile(t *testing.T) {
	h := newHarness(t)
	h.resumeTables()
	first := h.interrupt(resumeConfig(map[string]any{"store": "file"}))
	var rows int
	if err := h.db.QueryRow(context.Background(), "SELECT count(*) FROM public.sluice_state WHERE slot = $1", "sluice_"+h.name).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("the file store wrote %d rows into the state table", rows)
	}
	h.changeBetweenRuns()

	cfg := resumeConfig(map[string]any{"store": "table"})
	h.startWith(cfg)
	second := h.finish()
	h.checkResumed(first, second)
	// The state is in the table now: without the file, a restart still
	// knows the snapshot finished.
	h.stop()
	if err := os.RemoveAll(h.stateDir); err != nil {
		t.Fatal(err)
	}
	h.startWith(cfg)
	h.exec(`INSERT INTO st_c VALUES (100, 100)`)
	evs := h.wait(1)
	if r, _ := countReads(evs, 0); r != 0 || evs[0].After[0].Int != 100 {
		t.Fatalf("the restart without the file read %d rows (first event id %d), want only the insert", r, evs[0].After[0].Int)
	}
}

// TestLostStateFileRefuses: with state.store file, the file lost in the
// middle of the snapshot and the slot still there, the progress is
// unknowable: the modes that depend on it refuse to start with a
// permanent error that says what happened and how to recover, instead of
// streaming on without the rest of the snapshot. The first way out it
// names, a start with snapshot.mode never, records a state; mode initial
// then starts again.
func TestLostStateFileRefuses(t *testing.T) {
	h := newHarness(t)
	h.resumeTables()
	cfg := resumeConfig(map[string]any{"store": "file"})
	h.interrupt(cfg)
	if err := os.Remove(h.src.stateFile()); err != nil {
		t.Fatal(err)
	}
	slot := "sluice_" + h.name
	for _, mode := range []string{"initial", "initial_only", "when_needed"} {
		cfg["snapshot"] = map[string]any{"mode": mode, "chunk_size": resumeChunk}
		src := h.newSource(cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := src.Run(ctx, func(*sluice.Event) error { return nil })
		cancel()
		if !errors.Is(err, ErrStateUnknown) || !sluice.IsPermanent(err) {
			t.Fatalf("mode %s: Run returned %v, want a permanent ErrStateUnknown", mode, err)
		}
		for _, want := range []string{"replication slot " + slot + " exists", "file " + h.src.stateFile(), "snapshot.mode " + mode,
			"snapshot.mode: never", "sluice snapshot --config FILE --table schema.table", "SELECT pg_drop_replication_slot('" + slot + "')"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("mode %s: the error does not say %q:\n%v", mode, want, err)
			}
		}
	}
	if _, err := os.Stat(h.src.stateFile()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused start wrote the state file (%v)", err)
	}

	// Way out 1: accept, then re-read what may be missing while streaming.
	cfg["snapshot"] = map[string]any{"mode": "never"}
	h.startWith(cfg)
	h.exec(`INSERT INTO st_c VALUES (99, 99)`)
	h.wait(1) // streaming: a stop now is a clean one
	h.stop()
	cfg["snapshot"] = map[string]any{"mode": "initial", "chunk_size": resumeChunk}
	h.startWith(cfg)
	h.exec(`INSERT INTO st_c VALUES (100, 100)`)
	evs := h.wait(1)
	if r, _ := countReads(evs, 0); r != 0 || evs[0].After[0].Int != 100 {
		t.Fatalf("mode initial after a start in mode never read %d rows (first event id %d), want only the insert", r, evs[0].After[0].Int)
	}
}

// memStore is a stateStore in memory.
type memStore struct {
	st    *state
	err   error // returned by load and save
	saves int
}

func (m *memStore) load(context.Context) (*state, error) { return m.st, m.err }
func (m *memStore) save(_ context.Context, st *state) error {
	if m.err != nil {
		return m.err
	}
	m.saves++
	c := *st
	m.st = &c
	return nil
}
func (m *memStore) close()         {}
func (m *memStore) String() string { return "memory" }

// TestLoadStatePrefersTheStore: the store's state wins over the local
// copy whenever the store can be read; the copy is read only when the
// store has nothing for the slot, and then migrated into it; a store that
// cannot be read is an error, never a reason to trust the copy.
func TestLoadStatePrefersTheStore(t *testing.T) {
	ctx := context.Background()
	fromStore := &state{Version: 1, Slot: "x", InitialDone: true}
	inFile := &state{Version: 1, Slot: "x", Jobs: []*snapshotJob{{Table: "public.t", Rows: 5}}}
	otherSlot := &state{Version: 1, Slot: "y", InitialDone: true}
	cases := []struct {
		name      string
		store     *memStore
		file      *state
		want      *state
		known     bool
		migrated  bool
		errSubstr string
	}{
		{"store wins", &memStore{st: fromStore}, inFile, fromStore, true, false, ""},
		{"migrated from the file", &memStore{}, inFile, inFile, true, true, ""},
		{"file of another slot", &memStore{}, otherSlot, &state{Version: 1, Slot: "x"}, false, false, ""},
		{"nothing anywhere", &memStore{}, nil, &state{Version: 1, Slot: "x"}, false, false, ""},
		{"store unreadable", &memStore{err: errors.New("broker down")}, inFile, nil, false, false, "broker down"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &Source{stateDir: t.TempDir(), pipeline: "p", cfg: Config{Slot: "x"}, log: zap.NewNop()}
			if tc.file != nil {
				if err := s.fileStore().save(ctx, tc.file); err != nil {
					t.Fatal(err)
				}
			}
			k := &stateKeeper{store: tc.store, cache: s.fileStore(), log: s.log}
			st, known, err := s.loadState(ctx, k)
			if tc.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("loadState = %+v, %v; want an error saying %q", st, err, tc.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if known != tc.known || !reflect.DeepEqual(st, tc.want) {
				t.Errorf("loadState = %+v (known %v), want %+v (known %v)", st, known, tc.want, tc.known)
			}
			if migrated := tc.store.saves > 0; migrated != tc.migrated || migrated && !reflect.DeepEqual(tc.store.st, tc.want) {
				t.Errorf("store after loadState: %+v (%d saves); migrated %v, want %v", tc.store.st, tc.store.saves, migrated, tc.migrated)
			}
		})
	}
}

// TestCacheWriteFailureIsNotAnError: a local copy that cannot be written
// (a read-only state_dir) is logged once; the store has the state, so
// the save succeeds. A store that cannot be written fails the save.
func TestCacheWriteFailureIsNotAnError(t *testing.T) {
	dir := t.TempDir()
	blocked := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &Source{stateDir: blocked, pipeline: "p", cfg: Config{Slot: "x"}}
	core, logs := observer.New(zap.WarnLevel)
	store := &memStore{}
	k := &stateKeeper{store: store, cache: s.fileStore(), log: zap.New(core)}
	for i := 0; i < 3; i++ {
		if err := k.save(context.Background(), &state{Version: 1, Slot: "x", InitialDone: true}); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
	}
	if store.saves != 3 || logs.Len() != 1 {
		t.Errorf("%d saves in the store, %d warnings; want 3 and 1", store.saves, logs.Len())
	}
	store.err = errors.New("store down")
	if err := k.save(context.Background(), &state{Version: 1, Slot: "x"}); err == nil || !strings.Contains(err.Error(), "store down") {
		t.Errorf("save with the store down = %v, want its error", err)
	}
}
