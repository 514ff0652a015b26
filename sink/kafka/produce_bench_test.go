package kafka

import (
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/sink"
)

// Benchmarks of the sink's per-event work without a broker: encoding an
// event into its pooled records (what Write does before handing them to
// franz-go), and hashing the key to its partition as franz-go does for
// sluice (murmur2, the Java client's partitioner). BenchmarkKafkaWrite in
// integration_test.go measures the whole Write against a real broker.

func benchSink(b testing.TB) *Sink {
	s, err := sink.Build(New, map[string]any{"brokers": []any{"127.0.0.1:1"}}, testEnv(b))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkEncodeRecords is Write's encoding step for an insert and a
// delete (change + tombstone), with the pending released as the last
// promise does: allocations per event in the steady state.
func BenchmarkEncodeRecords(b *testing.B) {
	for _, c := range []struct {
		name string
		ev   *sluice.Event
	}{{"insert", clock.Tx(insertEvent(42, "a note of about forty bytes in length..."))[0]}, {"delete", clock.Tx(deleteEvent(42))[0]}} {
		b.Run(c.name, func(b *testing.B) {
			s := benchSink(b)
			ack := func(error) {}
			var noTx [2]*codec.TxBoundary
			b.ReportAllocs()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			n := 0
			for b.Loop() {
				p := getPending(s, ack)
				if s.encode(p, &noTx, c.ev, "shopserver.public.orders", topicInfo{}) {
					b.Fatal("not encoded")
				}
				p.release()
				n++
			}
			runtime.ReadMemStats(&m1)
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(n*len(eventtest.Orders.Columns)), "allocs/col")
		})
	}
}

// BenchmarkKeyHash encodes the record key and picks its partition with the
// partitioner sluice configures (kgo.UniformBytesPartitioner with keys:
// murmur2 of the key, modulo the partitions).
func BenchmarkKeyHash(b *testing.B) {
	s := benchSink(b)
	part := kgo.UniformBytesPartitioner(64<<10, true, true, nil).ForTopic("shopserver.public.orders")
	ev := insertEvent(123457, "x")
	rec := &kgo.Record{Topic: "shopserver.public.orders"}
	var key []byte
	b.ReportAllocs()
	for b.Loop() {
		key, _ = s.enc.AppendKey(key[:0], ev)
		rec.Key = key
		if p := part.(kgo.TopicBackupPartitioner).PartitionByBackup(rec, 12, &noBackup{}); p < 0 || p >= 12 {
			b.Fatal(p)
		}
	}
}

type noBackup struct{}

func (*noBackup) Next() (int, int64) { return 0, 0 }

func (*noBackup) Rem() int { return 0 }
