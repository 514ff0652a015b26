package source

import (
	"context"
	"sync/atomic"
	"time"
)

// StopClock remembers when a source was asked to stop (its Run context
// ended), so that its drain — waiting for the sinks to acknowledge what was
// read — is bounded by drain_timeout from the stop request. A source whose
// emit was blocked on a stuck sink reaches its drain only when the runner
// abandons the sinks, itself drain_timeout after the request: timed from
// there, the shutdown would take twice as long as promised.
type StopClock struct {
	at   atomic.Int64 // unix nanoseconds of the stop request; 0 while running
	stop func() bool
}

// NewStopClock starts watching ctx; Close releases the watch.
func NewStopClock(ctx context.Context) *StopClock {
	c := &StopClock{}
	c.stop = context.AfterFunc(ctx, func() { c.at.Store(time.Now().UnixNano()) })
	return c
}

// Deadline is d after the stop request, or d from now when there was
// none (a drain after a failure).
func (c *StopClock) Deadline(d time.Duration) time.Time {
	if at := c.at.Load(); at != 0 {
		return time.Unix(0, at).Add(d)
	}
	return time.Now().Add(d)
}

// Close stops watching the context.
func (c *StopClock) Close() { c.stop() }
