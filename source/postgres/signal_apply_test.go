package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// startCounted starts a source like startStreaming with a signal counter
// in place of the pipeline's, and returns it.
func (h *harness) startCounted(extra map[string]any, opts ...testenv.CollectOption) *sluice.SignalCounter {
	h.t.Helper()
	h.waitSlotFree()
	h.src = h.newSource(extra)
	h.src.hooks = h.hooks
	cnt := &sluice.SignalCounter{}
	h.src.signals = cnt
	h.c = testenv.Collect(h.t, h.src, opts...)
	h.waitSlotActive(h.c)
	h.c.WaitFor("the stream", func([]*sluice.Event) bool { return h.slotActive() && h.src.snap.Load() != nil })
	return cnt
}

// signalChannel sends a signal one way and reports whether the source
// accepted it.
type signalChannel struct {
	name string
	send func(h *harness, cnt *sluice.SignalCounter, table string, sig sluice.Signal) (accepted bool)
}

// total is the number of signals cnt counted from the signal table, and
// of those accepted.
func total(cnt *sluice.SignalCounter) (all, accepted int64) {
	for k, n := range cnt.Counts() {
		if k.Channel == sluice.ChannelSource {
			all += n
			if k.Result == "accepted" {
				accepted += n
			}
		}
	}
	return all, accepted
}

var sigSeq atomic.Int64

// signalChannels are Signal (the Kafka topic's and the admin endpoint's
// way in) and the signal table (read in the stream).
var signalChannels = []signalChannel{
	{"receiver", func(h *harness, _ *sluice.SignalCounter, _ string, sig sluice.Signal) bool {
		h.t.Helper()
		err := h.src.Signal(context.Background(), sig)
		if err != nil && !errors.Is(err, sluice.ErrRefused) {
			h.t.Fatalf("signal %+v: %v, want nil or a refusal", sig, err)
		}
		return err == nil
	}},
	{"table", func(h *harness, cnt *sluice.SignalCounter, table string, sig sluice.Signal) bool {
		h.t.Helper()
		all, acc := total(cnt)
		var data *string
		if sig.Data != "" {
			data = &sig.Data
		}
		h.exec(`INSERT INTO `+table+` VALUES ($1, $2, $3)`, fmt.Sprintf("%s-%d", sig.ID, sigSeq.Add(1)), sig.Type, data)
		h.c.WaitFor("the signal counted", func([]*sluice.Event) bool { n, _ := total(cnt); return n == all+1 })
		_, acc2 := total(cnt)
		return acc2 == acc+1
	}},
}

// TestSignalTypes sends each signal type through both channels and
// checks what is accepted, what is refused (counted, never fatal), and
// what the snapshot state keeps.
func TestSignalTypes(t *testing.T) {
	for _, ch := range signalChannels {
		t.Run(ch.name, func(t *testing.T) {
			h := newHarness(t)
			h.exec(`DROP TABLE IF EXISTS sigt_a; CREATE TABLE sigt_a (id int PRIMARY KEY, v bigint NOT NULL)`)
			h.exec(`INSERT INTO sigt_a SELECT g, g FROM generate_series(1, 30) g`)
			h.exec(`DROP TABLE IF EXISTS sigt_other; CREATE TABLE sigt_other (id int PRIMARY KEY)`)
			h.exec(`DROP TABLE IF EXISTS sluice_signal_types`)
			h.dropAtEnd("sigt_a", "sigt_other", "sluice_signal_types")
			cnt := h.startCounted(map[string]any{"tables": []any{"public.sigt_a"}, "signal_table": "public.sluice_signal_types",
				"snapshot": map[string]any{"mode": "never", "chunk_size": 10}})
			paused := func() bool {
				st, err := h.stored()
				if err != nil {
					t.Fatal(err)
				}
				return st.Paused
			}
			cases := []struct {
				name     string
				sig      sluice.Signal
				accepted bool
				check    func()
			}{
				{"incremental", sluice.Signal{ID: "inc", Type: sluice.SignalExecuteSnapshot,
					Data: `{"data-collections": ["public.sigt_a"], "type": "incremental"}`}, true, func() {
					h.c.WaitFor("30 incremental reads", func(evs []*sluice.Event) bool {
						r, _ := countReads(evs, 0)
						return r == 30 && h.snapshotIdle()
					})
				}},
				{"not captured", sluice.Signal{ID: "nc", Type: sluice.SignalExecuteSnapshot,
					Data: `{"data-collections": ["public.sigt_other"]}`}, false, nil},
				{"1.x additional-condition", sluice.Signal{ID: "cond", Type: sluice.SignalExecuteSnapshot,
					Data: `{"data-collections": ["public.sigt_a"], "additional-condition": "id > 25"}`}, true, func() {
					h.c.WaitFor("5 more reads", func(evs []*sluice.Event) bool {
						r, _ := countReads(evs, 0)
						return r == 35 && h.snapshotIdle()
					})
				}},
				{"bad json", sluice.Signal{ID: "bad", Type: sluice.SignalExecuteSnapshot, Data: `{"data-collections": `}, false, nil},
				{"bad kind", sluice.Signal{ID: "kind", Type: sluice.SignalExecuteSnapshot,
					Data: `{"data-collections": ["public.sigt_a"], "type": "sideways"}`}, false, nil},
				{"stop without job", sluice.Signal{ID: "stop", Type: sluice.SignalStopSnapshot,
					Data: `{"data-collections": ["public.sigt_a"]}`}, true, nil},
				{"stop all", sluice.Signal{ID: "stopall", Type: sluice.SignalStopSnapshot}, true, nil},
				{"stop bad name", sluice.Signal{ID: "stopbad", Type: sluice.SignalStopSnapshot,
					Data: `{"data-collections": ["a.b.c"]}`}, false, nil},
				{"pause", sluice.Signal{ID: "pause", Type: sluice.SignalPauseSnapshot}, true, func() {
					if !paused() || !h.src.IncrementalSnapshotJobs().Paused {
						t.Error("pause-snapshot accepted but not in the state or the gauge")
					}
				}},
				{"resume", sluice.Signal{ID: "resume", Type: sluice.SignalResumeSnapshot}, true, func() {
					if paused() || h.src.IncrementalSnapshotJobs().Paused {
						t.Error("resume-snapshot accepted but the state or the gauge is still paused")
					}
				}},
				{"log", sluice.Signal{ID: "log", Type: sluice.SignalLog, Data: `{"message": "hello"}`}, true, nil},
				{"log without message", sluice.Signal{ID: "log2", Type: sluice.SignalLog, Data: `{}`}, false, nil},
				{"unknown type", sluice.Signal{ID: "what", Type: "frobnicate", Data: `{}`}, false, nil},
			}
			for _, c := range cases {
				if got := ch.send(h, cnt, "sluice_signal_types", c.sig); got != c.accepted {
					t.Errorf("%s: accepted %v, want %v", c.name, got, c.accepted)
				}
				if c.check != nil {
					c.check()
				}
			}
			if ch.name == "table" {
				want := map[sluice.SignalCount]int64{}
				for _, c := range cases {
					res, typ := "refused", c.sig.Type
					if c.accepted {
						res = "accepted"
					}
					if typ == "frobnicate" {
						typ = "unknown"
					}
					want[sluice.SignalCount{Channel: sluice.ChannelSource, Type: typ, Result: res}]++
				}
				got := cnt.Counts()
				for k, n := range want {
					if got[k] != n {
						t.Errorf("count %+v = %d, want %d", k, got[k], n)
					}
				}
				if len(got) != len(want) {
					t.Errorf("counts %v, want %v", got, want)
				}
			}
			// Refusals are not fatal: the stream goes on.
			h.exec(`INSERT INTO sigt_a VALUES (31, 31)`)
			h.c.WaitFor("a change after the signals", func(evs []*sluice.Event) bool {
				return len(evs) > 0 && evs[len(evs)-1].Op == sluice.OpCreate
			})
		})
	}
}

// TestSignalNotRunning: a source that does not run refuses nothing and
// accepts nothing: the channel offers the signal again later.
func TestSignalNotRunning(t *testing.T) {
	h := newHarness(t)
	src := h.newSource(map[string]any{"signal_table": "public.sluice_signal_nr"})
	err := src.Signal(context.Background(), sluice.Signal{ID: "x", Type: sluice.SignalPauseSnapshot})
	if !errors.Is(err, sluice.ErrNotRunning) {
		t.Fatalf("Signal on a source not running: %v, want ErrNotRunning", err)
	}
}

// TestWriteSignal: WriteSignal checks a signal as Signal does before it
// writes it into the signal table, where the running source acts on it.
func TestWriteSignal(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS sigw_a; CREATE TABLE sigw_a (id int PRIMARY KEY)`)
	h.exec(`DROP TABLE IF EXISTS sluice_signal_w`)
	h.dropAtEnd("sigw_a", "sluice_signal_w")
	cnt := h.startCounted(map[string]any{"tables": []any{"public.sigw_a"}, "signal_table": "public.sluice_signal_w"})
	ctx := context.Background()
	for _, bad := range []sluice.Signal{
		{Type: "frobnicate"},
		{Type: sluice.SignalLog, Data: `{}`},
		{Type: sluice.SignalExecuteSnapshot, Data: `{"data-collections": ["public.sluice_signal_w"]}`},
		{Type: sluice.SignalStopSnapshot, Data: `{"data-collections": ["a.b.c"]}`},
	} {
		if err := h.src.WriteSignal(ctx, bad); !errors.Is(err, sluice.ErrRefused) {
			t.Errorf("WriteSignal(%+v): %v, want a refusal", bad, err)
		}
	}
	for _, typ := range []string{sluice.SignalPauseSnapshot, sluice.SignalResumeSnapshot, sluice.SignalStopSnapshot} {
		if err := h.src.WriteSignal(ctx, sluice.Signal{Type: typ}); err != nil {
			t.Fatalf("WriteSignal %s: %v", typ, err)
		}
	}
	h.c.WaitFor("3 signals accepted from the table", func([]*sluice.Event) bool { n, acc := total(cnt); return n == 3 && acc == 3 })
	var rows int
	if err := h.db.QueryRow(ctx, "SELECT count(*) FROM sluice_signal_w").Scan(&rows); err != nil || rows != 3 {
		t.Errorf("signal table holds %d rows (%v), want the 3 accepted", rows, err)
	}
}
