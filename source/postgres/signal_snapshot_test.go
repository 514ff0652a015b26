package postgres

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// chunkGate is a beforeLow hook that holds the worker of table before
// the chunk that follows the first after rows read, until the test
// releases it: the test acts on a job in the middle of its read. Its
// hooks are serial, so that the rows read are those emitted.
type chunkGate struct {
	table   string
	after   int64
	reads   atomic.Int64 // rows of table emitted
	reached chan struct{}
	release chan struct{}
	fired   atomic.Bool
}

func newChunkGate(table string, after int64) *chunkGate {
	return &chunkGate{table: table, after: after, reached: make(chan struct{}), release: make(chan struct{})}
}

// count counts the reads of the gate's table (a collector option).
func (g *chunkGate) count() testenv.CollectOption {
	return testenv.Reject(func(ev *sluice.Event) error {
		if ev.Op == sluice.OpRead && ev.Table.Schema+"."+ev.Table.Name == g.table {
			g.reads.Add(1)
		}
		return nil
	})
}

func (g *chunkGate) hooks() *chunkHooks {
	return &chunkHooks{serial: true, beforeLow: func(ctx context.Context, table string) error {
		if table != g.table || g.reads.Load() < g.after || !g.fired.CompareAndSwap(false, true) {
			return nil
		}
		close(g.reached)
		select {
		case <-g.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

// workersIdle reports whether no snapshot worker of the running source
// is busy.
func (h *harness) workersIdle() bool {
	sn := h.src.snap.Load()
	if sn == nil {
		return false
	}
	sn.mu.Lock()
	defer sn.mu.Unlock()
	return sn.running == 0
}

// ofTable keeps the events of table.
func ofTable(evs []*sluice.Event, table string) []*sluice.Event {
	var out []*sluice.Event
	for _, ev := range evs {
		if ev.Table != nil && ev.Table.Name == table {
			out = append(out, ev)
		}
	}
	return out
}

func readIDs(evs []*sluice.Event, table string) []int64 {
	var ids []int64
	for _, ev := range evs {
		if ev.Op == sluice.OpRead && ev.Table.Name == table {
			ids = append(ids, ev.After[0].Int)
		}
	}
	return ids
}

// TestStopSnapshotMidJob: a stop-snapshot while a multi-chunk job reads
// its fourth chunk drops that chunk and the rest of the job, and the
// queued job of another table, from the queue and the stored state;
// nothing more of either is emitted.
func TestStopSnapshotMidJob(t *testing.T) {
	stops := []struct{ name, data string }{
		{"named", `{"data-collections": ["public.stopm", "stopm2"]}`},
		{"all", ``},
	}
	for _, ch := range signalChannels {
		for _, stop := range stops {
			t.Run(ch.name+"/"+stop.name, func(t *testing.T) {
				h := newHarness(t)
				h.exec(`DROP TABLE IF EXISTS stopm, stopm2, stopm_other`)
				h.exec(`CREATE TABLE stopm (id int PRIMARY KEY, v bigint NOT NULL); CREATE TABLE stopm2 (id int PRIMARY KEY, v bigint NOT NULL)`)
				h.exec(`CREATE TABLE stopm_other (id int PRIMARY KEY)`)
				h.exec(`INSERT INTO stopm SELECT g, g FROM generate_series(1, 200) g; INSERT INTO stopm2 SELECT g, g FROM generate_series(1, 50) g`)
				h.exec(`DROP TABLE IF EXISTS sluice_signal_stop`)
				h.dropAtEnd("stopm", "stopm2", "stopm_other", "sluice_signal_stop")
				g := newChunkGate("public.stopm", 30)
				h.hooks = g.hooks()
				cnt := h.startCounted(map[string]any{"tables": []any{"public.stopm", "public.stopm2", "public.stopm_other"},
					"signal_table": "public.sluice_signal_stop", "snapshot": map[string]any{"mode": "never", "chunk_size": 10, "workers": 1}}, g.count())
				if !ch.send(h, cnt, "sluice_signal_stop", sluice.Signal{ID: "go", Type: sluice.SignalExecuteSnapshot,
					Data: `{"data-collections": ["public.stopm", "public.stopm2"]}`}) {
					t.Fatal("execute-snapshot refused")
				}
				h.c.WaitFor("the fourth chunk of stopm", func([]*sluice.Event) bool {
					select {
					case <-g.reached:
						return true
					default:
						return false
					}
				})
				if j := h.src.IncrementalSnapshotJobs(); j.Queued != 1 || j.Running != 1 {
					t.Errorf("before the stop: %+v, want 1 queued and 1 running", j)
				}
				if !ch.send(h, cnt, "sluice_signal_stop", sluice.Signal{ID: "stop", Type: sluice.SignalStopSnapshot, Data: stop.data}) {
					t.Fatal("stop-snapshot refused")
				}
				st, err := h.stored()
				if err != nil {
					t.Fatal(err)
				}
				if len(st.Jobs) != 0 {
					t.Errorf("stored jobs after the stop: %d, want none", len(st.Jobs))
				}
				close(g.release)
				h.c.WaitFor("the worker to end", func([]*sluice.Event) bool { return h.workersIdle() })
				h.exec(`INSERT INTO stopm_other VALUES (1)`)
				evs := h.c.WaitFor("the change after the stop", func(evs []*sluice.Event) bool {
					return len(evs) > 0 && evs[len(evs)-1].Table.Name == "stopm_other"
				})
				evs = h.wait(len(evs))
				ids := readIDs(evs, "stopm")
				if want := 30; len(ids) != want || ids[len(ids)-1] != int64(want) {
					t.Errorf("stopm: read %d rows, want the %d of the chunks before the stop", len(ids), want)
				}
				if ids := readIDs(evs, "stopm2"); len(ids) != 0 {
					t.Errorf("stopm2, queued when stopped, was read: %v", ids)
				}
				if j := h.src.IncrementalSnapshotJobs(); j.Queued != 0 || j.Running != 0 || j.Failed != 0 {
					t.Errorf("after the stop: %+v, want no job", j)
				}
			})
		}
	}
}

// TestPauseResumeSnapshot: a pause-snapshot while a job reads lets the
// chunk in flight finish and starts no other, the gauge says so, and a
// restart stays paused; a resume-snapshot finishes the table after its
// last saved chunk, with every row read.
func TestPauseResumeSnapshot(t *testing.T) {
	for _, ch := range signalChannels {
		t.Run(ch.name, func(t *testing.T) {
			h := newHarness(t)
			h.exec(`DROP TABLE IF EXISTS pr, pr_other; CREATE TABLE pr (id int PRIMARY KEY, v bigint NOT NULL); CREATE TABLE pr_other (id int PRIMARY KEY)`)
			h.exec(`INSERT INTO pr SELECT g, g * 10 FROM generate_series(1, 100) g`)
			h.exec(`DROP TABLE IF EXISTS sluice_signal_pr`)
			h.dropAtEnd("pr", "pr_other", "sluice_signal_pr")
			cfg := map[string]any{"tables": []any{"public.pr", "public.pr_other"}, "signal_table": "public.sluice_signal_pr",
				"snapshot": map[string]any{"mode": "never", "chunk_size": 10, "workers": 1}}
			g := newChunkGate("public.pr", 20)
			h.hooks = g.hooks()
			cnt := h.startCounted(cfg, g.count())
			if !ch.send(h, cnt, "sluice_signal_pr", sluice.Signal{ID: "go", Type: sluice.SignalExecuteSnapshot, Data: `{"data-collections": ["public.pr"]}`}) {
				t.Fatal("execute-snapshot refused")
			}
			h.c.WaitFor("the third chunk", func([]*sluice.Event) bool {
				select {
				case <-g.reached:
					return true
				default:
					return false
				}
			})
			if !ch.send(h, cnt, "sluice_signal_pr", sluice.Signal{ID: "pause", Type: sluice.SignalPauseSnapshot}) {
				t.Fatal("pause-snapshot refused")
			}
			close(g.release) // the third chunk was started before the pause: it finishes
			h.c.WaitFor("the chunk in flight", func(evs []*sluice.Event) bool { return len(readIDs(evs, "pr")) >= 30 })
			// The pause holds while the stream goes on: five changes later,
			// no chunk was emitted.
			holds := func(run string, wantReads int) {
				t.Helper()
				var base int
				for i := 1; i <= 5; i++ {
					h.exec(`INSERT INTO pr_other VALUES ($1) ON CONFLICT DO NOTHING`, len(run)*100+i)
				}
				evs := h.c.WaitFor("five changes of pr_other", func(evs []*sluice.Event) bool {
					n := 0
					for _, ev := range evs {
						if ev.Op == sluice.OpCreate && ev.Table.Name == "pr_other" {
							n++
						}
					}
					base = len(evs)
					return n == 5
				})
				evs = h.wait(base)
				if got := len(readIDs(evs, "pr")); got != wantReads {
					t.Errorf("%s: %d rows of pr read while paused, want %d", run, got, wantReads)
				}
				j := h.src.IncrementalSnapshotJobs()
				if !j.Paused {
					t.Errorf("%s: the paused gauge is 0", run)
				}
				if st, err := h.stored(); err != nil || !st.Paused {
					t.Errorf("%s: stored state not paused (%v)", run, err)
				}
			}
			holds("first run", 30)
			first := h.c.Events()
			h.stop()

			h.hooks = nil
			cnt = h.startCounted(cfg)
			holds("after a restart", 0)
			if j := h.src.IncrementalSnapshotJobs(); j.Queued != 1 || j.Running != 0 {
				t.Errorf("paused after a restart: %+v, want the job queued", j)
			}
			if !ch.send(h, cnt, "sluice_signal_pr", sluice.Signal{ID: "resume", Type: sluice.SignalResumeSnapshot}) {
				t.Fatal("resume-snapshot refused")
			}
			evs := h.c.WaitFor("the rest of pr", func(evs []*sluice.Event) bool { return len(readIDs(evs, "pr")) == 70 && h.snapshotIdle() })
			second := readIDs(evs, "pr")
			var want []int64
			for id := int64(31); id <= 100; id++ {
				want = append(want, id)
			}
			if !slices.Equal(second, want) {
				t.Errorf("after the resume read %v, want the rows after the last saved chunk, 31..100", second)
			}
			if j := h.src.IncrementalSnapshotJobs(); j.Paused {
				t.Error("the paused gauge is still 1 after the resume")
			}
			testenv.SameState(t, replay(t, ofTable(append(first, evs...), "pr"), 1), testenv.TableState(t, h.db, "pr"))
		})
	}
}
