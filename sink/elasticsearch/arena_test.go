package elasticsearch

import (
	"bytes"
	"context"
	"runtime"
	"testing"
	"time"
	"weak"
)

// TestArenaCopyDoc checks that documents carved from one block stay
// apart: each copy equals its source, appending to one cannot overwrite
// the next, and a document too large for a block gets its own memory.
func TestArenaCopyDoc(t *testing.T) {
	var a arena
	big := bytes.Repeat([]byte("b"), maxArenaDoc+1)
	docs := [][]byte{[]byte(`{"a":1}`), []byte(`{}`), bytes.Repeat([]byte("x"), maxArenaDoc), big, []byte(`{"z":"last"}`)}
	var got [][]byte
	for range docBlock / maxArenaDoc * 3 { // several blocks' worth
		for _, d := range docs {
			got = append(got, a.copyDoc(d))
		}
	}
	for i, g := range got {
		want := docs[i%len(docs)]
		if !bytes.Equal(g, want) {
			t.Fatalf("copy %d = %.20q, want %.20q", i, g, want)
		}
		if cap(g) != len(g) {
			t.Fatalf("copy %d has capacity %d beyond its length %d", i, cap(g), len(g))
		}
		_ = append(g, "overwrites the next document"...)
	}
	for i, g := range got {
		if want := docs[i%len(docs)]; !bytes.Equal(g, want) {
			t.Fatalf("copy %d changed to %.20q after appending to its neighbours", i, g)
		}
	}
	for i := 3; i < len(got); i += len(docs) {
		if &got[i][0] == &big[0] {
			t.Fatalf("copy %d shares the source's memory", i)
		}
	}
}

// TestArenaOps checks that every op handed out is zeroed and distinct.
func TestArenaOps(t *testing.T) {
	var a arena
	seen := map[*op]bool{}
	for i := range opsPerBlock*2 + 1 {
		o := a.op()
		if seen[o] {
			t.Fatalf("op %d handed out twice", i)
		}
		seen[o] = true
		if o.ref != "" || o.src != nil || o.state != opPending {
			t.Fatalf("op %d is not zeroed: %+v", i, o)
		}
		o.ref, o.src, o.state = "used", []byte("{}"), opDone
	}
}

// TestDoneOpsPinNothing: once a bulk request is answered, its ops keep
// nothing alive. An op stays in its arena block while other ops of the
// block live (and the current block is the arena's own), so a finished
// op that still held its ack would keep the event behind it, and through
// it the source's buffers, for as long as the block lives.
func TestDoneOpsPinNothing(t *testing.T) {
	f := newFakeES(t)
	s := f.sink(nil)
	defer s.Close(context.Background())
	held := new([1 << 16]byte) // stands for the event an ack closes over
	gone := weak.Make(held)
	acked := make(chan error, 1)
	ack := func(h *[1 << 16]byte) func(error) {
		return func(err error) {
			_ = h[0]
			acked <- err
		}
	}(held)
	if err := s.Write(context.Background(), insertEvent(1, "note", 1, "big"), ack); err != nil {
		t.Fatal(err)
	}
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
	held, ack = nil, nil
	// runBatch lets go of the batch's ops after the acks; wait until
	// nothing is in flight any more, then collect.
	timeout := time.After(10 * time.Second)
	for {
		s.flightMu.Lock()
		n, changed := s.flightBatches, s.flightChanged
		s.flightMu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatal("the bulk request is still in flight after 10s")
		}
	}
	runtime.GC()
	if gone.Value() != nil {
		t.Fatal("a finished op still keeps its acknowledgement (and the event behind it) alive")
	}
}
