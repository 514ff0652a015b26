package testenv

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// countdownCtx is a context that ends itself the n-th time anyone asks
// for its Done channel: every step of a source that honours its context
// asks once or more, so stepping n through 1, 2, 3, … stops a source at
// each of its steps in turn, without a clock.
type countdownCtx struct {
	context.Context
	left   atomic.Int64
	fired  atomic.Bool
	cancel context.CancelFunc
}

func newCountdown(n int) *countdownCtx {
	ctx, cancel := context.WithCancel(context.Background())
	c := &countdownCtx{Context: ctx, cancel: cancel}
	c.left.Store(int64(n))
	return c
}

func (c *countdownCtx) Done() <-chan struct{} {
	if c.left.Add(-1) == 0 {
		c.fired.Store(true)
		c.cancel()
	}
	return c.Context.Done()
}

// maxStartUpSteps bounds StopAtEachStartUpStep: a start-up that asks for
// its context's Done channel more often than this is not one.
const maxStartUpSteps = 5000

// StopAtEachStartUpStep runs new sources one after another, stopping the
// n-th at the n-th look at its context, and checks that each such stop is
// a clean one (Run returns nil): a stop that cuts a start-up short reads
// nothing, and an error would count as a failure the daemon restarts
// from. The runs go on until one reaches its stream (streaming reports
// it) before its countdown ends; that one is stopped normally. It
// returns how many start-up steps it stopped at; every step whose stop
// was not clean is reported, up to ten.
func StopAtEachStartUpStep(t testing.TB, newSource func() sluice.Source, streaming func(sluice.Source) bool) int {
	t.Helper()
	discard := func(*sluice.Event) error { return nil }
	failed := 0
	for n := 1; n <= maxStartUpSteps; n++ {
		src := newSource()
		ctx := newCountdown(n)
		done := make(chan error, 1)
		go func() { done <- src.Run(ctx, discard) }()
		reached := false
		deadline := time.Now().Add(WaitLimit)
		var err error
	wait:
		for {
			select {
			case err = <-done:
				break wait
			case <-time.After(5 * time.Millisecond):
			}
			if !ctx.fired.Load() && streaming(src) {
				reached = true
				ctx.cancel()
				err = <-done
				break wait
			}
			if time.Now().After(deadline) {
				ctx.cancel()
				t.Fatalf("stop at step %d: the source neither stopped nor streamed within %v", n, WaitLimit)
			}
		}
		if !reached && !ctx.fired.Load() {
			t.Fatalf("run %d returned before any stop: %v", n, err)
		}
		if err != nil {
			// On to the next steps: the report names every step that
			// fails, not only the first.
			if failed++; failed <= 10 {
				t.Errorf("stopped at step %d of the start-up: Run returned %v; want a clean stop", n, err)
			}
		}
		if reached {
			if failed > 10 {
				t.Errorf("… and %d more steps", failed-10)
			}
			return n - 1
		}
	}
	t.Fatalf("the source did not reach its stream within %d looks at its context", maxStartUpSteps)
	return 0
}
