package kafka

import (
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
)

// TestEncodeRecordsAllocs holds Write's encoding step to its allocation
// count, so that it cannot regress unnoticed: an insert (one record) and a
// delete (the change and its tombstone) are encoded into pooled records,
// and released as the last promise does, without allocating once the pool
// is warm. BenchmarkEncodeRecords measures the time.
func TestEncodeRecordsAllocs(t *testing.T) {
	for _, c := range []struct {
		name string
		ev   *sluice.Event
	}{{"insert", clock.Tx(insertEvent(42, "a note of about forty bytes in length..."))[0]}, {"delete", clock.Tx(deleteEvent(42))[0]}} {
		s := benchSink(t)
		ack := func(error) {}
		var noTx [2]*codec.TxBoundary
		n := testing.AllocsPerRun(100, func() {
			p := getPending(s, ack)
			if s.encode(p, &noTx, c.ev, "shopserver.public.orders", topicInfo{}) {
				t.Fatal("not encoded")
			}
			p.release()
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per event, want 0", c.name, n)
		}
	}
}
