package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// blockSink blocks in Write until released; notReady makes it report
// its destination down (sluice.ReadyChecker).
type blockSink struct {
	entered  chan struct{} // closed when Write first blocks
	release  chan struct{}
	once     sync.Once
	freeOnce sync.Once
	notReady bool
}

// free lets every Write return, now and later.
func (s *blockSink) free() { s.freeOnce.Do(func() { close(s.release) }) }

func newBlockSink(notReady bool) *blockSink {
	return &blockSink{entered: make(chan struct{}), release: make(chan struct{}), notReady: notReady}
}

func (s *blockSink) Open(context.Context) error  { return nil }
func (s *blockSink) Close(context.Context) error { return nil }
func (s *blockSink) Write(ctx context.Context, _ *sluice.Event, ack func(error)) error {
	s.once.Do(func() { close(s.entered) })
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	ack(nil)
	return nil
}
func (s *blockSink) Ready() error {
	if s.notReady {
		return errors.New("destination down")
	}
	return nil
}

// idleSource emits its events, then nothing until the pipeline stops:
// an idle database.
type idleSource struct {
	events  []*sluice.Event
	emitted chan struct{}
}

func (s *idleSource) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	for _, ev := range s.events {
		if err := emit(ev); err != nil {
			return err
		}
	}
	close(s.emitted)
	<-ctx.Done()
	return nil
}
func (s *idleSource) Confirm(sluice.Position) {}

// failSource fails for good at once.
type failSource struct{}

func (failSource) Run(context.Context, func(*sluice.Event) error) error {
	return sluice.Permanent(errors.New("broken"))
}
func (failSource) Confirm(sluice.Position) {}

// TestStuck: a running pipeline whose sink never returns from Write is
// stuck once the liveness timeout passes; an idle one, one waiting on a
// sink that reports its destination down, and one that failed for good
// are not.
func TestStuck(t *testing.T) {
	const timeout = 100 * time.Millisecond
	for _, tc := range []struct {
		name      string
		source    func() sluice.Source
		sink      *blockSink
		wantStuck bool
	}{
		{"blocked sink", func() sluice.Source {
			return &idleSource{events: []*sluice.Event{row(1)}, emitted: make(chan struct{})}
		}, newBlockSink(false), true},
		{"idle", func() sluice.Source { return &idleSource{emitted: make(chan struct{})} }, newBlockSink(false), false},
		{"sink reports its destination down", func() sluice.Source {
			return &idleSource{events: []*sluice.Event{row(1)}, emitted: make(chan struct{})}
		}, newBlockSink(true), false},
		{"failed for good", func() sluice.Source { return failSource{} }, newBlockSink(false), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.source()
			p := &Pipeline{Name: "shop", Source: src, Sinks: []sluice.Sink{tc.sink}, LivenessTick: 5 * time.Millisecond}
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan error, 1)
			go func() { stopped <- p.Run(ctx) }()
			defer func() {
				tc.sink.free()
				cancel()
				<-stopped
			}()
			if tc.wantStuck {
				waitFor(t, "the pipeline to be reported stuck", func() bool { return p.Stuck(timeout) != nil })
				err := p.Stuck(timeout)
				if msg := err.Error(); !strings.Contains(msg, "pipeline shop: stuck") || !strings.Contains(msg, "1 of 8192 events in flight") {
					t.Errorf("Stuck = %q, want the pipeline named and the queue", msg)
				}
				if p.Stuck(0) != nil {
					t.Error("Stuck(0) reports, want the check disabled")
				}
				tc.sink.free() // the write returns: progress again
				waitFor(t, "the pipeline to recover", func() bool { return p.Stuck(timeout) == nil })
				return
			}
			// Wait for the state under test, then well past the timeout,
			// sampling all along: it must never be reported stuck.
			switch s := src.(type) {
			case *idleSource:
				if len(s.events) > 0 {
					<-tc.sink.entered
				} else {
					<-s.emitted
				}
			case failSource:
				if err := <-stopped; err == nil {
					t.Fatal("Run returned nil, want the permanent error")
				}
				stopped <- nil
			}
			from := time.Now()
			for time.Since(from) < 3*timeout {
				if err := p.Stuck(timeout); err != nil {
					t.Fatalf("Stuck = %v, want nil", err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// TestSinkCounters: the runner counts the events handed to each sink by
// its configured name, not those its own transforms drop, and times
// their acknowledgement (a sample of them: see sinkMeter).
func TestSinkCounters(t *testing.T) {
	src := &fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event {
		var evs []*sluice.Event
		for i := range uint64(40) {
			evs = append(evs, row(i+1))
		}
		return append(evs, mark(40))
	}}
	a, b := &holdSink{}, &holdSink{}
	dropTwo := Transform{Path: "drop", Transform: transformFunc(func(ev *sluice.Event) (bool, error) { return ev.Pos.LSN != 2, nil })}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{a, b}, SinkNames: []string{"kafka", "search"},
		SinkTransforms: [][]Transform{nil, {dropTwo}}}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { p.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	<-src.done
	for _, s := range []*holdSink{a, b} {
		s.mu.Lock()
		n := len(s.acks)
		s.mu.Unlock()
		for i := range n {
			s.release(i)
		}
	}
	waitFor(t, "the checkpoint", func() bool { return src.lastConfirmed() == 40 })
	cs := p.SinkCounters()
	for i, want := range []struct {
		name   string
		events int64
	}{{"kafka", 40}, {"search", 39}} {
		if cs[i].Name != want.name || cs[i].Events.Load() != want.events {
			t.Errorf("sink %d: %s %d events, want %s %d", i, cs[i].Name, cs[i].Events.Load(), want.name, want.events)
		}
		if n, _, _ := cs[i].Latency.Snapshot(); n == 0 {
			t.Errorf("sink %s: no latency observed", cs[i].Name)
		}
	}
}

// TestLatencyHistogram: observations land in the first bucket whose
// bound is not below them, and the snapshot is cumulative.
func TestLatencyHistogram(t *testing.T) {
	var h LatencyHistogram
	for _, d := range []time.Duration{500 * time.Microsecond, time.Millisecond, 7 * time.Millisecond, 2 * time.Minute} {
		h.observe(d)
	}
	count, sum, cum := h.Snapshot()
	if count != 4 {
		t.Errorf("count %d, want 4", count)
	}
	if want := (2*time.Minute + 8500*time.Microsecond).Seconds(); sum < want-1e-9 || sum > want+1e-9 {
		t.Errorf("sum %v, want %v", sum, want)
	}
	for i, want := range map[int]uint64{0: 2, 2: 2, 3: 3, len(LatencyBuckets) - 1: 3} {
		if cum[i] != want {
			t.Errorf("le %v: %d, want %d", LatencyBuckets[i], cum[i], want)
		}
	}
}
