package mysql

import (
	"context"
	"sync/atomic"
	"time"
)

// stallTicks is how many heartbeat periods the stream may wait for an
// event (the server sends a heartbeat every period when idle) before the
// connection is taken for dead.
const stallTicks = 3

// stallGuard notices a binlog connection that went silent: the reader
// waits for an event through limit ticks in a row without receiving any.
// Time spent handing events to a full pipeline does not count.
type stallGuard struct {
	waiting atomic.Bool   // the reader is waiting for the next event
	events  atomic.Uint64 // events received
}

// watch calls stalled once, and returns, when the reader waited through
// limit consecutive ticks without an event; it returns when ctx ends.
func (g *stallGuard) watch(ctx context.Context, tick <-chan time.Time, limit int, stalled func()) {
	q := quietTicks{limit: limit, last: g.events.Load()}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		if q.observe(g.events.Load(), g.waiting.Load()) {
			stalled()
			return
		}
	}
}

// quietTicks counts consecutive ticks at which the reader was waiting and
// no event had arrived since the tick before.
type quietTicks struct {
	limit, quiet int
	last         uint64
}

// observe takes one tick's view and reports whether limit quiet ticks in
// a row were seen.
func (q *quietTicks) observe(events uint64, waiting bool) bool {
	if events != q.last || !waiting {
		q.last, q.quiet = events, 0
		return false
	}
	q.quiet++
	return q.quiet >= q.limit
}
