package testenv

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// WaitLimit bounds every wait of a Collector. It is a failure bound, not
// a pace: a wait returns as soon as what it waits for was emitted.
const WaitLimit = 2 * time.Minute

// pollEvery is how often WaitFor evaluates its condition, which may
// depend on state outside the collector (a state file, the database).
const pollEvery = 20 * time.Millisecond

// Collector runs a sluice.Source the way the pipeline's runner does and
// keeps what it emits, for a test to wait on and inspect: one harness for
// every source, as Telegraf's testutil.Accumulator is for every input.
//
// Each mark (OpMark) is confirmed as soon as it is emitted, as if every
// sink had delivered everything before it at once. With HoldMarks the
// test confirms instead: Confirm hands marks to the source in whatever
// order the test picks.
//
// The emit callback never fails on its own (Reject makes it fail) and
// keeps collecting after Stop, while the source drains.
type Collector struct {
	t      testing.TB
	src    sluice.Source
	hold   bool
	reject func(*sluice.Event) error

	cancel context.CancelFunc
	done   chan struct{} // closed once Run returned
	err    error         // Run's result, set before done is closed

	mu      sync.Mutex
	log     []*sluice.Event // events and marks, in emit order
	events  int             // entries of log that are not marks
	maxMark uint64          // highest Pos.TxLSN of a mark
	changed chan struct{}   // closed and replaced at every emission
}

// CollectOption changes how a Collector treats what the source emits.
type CollectOption func(*Collector)

// HoldMarks keeps marks unconfirmed until the test passes them to Confirm.
func HoldMarks() CollectOption { return func(c *Collector) { c.hold = true } }

// Reject calls f for every event that is not a mark before it is
// collected; when f returns an error, the event is not collected and emit
// returns the error to the source, as the pipeline does when it fails.
func Reject(f func(*sluice.Event) error) CollectOption {
	return func(c *Collector) { c.reject = f }
}

// Collect starts src.Run and collects what it emits until Stop or the
// end of the test, whichever comes first.
func Collect(t testing.TB, src sluice.Source, opts ...CollectOption) *Collector {
	t.Helper()
	c := &Collector{t: t, src: src, done: make(chan struct{}), changed: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		c.err = src.Run(ctx, c.emit)
		close(c.done)
	}()
	t.Cleanup(func() {
		c.cancel()
		select {
		case <-c.done:
		case <-time.After(WaitLimit):
			t.Errorf("the source's Run did not return within %v of the cancellation", WaitLimit)
		}
	})
	return c
}

func (c *Collector) emit(ev *sluice.Event) error {
	if ev.Op == sluice.OpMark && !c.hold {
		c.src.Confirm(ev.Pos)
	}
	if ev.Op != sluice.OpMark && c.reject != nil {
		if err := c.reject(ev); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, ev)
	if ev.Op != sluice.OpMark {
		c.events++
	} else {
		c.maxMark = max(c.maxMark, ev.Pos.TxLSN)
	}
	close(c.changed)
	c.changed = make(chan struct{})
	return nil
}

// Events returns the events collected so far, without marks.
func (c *Collector) Events() []*sluice.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*sluice.Event, 0, c.events)
	for _, ev := range c.log {
		if ev.Op != sluice.OpMark {
			out = append(out, ev)
		}
	}
	return out
}

// Marks returns the marks emitted so far, in order.
func (c *Collector) Marks() []*sluice.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*sluice.Event, 0, len(c.log)-c.events)
	for _, ev := range c.log {
		if ev.Op == sluice.OpMark {
			out = append(out, ev)
		}
	}
	return out
}

// Log returns everything emitted so far, events and marks, in order.
func (c *Collector) Log() []*sluice.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*sluice.Event(nil), c.log...)
}

// IDs returns the first column of each event's After row as an int:
// the id of the tables tests create.
func IDs(evs []*sluice.Event) []int64 {
	var out []int64
	for _, ev := range evs {
		out = append(out, ev.After[0].Int)
	}
	return out
}

// MarkAfter returns the position of the first mark emitted after the
// first event ev for which match reports true: the transaction boundary
// a restart would resume after. It fails the test when there is none.
func (c *Collector) MarkAfter(match func(ev *sluice.Event) bool) sluice.Position {
	c.t.Helper()
	seen := false
	for _, ev := range c.Log() {
		switch {
		case seen && ev.Op == sluice.OpMark:
			return ev.Pos
		case !seen && ev.Op != sluice.OpMark && match(ev):
			seen = true
		}
	}
	c.t.Fatal("MarkAfter: no mark after the event")
	return sluice.Position{}
}

// Confirm passes each mark's position to the source's Confirm, in the
// order given. The runner confirms marks in the order they were emitted;
// a test may pick any order.
func (c *Collector) Confirm(marks ...*sluice.Event) {
	c.t.Helper()
	for _, m := range marks {
		if m.Op != sluice.OpMark {
			c.t.Fatalf("Confirm: a %s event is not a mark", m.Op)
			return
		}
		c.src.Confirm(m.Pos)
	}
}

// Done is closed once the source's Run returned; Stop then returns its
// error.
func (c *Collector) Done() <-chan struct{} { return c.done }

// Cancel cancels the source's context without waiting for Run to return:
// from inside an emit, a stop request at a chosen point of the stream.
func (c *Collector) Cancel() { c.cancel() }

// Stop cancels the source's context and waits until Run returns; it
// returns Run's error. Calling it again returns the same error.
func (c *Collector) Stop() error {
	c.t.Helper()
	c.cancel()
	select {
	case <-c.done:
		return c.err
	case <-time.After(WaitLimit):
		c.t.Fatalf("the source's Run did not return within %v of the cancellation", WaitLimit)
		return fmt.Errorf("the source's Run did not return")
	}
}

// Wait returns the events (without marks) once at least n were emitted.
// It fails the test when Run returns first or WaitLimit passes.
func (c *Collector) Wait(n int) []*sluice.Event {
	c.t.Helper()
	return c.wait(fmt.Sprintf("%d events", n), true, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.events >= n
	})
}

// WaitMark returns the events (without marks) once the source emitted a
// mark at or past txLSN: every change the source read before that
// position has then been emitted. It fails the test when Run returns
// first or WaitLimit passes.
func (c *Collector) WaitMark(txLSN uint64) []*sluice.Event {
	c.t.Helper()
	return c.wait(fmt.Sprintf("a mark at or past %d", txLSN), true, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.maxMark >= txLSN
	})
}

// WaitCaughtUp returns the events (without marks) once n were emitted
// and then a mark at or past end(). end reads the end of the change log
// from the database (a WAL or binlog position numbered like the
// source's marks), so every change committed before the call, an event
// beyond the n a test expects included, is then among the events. A
// source whose Run returned emits nothing more: then it returns what was
// collected.
func (c *Collector) WaitCaughtUp(n int, end func() uint64) []*sluice.Event {
	c.t.Helper()
	c.Wait(n)
	select {
	case <-c.done:
		return c.Events()
	default:
	}
	return c.WaitMark(end())
}

// WaitFor returns the events (without marks) once cond, given them,
// reports true. As cond may look at state outside the collector (the
// source's state file, the database), it is polled every 20 ms rather
// than evaluated at each emission. WaitFor fails the test, naming what,
// when Run returns first or WaitLimit passes.
func (c *Collector) WaitFor(what string, cond func(events []*sluice.Event) bool) []*sluice.Event {
	c.t.Helper()
	return c.wait(what, false, func() bool { return cond(c.Events()) })
}

// wait blocks until ready reports true. It evaluates ready at every
// emission (onEmit) or every pollEvery, and once more when Run returned,
// for the last emissions before that.
func (c *Collector) wait(what string, onEmit bool, ready func() bool) []*sluice.Event {
	c.t.Helper()
	limit := time.NewTimer(WaitLimit)
	defer limit.Stop()
	var tick <-chan time.Time
	if !onEmit {
		tk := time.NewTicker(pollEvery)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		var changed <-chan struct{}
		if onEmit {
			c.mu.Lock()
			changed = c.changed // taken before ready: an emission after it wakes us
			c.mu.Unlock()
		}
		if ready() {
			return c.Events()
		}
		select {
		case <-changed:
		case <-tick:
		case <-c.done:
			if ready() {
				return c.Events()
			}
			c.t.Fatalf("waiting for %s: the source stopped (Run returned %v) after %d events", what, c.err, len(c.Events()))
			return nil
		case <-limit.C:
			c.t.Fatalf("waiting for %s: timed out after %v with %d events", what, WaitLimit, len(c.Events()))
			return nil
		}
	}
}
