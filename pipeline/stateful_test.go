package pipeline

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// statefulTransform records its life cycle, adds n events after each
// event it sees, and records the positions it was asked to make durable.
type statefulTransform struct {
	mu      sync.Mutex
	n       int
	opened  int
	closed  int
	openErr error
	synced  []uint64
	syncErr error
}

func (s *statefulTransform) Open(context.Context, sluice.Source) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened++
	return s.openErr
}

func (s *statefulTransform) Close() error { s.mu.Lock(); s.closed++; s.mu.Unlock(); return nil }

func (s *statefulTransform) Apply(ev *sluice.Event) (bool, error) {
	ev.Topic += "+a" // what the transform did, visible to the sink
	return true, nil
}

func (s *statefulTransform) Expand(ev *sluice.Event, emit func(*sluice.Event) error) error {
	for range s.n {
		x := &sluice.Event{Op: sluice.OpUpdate, Pos: ev.Pos, Topic: "added"}
		if err := emit(x); err != nil {
			return err
		}
	}
	return nil
}

func (s *statefulTransform) Checkpoint(pos sluice.Position) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synced = append(s.synced, pos.TxLSN)
	return s.syncErr
}

func (s *statefulTransform) lastSynced() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.synced) == 0 {
		return 0
	}
	return s.synced[len(s.synced)-1]
}

// TestExpandedEventsRunThroughLaterTransforms: an expander's events go
// through the transforms after it (not before it, not itself) to the
// sinks, after the event that caused them, and hold the checkpoint back
// until acknowledged; the position is made durable before it is
// confirmed; the transform is opened and closed once per run.
func TestExpandedEventsRunThroughLaterTransforms(t *testing.T) {
	src := &fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event { return []*sluice.Event{row(10), mark(100)} }}
	st := &statefulTransform{n: 2}
	var synced uint64
	src.onConfirm = func(uint64) { synced = st.lastSynced() }
	later := transformFunc(func(ev *sluice.Event) (bool, error) { ev.Topic += "+b"; return true, nil })
	sink := &holdSink{}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{sink},
		Transforms: []Transform{{Path: "t[0]", Transform: st}, {Path: "t[1]", Transform: later}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	<-src.done
	waitFor(t, "three events", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return len(sink.evs) == 3 })
	want := []string{"+a+b", "added+b", "added+b"}
	for i, ev := range sink.evs {
		if ev.Topic != want[i] {
			t.Errorf("event %d went through %q, want %q", i, ev.Topic, want[i])
		}
	}
	sink.release(0)
	sink.release(1)
	if got := src.lastConfirmed(); got != 0 {
		t.Fatalf("confirmed %d while an added event was unacknowledged", got)
	}
	sink.release(2)
	waitFor(t, "checkpoint", func() bool { return src.lastConfirmed() == 100 })
	if synced != 100 {
		t.Errorf("the transform had made %d durable when 100 was confirmed", synced)
	}
	cancel()
	<-done
	if st.opened != 1 || st.closed != 1 {
		t.Errorf("opened %d, closed %d; want 1 and 1", st.opened, st.closed)
	}
}

// TestFailedSyncIsNotConfirmed: a position the transform could not make
// durable is never confirmed, and the pipeline restarts.
func TestFailedSyncIsNotConfirmed(t *testing.T) {
	src := &fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event { return []*sluice.Event{row(10), mark(100)} }}
	st := &statefulTransform{syncErr: errors.New("disk full")}
	sink := &holdSink{}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{sink}, Transforms: []Transform{{Path: "t[0]", Transform: st}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	<-src.done
	waitFor(t, "event", func() bool { sink.mu.Lock(); defer sink.mu.Unlock(); return len(sink.evs) == 1 })
	sink.release(0)
	waitFor(t, "restart", func() bool { return p.Stats.Restarts.Load() > 0 })
	cancel()
	<-done
	if got := src.lastConfirmed(); got != 0 {
		t.Fatalf("confirmed %d although the sync failed", got)
	}
}

// TestOpenFailureIsRetried: a transform that cannot open fails the run
// (retried, not permanent) and is closed.
func TestOpenFailureIsRetried(t *testing.T) {
	src := &fakeSource{events: func(int) []*sluice.Event { return nil }}
	st := &statefulTransform{openErr: errors.New("no disk")}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{&holdSink{}}, Transforms: []Transform{{Path: "t[0]", Transform: st}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "restart", func() bool { return p.Stats.Restarts.Load() > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if src.runs != 0 {
		t.Errorf("the source ran %d times with a transform that did not open", src.runs)
	}
}
