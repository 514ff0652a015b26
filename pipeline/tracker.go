package pipeline

import (
	"context"
	"sync"

	"github.com/sluice-cdc/sluice"
)

// tracker keeps the events handed to sinks in read order and finds the
// checkpoint: the position of the last mark such that it and everything
// before it has been acknowledged by every sink. It holds at most cap
// entries; add blocks while it is full, which is the pipeline's memory
// bound and its backpressure on the source.
type tracker struct {
	mu      sync.Mutex
	cond    *sync.Cond // signalled when entries are released or on close
	ring    []entry
	head    uint64 // sequence number of the oldest entry
	tail    uint64 // sequence number the next entry gets
	closed  bool
	err     error // first sink error
	confirm func(sluice.Position)
	// confirmBound, when set, is called instead of confirm with the
	// checkpoint's boundary number: marks are numbered 1, 2, … in the
	// order they are added (exactly.go's gate).
	confirmBound func(pos sluice.Position, bound uint64)
	marks        uint64 // marks added so far
	// delivered, when set, gets the newest commit time (Unix ms) among
	// the entries a checkpoint move released: what every sink now holds.
	delivered func(commitMs int64)

	checkpoint sluice.Position
	hasCP      bool
}

type entry struct {
	pending int // acknowledgements still missing
	mark    bool
	pos     sluice.Position
	commit  int64  // the event's commit time, Unix ms; 0 unknown
	bound   uint64 // a mark's number (see confirmBound)
}

func newTracker(capacity int, confirm func(sluice.Position)) *tracker {
	t := &tracker{ring: make([]entry, capacity), confirm: confirm}
	t.cond = sync.NewCond(&t.mu)
	return t
}

// ackFuncs builds one acknowledgement function per ring slot, so that
// handing an event to the sinks allocates no closure: a slot holds one
// entry at a time, and it is not reused before every sink has acked it.
// onErr runs after a failed acknowledgement is recorded.
func (t *tracker) ackFuncs(onErr func(error)) []func(error) {
	fs := make([]func(error), len(t.ring))
	for i := range fs {
		fs[i] = func(err error) {
			t.ackSlot(i, err)
			if err != nil {
				onErr(err)
			}
		}
	}
	return fs
}

// add appends an entry waiting for pending acknowledgements and returns
// its sequence number. It blocks while the tracker is full; it returns
// ctx's error if ctx ends first and errClosed after close.
func (t *tracker) add(ctx context.Context, pos sluice.Position, mark bool, pending int) (uint64, error) {
	return t.addAt(ctx, pos, 0, mark, pending)
}

// addAt is add with the event's commit time (Unix ms, 0 unknown), which
// the delivery lag is measured from.
func (t *tracker) addAt(ctx context.Context, pos sluice.Position, commitMs int64, mark bool, pending int) (uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tail-t.head == uint64(len(t.ring)) {
		stop := context.AfterFunc(ctx, func() {
			t.mu.Lock()
			t.cond.Broadcast()
			t.mu.Unlock()
		})
		defer stop()
		for t.tail-t.head == uint64(len(t.ring)) && !t.closed && ctx.Err() == nil {
			t.cond.Wait()
		}
	}
	if t.closed {
		return 0, errClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	seq := t.tail
	var bound uint64
	if mark {
		t.marks++
		bound = t.marks
	}
	t.ring[seq%uint64(len(t.ring))] = entry{pending: pending, mark: mark, pos: pos, commit: commitMs, bound: bound}
	t.tail++
	if pending == 0 {
		t.advanceLocked()
	}
	return seq, nil
}

// ackSlot records one acknowledgement of the entry in ring slot i: the
// one whose sequence number, within [head, head+len(ring)), is i modulo
// the ring's length. A non-nil err is kept as the pipeline's failure; the
// entry then never completes, so the checkpoint cannot pass it.
func (t *tracker) ackSlot(i int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := uint64(len(t.ring))
	t.ackLocked(t.head+(uint64(i)+n-t.head%n)%n, err)
}

func (t *tracker) ackLocked(seq uint64, err error) {
	if err != nil {
		if t.err == nil {
			t.err = err
		}
		t.cond.Broadcast()
		return
	}
	if seq < t.head || seq >= t.tail {
		return // stale acknowledgement from before a reset
	}
	e := &t.ring[seq%uint64(len(t.ring))]
	e.pending--
	if seq == t.head && e.pending <= 0 {
		t.advanceLocked()
	}
}

// advanceLocked releases completed entries from the head and confirms
// the newest mark among them.
func (t *tracker) advanceLocked() {
	var cp sluice.Position
	moved := false
	var commit int64
	var bound uint64
	for t.head < t.tail {
		e := &t.ring[t.head%uint64(len(t.ring))]
		if e.pending > 0 {
			break
		}
		if e.mark {
			cp, moved, bound = e.pos, true, e.bound
		}
		commit = max(commit, e.commit)
		*e = entry{}
		t.head++
	}
	if moved {
		t.checkpoint, t.hasCP = cp, true
		if t.confirmBound != nil {
			t.confirmBound(cp, bound)
		} else {
			t.confirm(cp)
		}
	}
	if commit > 0 && t.delivered != nil {
		t.delivered(commit)
	}
	t.cond.Broadcast()
}

// failure returns the first sink error, if any.
func (t *tracker) failure() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// close wakes every waiter; later adds fail.
func (t *tracker) close() {
	t.mu.Lock()
	t.closed = true
	t.cond.Broadcast()
	t.mu.Unlock()
}

// inFlight is the number of entries waiting for acknowledgements.
func (t *tracker) inFlight() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return int(t.tail - t.head)
}
