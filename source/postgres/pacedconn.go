package postgres

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync/atomic"
	"time"
)

// pacePause is how long a paced read waits after a short one.
const pacePause = 500 * time.Microsecond

// sockBuffer is how much a read of the replication socket asks for.
const sockBuffer = 64 << 10

// pacedConn is the replication connection's socket. While the server
// streams a transaction in progress (between Stream Start and Stream
// Stop), none of what it sends can be emitted before the transaction's
// commit, so there is no hurry to read each message the moment it
// arrives. Reading at once is what costs: the source then waits on the
// socket, and every message the walsender writes wakes it, which costs
// both processes a system call and a wake-up per message. With the
// one-million-row transaction of sluice-bench, paced reads cost 12.9–14.1
// instead of 16.5–16.6 s of CPU per million events, and the last event
// reached Kafka 7–15% sooner (medians of two A/B runs, BENCHMARKS.md).
//
// While pacing, a read that follows a short one (less than half of
// sockBuffer) first waits pacePause, so that what the walsender writes
// meanwhile arrives in one read. Outside a streamed block it reads at
// once: a committed transaction's events should leave without delay.
type pacedConn struct {
	net.Conn
	buf    *bufio.Reader
	pacing atomic.Bool
	short  bool
	wait   func(time.Duration) // time.Sleep; tests count the waits
}

// newPacedConn wraps c.
func newPacedConn(c net.Conn) *pacedConn {
	p := &pacedConn{Conn: c, wait: time.Sleep}
	p.buf = bufio.NewReaderSize(rawReader{p}, sockBuffer)
	return p
}

// Read serves pgconn's reads (at most 8 KiB each) from the buffer.
func (p *pacedConn) Read(b []byte) (int, error) { return p.buf.Read(b) }

// pace turns pacing on or off.
func (p *pacedConn) pace(on bool) { p.pacing.Store(on) }

// rawReader is the socket under the buffer: where a paced read waits.
type rawReader struct{ p *pacedConn }

func (r rawReader) Read(b []byte) (int, error) {
	p := r.p
	if p.short && p.pacing.Load() {
		p.wait(pacePause)
	}
	n, err := p.Conn.Read(b)
	p.short = n < len(b)/2
	return n, err
}

// pacedOf is the pacedConn under a replication connection's socket, or
// nil (a connection not opened by connect).
func pacedOf(c net.Conn) *pacedConn {
	if t, ok := c.(*tls.Conn); ok {
		c = t.NetConn()
	}
	p, _ := c.(*pacedConn)
	return p
}
