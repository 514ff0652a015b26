package codec

import (
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestEncodeAllocs holds the encoding step of the hot path to its
// allocation count, so that it cannot regress unnoticed: the key, the
// envelope and the event id of the benchmark's small and wide inserts,
// in both profiles and with schemas, into a reused buffer, allocate
// nothing. BenchmarkEncodeEvent measures the time.
func TestEncodeAllocs(t *testing.T) {
	for _, c := range []struct {
		name string
		ev   *sluice.Event
	}{{"small", benchInsert(smallTable, smallRow())}, {"wide", benchInsert(wideTable, wideRow())}} {
		for _, opt := range []Options{
			{Name: "bench", Connector: "postgresql", Profile: ProfileLossless, TransactionMetadata: true},
			{Name: "bench", Connector: "postgresql", Profile: ProfileLossless, Schemas: true},
			{Name: "bench", Connector: "postgresql", Profile: ProfileDebezium, TransactionMetadata: true},
		} {
			enc, err := New(opt)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 0, 16<<10)
			n := testing.AllocsPerRun(100, func() {
				buf, _ = enc.AppendKey(buf[:0], c.ev)
				buf = enc.AppendValue(buf, c.ev)
				buf = AppendEventID(buf, c.ev)
			})
			if n != 0 {
				t.Errorf("%s, profile %s, schemas %v: %v allocations per event, want 0", c.name, opt.Profile, opt.Schemas, n)
			}
		}
	}
}
