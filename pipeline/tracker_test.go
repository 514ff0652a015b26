package pipeline

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestTrackerProperty drives the tracker with random streams of events and
// marks, acknowledged by several sinks in random order, and checks after
// every step that the confirmed position is exactly what the delivery
// guarantee allows: the newest mark such that it and every entry before it
// are acknowledged by every sink. A tracker that confirms too early (an
// entry still missing an ack) or too late (never catching up) fails.
func TestTrackerProperty(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		r := rand.New(rand.NewPCG(seed, seed*7919))
		capacity := 1 + r.IntN(12)
		sinks := 1 + r.IntN(3)
		var confirmed []uint64
		tr := newTracker(capacity, func(p sluice.Position) { confirmed = append(confirmed, p.TxLSN) })

		type item struct {
			mark    bool
			lsn     uint64
			missing int // acks still to come
		}
		var items []item     // by sequence number
		var unacked [][2]int // (seq, sink) acknowledgements not yet given
		lsn := uint64(0)
		want := func() uint64 { // the model's checkpoint
			var cp uint64
			for _, it := range items {
				if it.missing > 0 {
					break
				}
				if it.mark {
					cp = it.lsn
				}
			}
			return cp
		}
		for step := 0; step < 400; step++ {
			head := 0 // entries still held by the tracker start at the first incomplete one
			for head < len(items) && items[head].missing == 0 {
				head++
			}
			full := len(items)-head >= capacity
			if !full && (len(unacked) == 0 || r.IntN(2) == 0) {
				lsn += 10
				mark := r.IntN(3) == 0
				pending := sinks
				if mark {
					pending = 0
				}
				seq, err := tr.add(context.Background(), sluice.Position{LSN: lsn, TxLSN: lsn}, mark, pending)
				if err != nil || seq != uint64(len(items)) {
					t.Fatalf("seed %d: add = %d, %v; want %d", seed, seq, err, len(items))
				}
				items = append(items, item{mark: mark, lsn: lsn, missing: pending})
				for s := 0; s < pending; s++ {
					unacked = append(unacked, [2]int{len(items) - 1, s})
				}
			} else if len(unacked) > 0 {
				i := r.IntN(len(unacked))
				seq := unacked[i][0]
				unacked = append(unacked[:i], unacked[i+1:]...)
				items[seq].missing--
				tr.ackSlot(seq%capacity, nil)
			}
			var got uint64
			if len(confirmed) > 0 {
				got = confirmed[len(confirmed)-1]
			}
			if w := want(); got != w {
				t.Fatalf("seed %d step %d (capacity %d, %d sinks): confirmed %d, want %d", seed, step, capacity, sinks, got, w)
			}
		}
		for i := 1; i < len(confirmed); i++ {
			if confirmed[i] <= confirmed[i-1] {
				t.Fatalf("seed %d: confirmations went backwards: %v", seed, confirmed)
			}
		}
	}
}
