package pipeline

import (
	"context"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

// hbSink is a holdSink that also takes heartbeats (sink.HeartbeatWriter).
type hbSink struct{ holdSink }

var _ sink.HeartbeatWriter = (*hbSink)(nil)

func (s *hbSink) WriteHeartbeat(ctx context.Context, ev *sluice.Event, ack func(error)) error {
	return s.Write(ctx, ev, ack)
}

func heartbeat(lsn uint64) *sluice.Event {
	return &sluice.Event{Op: sluice.OpHeartbeat, Pos: sluice.Position{TxLSN: lsn}, Heartbeat: &sluice.Heartbeat{LSN: lsn}}
}

func ops(s *holdSink) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out string
	for _, ev := range s.evs {
		out += ev.Op.String()
	}
	return out
}

// A heartbeat skips the transforms and the sinks that do not write
// heartbeats; its position is confirmed once the heartbeat writers
// acknowledged it, or at once when there is none.
func TestHeartbeats(t *testing.T) {
	events := func(int) []*sluice.Event { return []*sluice.Event{row(10), mark(100), heartbeat(100), heartbeat(150)} }
	for _, withWriter := range []bool{true, false} {
		src := &fakeSource{done: make(chan struct{}), events: events}
		plain, writer := &holdSink{}, &hbSink{}
		sinks := []sluice.Sink{plain}
		if withWriter {
			sinks = append(sinks, writer)
		}
		seen := ""
		spy := transformFunc(func(ev *sluice.Event) (bool, error) { seen += ev.Op.String(); return true, nil })
		p := &Pipeline{Name: "t", Source: src, Sinks: sinks, Transforms: []Transform{{Path: "x", Transform: spy}}}
		ctx, cancel := context.WithCancel(context.Background())
		go p.Run(ctx)
		<-src.done
		if seen != "c" || ops(plain) != "c" {
			t.Fatalf("writer %v: transforms saw %q, the plain sink got %q; want the row only", withWriter, seen, ops(plain))
		}
		plain.release(0)
		if !withWriter {
			waitFor(t, "checkpoint 150 without a heartbeat writer", func() bool { return src.lastConfirmed() == 150 })
			cancel()
			continue
		}
		if got := ops(&writer.holdSink); got != "chh" {
			t.Fatalf("the heartbeat writer got %q, want chh", got)
		}
		writer.release(0)
		waitFor(t, "checkpoint 100", func() bool { return src.lastConfirmed() == 100 })
		writer.release(1)
		writer.release(2)
		waitFor(t, "checkpoint 150", func() bool { return src.lastConfirmed() == 150 })
		if n := p.Stats.Events.Load(); n != 1 {
			t.Errorf("Stats.Events = %d, want 1: heartbeats are not change events", n)
		}
		cancel()
	}
}
