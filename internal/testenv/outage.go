package testenv

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Outage is a TCP proxy to a test service that can go down and come back
// up: down, it closes every connection and refuses new ones at once, as
// a stopped process would; up, it forwards again. Unlike stopping the
// service itself, it keeps the service's state (an in-memory registry
// keeps its schemas).
type Outage struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// NewOutage proxies a loopback port to target until the test ends.
func NewOutage(t testing.TB, target string) *Outage {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &Outage{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(o.close)
	o.wg.Add(1)
	go o.accept()
	return o
}

func (o *Outage) accept() {
	defer o.wg.Done()
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		o.mu.Lock()
		down := o.down
		o.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", o.target)
		if err != nil {
			c.Close()
			continue
		}
		o.mu.Lock()
		o.conns[c], o.conns[up] = struct{}{}, struct{}{}
		o.mu.Unlock()
		o.wg.Add(2)
		go o.pipe(up, c)
		go o.pipe(c, up)
	}
}

func (o *Outage) pipe(dst, src net.Conn) {
	defer o.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	o.mu.Lock()
	delete(o.conns, src)
	delete(o.conns, dst)
	o.mu.Unlock()
}

// Down closes every connection and refuses new ones until Up.
func (o *Outage) Down() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down = true
	for c := range o.conns {
		c.Close()
	}
}

// Up forwards new connections again.
func (o *Outage) Up() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.down = false
}

func (o *Outage) close() {
	o.ln.Close()
	o.Down()
	o.wg.Wait()
}

// Addr is the proxy's address, host:port.
func (o *Outage) Addr() string { return o.ln.Addr().String() }
