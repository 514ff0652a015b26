package elasticsearch

// arena hands out ops and document bytes carved from blocks shared by
// many events. Building a document used to cost the allocator an op and a
// copy of the document per event; now it costs a share of a block, which
// at the sink's rates is most of what the garbage collector saw.
//
// Blocks are never reused: a block is freed by the garbage collector once
// nothing carved from it is referenced, so nothing handed out is ever
// overwritten. A live op keeps its block (at most opsPerBlock ops) alive,
// and a live document its block of docBlock bytes; ops live until their
// bulk request is answered, so what is pinned is bounded by the requests
// in flight. Only Write's goroutine uses the arena (Sink.Write is called
// from one goroutine).
type arena struct {
	ops  []op
	docs []byte
}

const (
	opsPerBlock = 64
	docBlock    = 64 << 10
	// maxArenaDoc is the largest document carved from a block; larger
	// ones get an allocation of their own, so that one does not waste
	// most of a block.
	maxArenaDoc = docBlock / 8
)

// op returns a zeroed op.
func (a *arena) op() *op {
	if len(a.ops) == 0 {
		a.ops = make([]op, opsPerBlock)
	}
	o := &a.ops[0]
	a.ops = a.ops[1:]
	return o
}

// copyDoc returns a copy of b. Its capacity is its length, so appending
// to it cannot reach the documents that follow it in the block.
func (a *arena) copyDoc(b []byte) []byte {
	if len(b) > maxArenaDoc {
		return append(make([]byte, 0, len(b)), b...)
	}
	if cap(a.docs)-len(a.docs) < len(b) {
		a.docs = make([]byte, 0, docBlock)
	}
	n := len(a.docs)
	a.docs = append(a.docs, b...)
	return a.docs[n:len(a.docs):len(a.docs)]
}

// maxScratch bounds the scratch buffer kept between events, so one huge
// document does not pin its size for the sink's lifetime.
const maxScratch = 1 << 20

// keepScratch keeps buf as the next event's scratch buffer unless it grew
// beyond maxScratch.
func (s *Sink) keepScratch(buf []byte) {
	if cap(buf) > maxScratch {
		buf = nil
	}
	s.scratch = buf[:0]
}
