package testenv

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// feedSource emits what the test sends on feed until its context ends
// (then it returns end) or the test sends an error on fail (a crash). It
// records the positions it is told to confirm.
type feedSource struct {
	feed chan *sluice.Event
	fail chan error
	end  error

	mu        sync.Mutex
	confirmed []uint64
}

func newFeedSource() *feedSource {
	return &feedSource{feed: make(chan *sluice.Event), fail: make(chan error)}
}

func (s *feedSource) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	for {
		select {
		case <-ctx.Done():
			return s.end
		case err := <-s.fail:
			return err
		case ev := <-s.feed:
			if err := emit(ev); err != nil {
				return err
			}
		}
	}
}

func (s *feedSource) Confirm(pos sluice.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.confirmed = append(s.confirmed, pos.TxLSN)
}

func (s *feedSource) confirmations() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.confirmed...)
}

// send feeds evs from another goroutine, as a source reads them.
func (s *feedSource) send(evs ...*sluice.Event) {
	go func() {
		for _, ev := range evs {
			s.feed <- ev
		}
	}()
}

func change(id int64) *sluice.Event {
	return &sluice.Event{Op: sluice.OpCreate, After: sluice.Row{{Kind: sluice.KindPresent, Int: id}}}
}

func mark(pos uint64) *sluice.Event {
	return &sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: pos}}
}

func TestCollectorWaitsAndConfirmsAtOnce(t *testing.T) {
	src := newFeedSource()
	c := Collect(t, src)
	src.send(change(1), change(2), mark(10), change(3), mark(20))
	if got := IDs(c.Wait(3)); !reflect.DeepEqual(got, []int64{1, 2, 3}) {
		t.Fatalf("Wait(3) = %v", got)
	}
	c.WaitMark(20)
	if got := src.confirmations(); !reflect.DeepEqual(got, []uint64{10, 20}) {
		t.Errorf("confirmed %v, want each mark at once, in order", got)
	}
	var ops []string
	for _, ev := range c.Log() {
		ops = append(ops, ev.Op.String())
	}
	if got := strings.Join(ops, ""); got != "cc.c." {
		t.Errorf("log %s, want cc.c.", got)
	}
	if m := c.Marks(); len(m) != 2 || m[1].Pos.TxLSN != 20 {
		t.Errorf("marks %v", m)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("Stop = %v", err)
	}
}

func TestCollectorHoldsMarks(t *testing.T) {
	src := newFeedSource()
	c := Collect(t, src, HoldMarks())
	src.send(change(1), mark(10), change(2), mark(20), mark(30))
	c.WaitMark(30)
	if got := src.confirmations(); len(got) != 0 {
		t.Fatalf("confirmed %v while marks are held", got)
	}
	m := c.Marks()
	c.Confirm(m[2], m[0]) // out of order, as the test chooses
	if got := src.confirmations(); !reflect.DeepEqual(got, []uint64{30, 10}) {
		t.Errorf("confirmed %v, want 30 then 10", got)
	}
}

func TestCollectorStopReturnsRunsError(t *testing.T) {
	src := newFeedSource()
	src.end = errors.New("drained badly")
	c := Collect(t, src)
	if err := c.Stop(); err != src.end {
		t.Fatalf("Stop = %v, want Run's error", err)
	}
	if err := c.Stop(); err != src.end {
		t.Fatalf("second Stop = %v, want the same error", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
}

func TestCollectorSourceThatStops(t *testing.T) {
	src := newFeedSource()
	c := Collect(t, src)
	src.send(change(1))
	c.Wait(1)
	crash := errors.New("crash")
	src.fail <- crash
	<-c.Done()
	if err := c.Stop(); err != crash {
		t.Fatalf("Stop after Run returned = %v, want %v", err, crash)
	}

	// A wait for more than arrived fails at once, naming Run's error.
	f := &fakeTB{TB: t}
	c.t = f
	if evs := c.Wait(2); evs != nil || !strings.Contains(f.fatal, "the source stopped (Run returned crash) after 1 events") {
		t.Errorf("Wait(2) on a stopped source = %v, fatal %q", evs, f.fatal)
	}
	// A wait for what did arrive still succeeds.
	if evs := c.Wait(1); len(evs) != 1 {
		t.Errorf("Wait(1) on a stopped source = %v", evs)
	}
}

func TestCollectorReject(t *testing.T) {
	src := newFeedSource()
	refuse := errors.New("sink failed")
	c := Collect(t, src, Reject(func(ev *sluice.Event) error {
		if ev.After[0].Int == 2 {
			return refuse
		}
		return nil
	}))
	src.send(change(1), mark(10), change(2))
	<-c.Done()
	if err := c.Stop(); err != refuse {
		t.Fatalf("Run returned %v, want the rejection", err)
	}
	if got := IDs(c.Events()); !reflect.DeepEqual(got, []int64{1}) {
		t.Errorf("collected %v, want the rejected event left out", got)
	}
}

func TestCollectorWaitFor(t *testing.T) {
	src := newFeedSource()
	c := Collect(t, src)
	var outside atomic.Bool // state the source keeps elsewhere
	go func() {
		src.feed <- change(1)
		src.feed <- change(2)
		outside.Store(true)
	}()
	evs := c.WaitFor("two events and the outside state", func(evs []*sluice.Event) bool {
		return len(evs) == 2 && outside.Load()
	})
	if len(evs) != 2 {
		t.Fatalf("WaitFor returned %d events", len(evs))
	}
}

func TestCollectorWaitCaughtUp(t *testing.T) {
	src := newFeedSource()
	c := Collect(t, src)
	// An extra event after the two expected, before the log's end (30).
	src.send(change(1), mark(10), change(2), mark(20), change(3), mark(30))
	if got := IDs(c.WaitCaughtUp(2, func() uint64 { return 30 })); !reflect.DeepEqual(got, []int64{1, 2, 3}) {
		t.Fatalf("WaitCaughtUp(2) = %v, want the extra event too", got)
	}
	c.Stop()
	if got := IDs(c.WaitCaughtUp(1, func() uint64 { t.Fatal("end read for a stopped source"); return 0 })); len(got) != 3 {
		t.Errorf("WaitCaughtUp on a stopped source = %v", got)
	}
}
