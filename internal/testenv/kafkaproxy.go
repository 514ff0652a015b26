package testenv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// KafkaFreezer is a Freezer for a Kafka broker. A plain TCP proxy in front
// of a broker only carries a client's first metadata request: the answer
// names the broker's advertised address, and franz-go (like the Java
// client) talks to that address from then on, around the proxy. So
// KafkaFreezer reads the Kafka protocol's frames and rewrites the broker
// addresses in Metadata, FindCoordinator and DescribeCluster answers to
// its own: the client keeps every connection on the proxy, and Freeze
// silences the broker for it completely.
//
// It serves a single-broker cluster (every advertised broker becomes the
// proxy, which forwards to target), as the test services run; plaintext
// listeners only.
type KafkaFreezer struct {
	ln   net.Listener
	host string
	port int32
	wg   sync.WaitGroup

	mu     sync.Mutex
	frozen bool
	closed bool
	conns  []net.Conn
}

// NewKafkaFreezer proxies a loopback port to the broker at target
// ("host:port") until the test ends.
func NewKafkaFreezer(t testing.TB, target string) *KafkaFreezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	f := &KafkaFreezer{ln: ln, host: host, port: int32(p)}
	t.Cleanup(f.close)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
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
			if !f.track(c, up) {
				return
			}
			var pending sync.Map // correlation id → apiCall of requests whose answers are rewritten
			f.wg.Add(2)
			go f.requests(up, c, &pending)
			go f.responses(c, up, &pending)
		}
	}()
	return f
}

// apiCall is the key and version of a request, needed to decode its
// response.
type apiCall struct{ key, version int16 }

// Kafka API keys whose responses name brokers.
const (
	apiMetadata        = 3
	apiFindCoordinator = 10
	apiDescribeCluster = 60
)

func (f *KafkaFreezer) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	f.conns = append(f.conns, cs...)
	return true
}

func (f *KafkaFreezer) isFrozen() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.frozen
}

// requests copies request frames from the client to the broker,
// remembering the calls whose answers name brokers.
func (f *KafkaFreezer) requests(dst, src net.Conn, pending *sync.Map) {
	defer f.wg.Done()
	defer dst.Close()
	r := bufio.NewReaderSize(src, 64<<10)
	for {
		frame, err := readFrame(r)
		if err != nil {
			return
		}
		if f.isFrozen() {
			continue // swallowed: the network went silent
		}
		if len(frame) >= 12 {
			key := int16(binary.BigEndian.Uint16(frame[4:]))
			if key == apiMetadata || key == apiFindCoordinator || key == apiDescribeCluster {
				pending.Store(int32(binary.BigEndian.Uint32(frame[8:])), apiCall{key, int16(binary.BigEndian.Uint16(frame[6:]))})
			}
		}
		if _, err := dst.Write(frame); err != nil {
			return
		}
	}
}

// responses copies response frames from the broker to the client,
// rewriting broker addresses to the proxy's.
func (f *KafkaFreezer) responses(dst, src net.Conn, pending *sync.Map) {
	defer f.wg.Done()
	defer dst.Close()
	r := bufio.NewReaderSize(src, 64<<10)
	for {
		frame, err := readFrame(r)
		if err != nil {
			return
		}
		if f.isFrozen() {
			continue
		}
		if len(frame) >= 8 {
			if call, ok := pending.LoadAndDelete(int32(binary.BigEndian.Uint32(frame[4:]))); ok {
				if out, err := f.rewrite(frame, call.(apiCall)); err == nil {
					frame = out
				}
			}
		}
		if _, err := dst.Write(frame); err != nil {
			return
		}
	}
}

// rewrite decodes a response frame (size, correlation id, header tags,
// body), points every broker it names at the proxy and encodes it again.
func (f *KafkaFreezer) rewrite(frame []byte, call apiCall) ([]byte, error) {
	resp := kmsg.ResponseForKey(call.key)
	resp.SetVersion(call.version)
	hdrEnd := 8
	if resp.IsFlexible() { // response header v1: tagged fields after the correlation id
		n, err := skipTags(frame[hdrEnd:])
		if err != nil {
			return nil, err
		}
		hdrEnd += n
	}
	if err := resp.ReadFrom(frame[hdrEnd:]); err != nil {
		return nil, err
	}
	switch r := resp.(type) {
	case *kmsg.MetadataResponse:
		for i := range r.Brokers {
			r.Brokers[i].Host, r.Brokers[i].Port = f.host, f.port
		}
	case *kmsg.FindCoordinatorResponse:
		if r.Host != "" {
			r.Host, r.Port = f.host, f.port
		}
		for i := range r.Coordinators {
			r.Coordinators[i].Host, r.Coordinators[i].Port = f.host, f.port
		}
	case *kmsg.DescribeClusterResponse:
		for i := range r.Brokers {
			r.Brokers[i].Host, r.Brokers[i].Port = f.host, f.port
		}
	}
	out := append([]byte(nil), frame[:hdrEnd]...)
	out = resp.AppendTo(out)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out, nil
}

// skipTags returns the length of a tagged-field section at the start of b.
func skipTags(b []byte) (int, error) {
	off := 0
	uvarint := func() (uint64, error) {
		v, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return 0, errors.New("bad uvarint in tagged fields")
		}
		off += n
		return v, nil
	}
	count, err := uvarint()
	if err != nil {
		return 0, err
	}
	for range count {
		if _, err := uvarint(); err != nil { // tag
			return 0, err
		}
		size, err := uvarint()
		if err != nil {
			return 0, err
		}
		if off+int(size) > len(b) {
			return 0, errors.New("tagged field past the end")
		}
		off += int(size)
	}
	return off, nil
}

// readFrame reads one size-prefixed Kafka frame, prefix included.
func readFrame(r *bufio.Reader) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > 256<<20 {
		return nil, fmt.Errorf("kafka frame of %d bytes", n)
	}
	frame := make([]byte, 4+n)
	copy(frame, size[:])
	if _, err := io.ReadFull(r, frame[4:]); err != nil {
		return nil, err
	}
	return frame, nil
}

// Freeze stops forwarding in both directions, on the connections open now
// and on new ones; the sockets stay open. The client notices only by the
// silence (request timeouts).
func (f *KafkaFreezer) Freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frozen = true
}

// Thaw forwards again: the network is back. The connections open while
// frozen lost requests and answers, so they are closed (the client sees
// them drop and reconnects).
func (f *KafkaFreezer) Thaw() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frozen = false
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func (f *KafkaFreezer) close() {
	f.ln.Close()
	f.mu.Lock()
	f.closed = true
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}

// Addr is the proxy's address, host:port: the client's seed broker.
func (f *KafkaFreezer) Addr() string { return net.JoinHostPort(f.host, strconv.Itoa(int(f.port))) }
