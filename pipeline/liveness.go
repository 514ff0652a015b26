package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice"
)

// Liveness: the daemon's /healthz fails when a running pipeline is stuck,
// so that an orchestrator restarts a process whose pipeline goroutine is
// wedged (a sink's Write that never returns, acknowledgements that never
// come while the queue is full, a Close that hangs).
//
// The runner has no loop of its own: the source drives it by calling
// emit, and an idle source does not call it at all (Postgres emits an
// idle mark only when the server's WAL moved). So progress cannot be "emit
// was called recently". Instead every call the runner makes that may
// block (emit, and a sink's Open and Close) counts turns: one on entry,
// one on return, so an odd count means "inside a call". A watchdog
// goroutine samples the count every LivenessTick and stamps
// Stats.Progress when the count moved or is even (idle between calls is
// healthy: the source has nothing to say, and sources detect a dead
// connection themselves). Only a call that has not returned for a whole
// timeout leaves Progress behind. The hot path pays two uncontended
// atomic adds per event and no clock read.

// turning wraps emit so each call counts as a turn of the loop.
func (p *Pipeline) turning(emit func(*sluice.Event) error) func(*sluice.Event) error {
	return func(ev *sluice.Event) error {
		p.turns.Add(1)
		err := emit(ev)
		p.turns.Add(1)
		return err
	}
}

// openSink opens s as one turn of the loop: an Open that hangs is stuck.
func (p *Pipeline) openSink(ctx context.Context, s sluice.Sink) error {
	p.turns.Add(1)
	defer p.turns.Add(1)
	return s.Open(ctx)
}

// closeSink closes s as one turn of the loop.
func (p *Pipeline) closeSink(ctx context.Context, s sluice.Sink) error {
	p.turns.Add(1)
	defer p.turns.Add(1)
	return s.Close(ctx)
}

// watch marks the pipeline running and starts the watchdog; the returned
// function stops it and marks the pipeline stopped.
func (p *Pipeline) watch() (stop func()) {
	p.Stats.Progress.Store(time.Now().UnixNano())
	p.Stats.Running.Store(true)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(p.LivenessTick)
		defer t.Stop()
		last := p.turns.Load()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				n := p.turns.Load()
				if n%2 == 0 || n != last {
					p.Stats.Progress.Store(now.UnixNano())
				}
				last = n
			}
		}
	}()
	return func() {
		close(done)
		<-exited
		p.Stats.Running.Store(false)
	}
}

// Stuck returns an error naming the pipeline when it is running and its
// loop has not turned for longer than timeout: /healthz fails on it. A
// pipeline that is not running (not started, stopped, or failed for good,
// which /readyz and sluice_pipeline_failed report) is not stuck, nor is
// one whose sinks report themselves not ready (sluice.ReadyChecker): a
// sink that retries a destination that is down blocks the pipeline on
// purpose, /readyz reports it, and restarting the process would not bring
// the destination back. timeout <= 0 disables the check.
func (p *Pipeline) Stuck(timeout time.Duration) error {
	if timeout <= 0 || !p.Stats.Running.Load() {
		return nil
	}
	since := time.Since(time.Unix(0, p.Stats.Progress.Load()))
	if since <= timeout {
		return nil
	}
	for _, s := range p.Sinks {
		if rc, ok := s.(sluice.ReadyChecker); ok && rc.Ready() != nil {
			return nil
		}
	}
	queue := ""
	if f := p.Stats.InFlight.Load(); f != nil {
		queue = fmt.Sprintf("; %d of %d events in flight", (*f)(), p.Capacity)
	}
	return fmt.Errorf("pipeline %s: stuck: no progress for %s (liveness timeout %s)%s",
		p.Name, since.Truncate(time.Millisecond), timeout, queue)
}
