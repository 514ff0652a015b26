package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

// markSink is a holdSink that also takes marks (sink.MarkWriter), holding
// their acks too, in the order it receives events and marks.
type markSink struct{ holdSink }

var _ sink.MarkWriter = (*markSink)(nil)

func (s *markSink) WriteMark(ctx context.Context, ev *sluice.Event, ack func(error)) error {
	return s.Write(ctx, ev, ack)
}

// A sink that writes at transaction boundaries gets each mark after the
// events before it, and the mark's position is confirmed only once that
// sink has acknowledged the mark, however early its events were acked.
func TestMarksReachMarkWritersAndHoldTheCheckpoint(t *testing.T) {
	src := &fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event {
		return []*sluice.Event{row(10), mark(100), row(20), mark(200)}
	}}
	plain, marker := &holdSink{}, &markSink{}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{plain, marker}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	<-src.done

	marker.mu.Lock()
	var ops string
	for _, ev := range marker.evs {
		ops += ev.Op.String()
	}
	marker.mu.Unlock()
	if ops != "c.c." {
		t.Fatalf("the mark writer got %q, want events and marks in order (c.c.)", ops)
	}
	if len(plain.evs) != 2 {
		t.Fatalf("the plain sink got %d events, want the 2 rows only", len(plain.evs))
	}
	plain.release(0)
	plain.release(1)
	marker.release(0) // row 10
	marker.release(2) // row 20
	time.Sleep(10 * time.Millisecond)
	if got := src.lastConfirmed(); got != 0 {
		t.Fatalf("confirmed %d before the mark writer acknowledged a mark", got)
	}
	marker.release(1)
	waitFor(t, "checkpoint 100", func() bool { return src.lastConfirmed() == 100 })
	marker.release(3)
	waitFor(t, "checkpoint 200", func() bool { return src.lastConfirmed() == 200 })
}
