package mysql

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// freezer is a TCP proxy to the test server that can stop forwarding
// without closing anything: a network that went silent.
type freezer struct {
	ln     net.Listener
	mu     sync.Mutex
	frozen chan struct{} // closed while frozen
	conns  []net.Conn
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	t.Cleanup(f.close)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, c, up)
			f.mu.Unlock()
			go f.pipe(up, c)
			go f.pipe(c, up)
		}
	}()
	return f
}

// pipe copies src to dst, holding every chunk while frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		f.mu.Lock()
		frozen := f.frozen
		f.mu.Unlock()
		if frozen != nil {
			return // swallow this and everything after, keep the sockets open
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}

func (f *freezer) freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frozen = make(chan struct{})
}

func (f *freezer) close() {
	f.ln.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
}

// TestSilentConnectionIsDetected: when the network to the server goes
// silent (no reset, no close), the stream notices within a few heartbeat
// periods and Run returns an error, so the pipeline restarts from its
// offset, instead of waiting forever.
func TestSilentConnectionIsDetected(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS stall", "CREATE TABLE stall (id int PRIMARY KEY)")
	d, err := parseDSN(h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	f := newFreezer(t, d.addr())
	h.start(map[string]any{"dsn": fmt.Sprintf("%s:%s@tcp(%s)/%s", d.User, d.Password, f.ln.Addr(), d.DB),
		"tables": []any{"stall"}, "heartbeat": "1s"})
	h.streaming()
	h.exec("INSERT INTO stall VALUES (1)")
	h.wait(1)

	f.freeze()
	select {
	case err := <-h.done:
		h.cancel = nil
		if err == nil || !strings.Contains(err.Error(), "no binlog event or heartbeat") {
			t.Fatalf("Run returned %v, want the stall error", err)
		}
	case <-time.After(3*time.Second*stallTicks + closeTimeout + 10*time.Second):
		t.Fatal("the source did not notice the silent connection")
	}
}
