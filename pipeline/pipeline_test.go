package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// fakeSource emits a scripted list of events on each run and records what
// it was asked to confirm.
type fakeSource struct {
	mu        sync.Mutex
	runs      int
	events    func(run int) []*sluice.Event
	confirmed []uint64
	done      chan struct{}    // closed after the script of the last run
	onConfirm func(lsn uint64) // called by Confirm, if set
	afterStop []*sluice.Event  // emitted once ctx ended, as the rest of a transaction
}

func (f *fakeSource) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	f.mu.Lock()
	f.runs++
	run := f.runs
	f.mu.Unlock()
	for _, ev := range f.events(run) {
		if err := emit(ev); err != nil {
			return err
		}
	}
	if run == 1 && f.done != nil {
		close(f.done)
	}
	<-ctx.Done()
	for _, ev := range f.afterStop {
		if err := emit(ev); err != nil {
			return err
		}
	}
	return ctx.Err()
}

func (f *fakeSource) Confirm(pos sluice.Position) {
	if f.onConfirm != nil {
		f.onConfirm(pos.TxLSN)
	}
	f.mu.Lock()
	f.confirmed = append(f.confirmed, pos.TxLSN)
	f.mu.Unlock()
}

func (f *fakeSource) lastConfirmed() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.confirmed) == 0 {
		return 0
	}
	return f.confirmed[len(f.confirmed)-1]
}

// holdSink keeps acks until released, optionally failing one event.
type holdSink struct {
	mu    sync.Mutex
	acks  []func(error)
	evs   []*sluice.Event
	fail  func(ev *sluice.Event) error
	opens int
}

func (s *holdSink) Open(context.Context) error  { s.mu.Lock(); s.opens++; s.mu.Unlock(); return nil }
func (s *holdSink) Close(context.Context) error { return nil }
func (s *holdSink) Write(_ context.Context, ev *sluice.Event, ack func(error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		if err := s.fail(ev); err != nil {
			ack(err)
			return nil
		}
	}
	s.acks = append(s.acks, ack)
	s.evs = append(s.evs, ev)
	return nil
}

func (s *holdSink) release(i int) {
	s.mu.Lock()
	ack := s.acks[i]
	s.mu.Unlock()
	ack(nil)
}

func row(lsn uint64) *sluice.Event {
	return &sluice.Event{Op: sluice.OpCreate, Pos: sluice.Position{LSN: lsn, TxLSN: lsn}}
}
func mark(lsn uint64) *sluice.Event {
	return &sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: lsn}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCheckpointOnlyAfterEverySinkAcknowledgedATransaction(t *testing.T) {
	src := &fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event {
		// tx 100: two rows; tx 200: one row; then an idle keepalive mark.
		return []*sluice.Event{row(10), row(11), mark(100), row(20), mark(200), mark(300)}
	}}
	a, b := &holdSink{}, &holdSink{}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{a, b}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	<-src.done

	steps := []struct {
		sink *holdSink
		idx  int
		want uint64
	}{
		{a, 1, 0},   // out of order: second row of tx 100 first
		{b, 1, 0},   //
		{a, 0, 0},   // first row acked by one sink only
		{b, 0, 100}, // tx 100 complete in both sinks
		{a, 2, 100}, //
		{b, 2, 300}, // tx 200 complete; the idle mark follows at once
	}
	for i, s := range steps {
		s.sink.release(s.idx)
		if s.want == 0 {
			time.Sleep(5 * time.Millisecond)
			if got := src.lastConfirmed(); got != 0 {
				t.Fatalf("step %d: confirmed %d before a transaction was complete", i, got)
			}
			continue
		}
		waitFor(t, "checkpoint", func() bool { return src.lastConfirmed() == s.want })
	}
}

func TestFilteredEventsDoNotHoldBackTheCheckpoint(t *testing.T) {
	src := &fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event {
		return []*sluice.Event{row(10), mark(100)}
	}}
	sink := &holdSink{}
	drop := transformFunc(func(*sluice.Event) (bool, error) { return false, nil })
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{sink}, Transforms: []Transform{{Path: "pipelines.t.transforms[0]", Transform: drop}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	<-src.done
	waitFor(t, "checkpoint", func() bool { return src.lastConfirmed() == 100 })
	if len(sink.evs) != 0 {
		t.Fatalf("sink got %d filtered events", len(sink.evs))
	}
}

type transformFunc func(*sluice.Event) (bool, error)

func (f transformFunc) Apply(ev *sluice.Event) (bool, error) { return f(ev) }

var ordersTable = &sluice.Table{Schema: "public", Name: "orders",
	Columns: []sluice.Column{{Name: "id", Type: sluice.TypeInt32, Key: true}, {Name: "note", Type: sluice.TypeText}}, Key: []int{0}}

func orderRow(lsn uint64, note string) *sluice.Event {
	return &sluice.Event{Op: sluice.OpCreate, Table: ordersTable, Pos: sluice.Position{LSN: lsn, TxLSN: lsn},
		After: sluice.Row{{Kind: sluice.KindPresent, Int: 1}, {Kind: sluice.KindPresent, Bytes: []byte(note)}}}
}

// A sink's own transforms change that sink's copy: neither the other sink
// nor the source's event sees the change, while a pipeline transform's
// change reaches every sink.
func TestSinkTransformsChangeOnlyTheirSinksCopy(t *testing.T) {
	emitted := orderRow(10, "secret")
	src := &fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event {
		return []*sluice.Event{emitted, mark(100)}
	}}
	renamed := &sluice.Table{Schema: "public", Name: "orders_masked", Columns: ordersTable.Columns, Key: ordersTable.Key}
	mask := transformFunc(func(ev *sluice.Event) (bool, error) {
		ev.After[1] = sluice.Value{Kind: sluice.KindPresent, Bytes: []byte("***")}
		ev.Table = renamed
		ev.Snapshot = sluice.SnapshotTrue
		return true, nil
	})
	stamp := transformFunc(func(ev *sluice.Event) (bool, error) { ev.TxOrder = 7; return true, nil })
	masked, plain := &holdSink{}, &holdSink{}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{masked, plain},
		Transforms:     []Transform{{Path: "pipelines.t.transforms[0]", Transform: stamp}},
		SinkTransforms: [][]Transform{{{Path: "pipelines.t.sinks.masked.transforms[0]", Transform: mask}}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	<-src.done

	got, want := masked.evs[0], plain.evs[0]
	if string(got.After[1].Bytes) != "***" || got.Table != renamed || got.Snapshot != sluice.SnapshotTrue {
		t.Errorf("the masked sink did not get its transform's change: %+v", got)
	}
	for name, ev := range map[string]*sluice.Event{"other sink": want, "source's event": emitted} {
		if string(ev.After[1].Bytes) != "secret" || ev.Table != ordersTable || ev.Snapshot != sluice.SnapshotFalse {
			t.Errorf("a per-sink change leaked to the %s: note %q, table %s, snapshot %s", name, ev.After[1].Bytes, ev.Table.Name, ev.Snapshot)
		}
	}
	if got.TxOrder != 7 || want.TxOrder != 7 {
		t.Errorf("the pipeline transform's change did not reach every sink: %d, %d", got.TxOrder, want.TxOrder)
	}
	masked.release(0)
	plain.release(0)
	waitFor(t, "checkpoint", func() bool { return src.lastConfirmed() == 100 })
}

// An event one sink's transforms drop is acknowledged for that sink, so it
// holds back nothing once the other sink has it.
func TestSinkTransformDropIsAcknowledged(t *testing.T) {
	src := &fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event {
		return []*sluice.Event{row(10), mark(100)}
	}}
	drop := transformFunc(func(*sluice.Event) (bool, error) { return false, nil })
	dropping, keeping := &holdSink{}, &holdSink{}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{dropping, keeping},
		SinkTransforms: [][]Transform{{{Path: "x", Transform: drop}}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	<-src.done
	if len(dropping.evs) != 0 {
		t.Fatalf("the dropping sink got %d events", len(dropping.evs))
	}
	if got := src.lastConfirmed(); got != 0 {
		t.Fatalf("confirmed %d before the keeping sink acknowledged", got)
	}
	keeping.release(0)
	waitFor(t, "checkpoint", func() bool { return src.lastConfirmed() == 100 })
}

// A transform that fails would fail again on the replayed event: the
// pipeline stops at once with an error that names the transform's key.
func TestTransformErrorIsPermanentAndNamesItsKey(t *testing.T) {
	bad := transformFunc(func(*sluice.Event) (bool, error) { return false, errors.New("no such column") })
	for _, tc := range []struct {
		name string
		p    func(src sluice.Source) *Pipeline
		key  string
	}{
		{"pipeline", func(src sluice.Source) *Pipeline {
			return &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{&holdSink{}},
				Transforms: []Transform{{Path: "pipelines.t.transforms[1]", Transform: bad}}}
		}, "pipelines.t.transforms[1]"},
		{"sink", func(src sluice.Source) *Pipeline {
			return &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{&holdSink{}, &holdSink{}},
				SinkTransforms: [][]Transform{nil, {{Path: "pipelines.t.sinks.b.transforms[0]", Transform: bad}}}}
		}, "pipelines.t.sinks.b.transforms[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeSource{events: func(int) []*sluice.Event { return []*sluice.Event{orderRow(10, "x"), mark(100)} }}
			p := tc.p(src)
			p.MinBackoff, p.MaxBackoff = time.Millisecond, time.Millisecond
			done := make(chan error, 1)
			go func() { done <- p.Run(context.Background()) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the pipeline keeps retrying a failing transform")
			}
			if !sluice.IsPermanent(err) {
				t.Errorf("error %v is not permanent", err)
			}
			for _, want := range []string{tc.key, "no such column", "public.orders"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v does not name %q", err, want)
				}
			}
			if src.runs != 1 || p.Stats.Restarts.Load() != 0 {
				t.Errorf("source ran %d times, %d restarts; want 1 and 0", src.runs, p.Stats.Restarts.Load())
			}
		})
	}
}

// A sink that fails an event makes the pipeline restart from the last
// checkpoint: the transaction before the failure is confirmed, the failed
// one only once a later run has delivered it. The sink acknowledges every
// other event at once, so a tracker that confirmed past an unacknowledged
// (or failed) event would confirm 200 during the first run.
func TestSinkFailureRestartsFromCheckpoint(t *testing.T) {
	var mu sync.Mutex
	delivered20 := false // an ack(nil) of the event at 20 happened
	var early []uint64   // confirmations of 200 before that
	src := &fakeSource{done: make(chan struct{}), events: func(run int) []*sluice.Event {
		return []*sluice.Event{row(10), mark(100), row(20), mark(200)}
	}}
	src.onConfirm = func(lsn uint64) {
		mu.Lock()
		defer mu.Unlock()
		if lsn >= 200 && !delivered20 {
			early = append(early, lsn)
		}
	}
	runs := 0
	sink := sinkFunc(func(ev *sluice.Event, ack func(error)) {
		mu.Lock()
		if ev.Pos.LSN == 10 {
			runs++
		}
		fail := ev.Pos.LSN == 20 && runs == 1
		if ev.Pos.LSN == 20 && !fail {
			delivered20 = true
		}
		mu.Unlock()
		if fail {
			// Fail it once the mark after it is in the tracker, as a real
			// sink's asynchronous acknowledgement would.
			go func() { <-src.done; ack(errors.New("broker gone")) }()
			return
		}
		ack(nil)
	})
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{sink}, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "confirmation of 200 after the restart", func() bool { return src.lastConfirmed() == 200 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("clean shutdown returned %v", err)
	}
	if p.Stats.Restarts.Load() < 1 {
		t.Fatal("restart not counted")
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	if len(early) > 0 {
		t.Fatalf("confirmed %v before the failed event was delivered (all: %v)", early, src.confirmed)
	}
	if len(src.confirmed) == 0 || src.confirmed[0] != 100 {
		t.Fatalf("the transaction before the failure was not confirmed first: %v", src.confirmed)
	}
}

// sinkFunc is a sink whose Write is f; Open and Close do nothing.
type sinkFunc func(ev *sluice.Event, ack func(error))

func (f sinkFunc) Open(context.Context) error  { return nil }
func (f sinkFunc) Close(context.Context) error { return nil }
func (f sinkFunc) Write(_ context.Context, ev *sluice.Event, ack func(error)) error {
	f(ev, ack)
	return nil
}

func TestPermanentErrorStopsWithoutRetry(t *testing.T) {
	src := sourceFunc(func(ctx context.Context, emit func(*sluice.Event) error) error {
		return sluice.Permanent(errors.New("wal_level is replica"))
	})
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{&holdSink{}}}
	err := p.Run(context.Background())
	if err == nil || !sluice.IsPermanent(err) {
		t.Fatalf("got %v, want a permanent error", err)
	}
}

type sourceFunc func(context.Context, func(*sluice.Event) error) error

func (f sourceFunc) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	return f(ctx, emit)
}
func (f sourceFunc) Confirm(sluice.Position) {}

func TestTrackerBlocksWhenFull(t *testing.T) {
	tr := newTracker(2, func(sluice.Position) {})
	ctx := context.Background()
	s0, _ := tr.add(ctx, sluice.Position{}, false, 1)
	tr.add(ctx, sluice.Position{}, false, 1)
	added := make(chan struct{})
	go func() { tr.add(ctx, sluice.Position{}, false, 1); close(added) }()
	select {
	case <-added:
		t.Fatal("add did not block on a full tracker")
	case <-time.After(20 * time.Millisecond):
	}
	tr.ackSlot(int(s0%2), nil)
	select {
	case <-added:
	case <-time.After(5 * time.Second):
		t.Fatal("add still blocked after an acknowledgement freed a slot")
	}
	cctx, cancel := context.WithCancel(ctx)
	go cancel()
	if _, err := tr.add(cctx, sluice.Position{}, false, 1); err == nil {
		t.Fatal("add on a full tracker ignored its context")
	}
}

// A shutdown while a sink is stuck (its destination down, Write blocked on
// a full buffer) ends within the drain timeout, and confirms nothing the
// sink did not acknowledge.
func TestShutdownEndsWithinDrainTimeoutWhenASinkIsStuck(t *testing.T) {
	src := &fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event {
		return []*sluice.Event{row(10), mark(100), row(20), mark(200)}
	}}
	stuck := make(chan struct{})
	var closed atomic.Bool
	sink := &ctxSink{write: func(ctx context.Context, ev *sluice.Event, ack func(error)) error {
		if ev.Pos.LSN == 10 {
			ack(nil)
			return nil
		}
		close(stuck)
		<-ctx.Done() // as a producer whose buffer is full waits
		ack(ctx.Err())
		return ctx.Err()
	}, close: func() { closed.Store(true) }}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{sink}, DrainTimeout: 200 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-stuck
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("shutdown hangs on a stuck sink")
	}
	if got := src.lastConfirmed(); got != 100 {
		t.Errorf("confirmed %d; want 100, the last acknowledged transaction", got)
	}
	if !closed.Load() {
		t.Error("the sink was not closed")
	}
}

// ctxSink is a sink whose Write and Close are functions.
type ctxSink struct {
	write func(ctx context.Context, ev *sluice.Event, ack func(error)) error
	close func()
}

func (s *ctxSink) Open(context.Context) error { return nil }
func (s *ctxSink) Close(context.Context) error {
	s.close()
	return nil
}
func (s *ctxSink) Write(ctx context.Context, ev *sluice.Event, ack func(error)) error {
	return s.write(ctx, ev, ack)
}

// TestLagAndQueue: the read lag is measured when an event is read, the
// delivery lag when every sink acknowledged it, both from its commit
// time; the queue counts what the sinks hold.
func TestLagAndQueue(t *testing.T) {
	commit := time.Now().Add(-3 * time.Second)
	ev := row(10)
	ev.CommitTime = commit
	src := &fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event { return []*sluice.Event{ev, mark(100)} }}
	sink := &holdSink{}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{sink}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	<-src.done
	st := &p.Stats
	if got := st.ReadCommitMs.Load(); got != commit.UnixMilli() {
		t.Errorf("read commit %d, want %d", got, commit.UnixMilli())
	}
	if lag := st.ReadLagMs.Load(); lag < 3000 || lag > 60000 {
		t.Errorf("read lag %d ms, want about 3000", lag)
	}
	if f := st.InFlight.Load(); f == nil || (*f)() != 2 {
		t.Errorf("in flight before the ack: %v", f)
	}
	if st.DeliveredCommitMs.Load() != 0 {
		t.Error("delivered before the sink acknowledged")
	}
	sink.release(0)
	waitFor(t, "checkpoint", func() bool { return src.lastConfirmed() == 100 })
	if got := st.DeliveredCommitMs.Load(); got != commit.UnixMilli() {
		t.Errorf("delivered commit %d, want %d", got, commit.UnixMilli())
	}
	if lag := st.DeliveredLagMs.Load(); lag < st.ReadLagMs.Load() {
		t.Errorf("delivery lag %d ms below the read lag %d", lag, st.ReadLagMs.Load())
	}
	if f := st.InFlight.Load(); f == nil || (*f)() != 0 {
		t.Error("in flight after the ack")
	}
}

// TestSourceFinishesItsTransactionAfterTheStopRequest: a source asked to
// stop in the middle of a transaction may still emit the rest of it and
// its mark, and the drain confirms it; before, the emits failed and the
// transaction, already partly with the sinks, was read again at the next
// start.
func TestSourceFinishesItsTransactionAfterTheStopRequest(t *testing.T) {
	src := &fakeSource{done: make(chan struct{}),
		events:    func(int) []*sluice.Event { return []*sluice.Event{row(10)} },
		afterStop: []*sluice.Event{row(11), mark(100)}}
	sink := &holdSink{}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{sink}, DrainTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	<-src.done
	cancel()
	for i := range 2 { // the two rows; the mark is not written to this sink
		waitFor(t, "the sink to hold the transaction", func() bool {
			sink.mu.Lock()
			defer sink.mu.Unlock()
			return len(sink.acks) > i
		})
		sink.release(i)
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown returned %v", err)
	}
	if got := src.lastConfirmed(); got != 100 {
		t.Errorf("confirmed %d; want 100, the transaction finished after the stop request", got)
	}
}
