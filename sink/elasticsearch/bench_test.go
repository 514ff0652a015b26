package elasticsearch

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/pipeline"
)

// BenchmarkBulkLoad indexes 100,000 ~150-byte rows (an initial load: one
// insert each, 1,000 per transaction) through the sink into the real
// Elasticsearch with the default bulk settings, and reports docs/s.
//
//	go test -run '^$' -bench BulkLoad -benchtime 1x ./sink/elasticsearch/
func BenchmarkBulkLoad(b *testing.B) {
	const rows = 100_000
	clk := &eventtest.TxClock{}
	var events []*sluice.Event
	for start := int64(1); start <= rows; start += 1000 {
		var tx []*sluice.Event
		for id := start; id < start+1000; id++ {
			tx = append(tx, insertEvent(id, fmt.Sprintf("order %d for customer %d", id, id%977), id%50, strings.Repeat("x", 80)))
		}
		events = append(events, clk.Tx(tx...)...)
	}
	for _, bc := range []struct {
		name string
		bulk map[string]any
	}{
		{"defaults", map[string]any{}},
		{"in_flight_4", map[string]any{"max_in_flight": 4}},
		{"actions_5000", map[string]any{"max_actions": 5000, "max_bytes": 10 << 20}},
	} {
		b.Run(bc.name, func(b *testing.B) { benchLoad(b, events, bc.bulk) })
	}
}

func benchLoad(b *testing.B, events []*sluice.Event, bulk map[string]any) {
	rows := uint64(len(events))
	for i := 0; i < b.N; i++ {
		e := newESTest(b)
		s := e.sink(map[string]any{"bulk": bulk, "retry": map[string]any{}})
		ctx := context.Background()
		if err := s.Open(ctx); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		acks := newAckLog(len(events))
		for j, ev := range events {
			if err := s.Write(ctx, ev, acks.ack(j)); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Close(ctx); err != nil {
			b.Fatal(err)
		}
		<-acks.done
		el := time.Since(start)
		if st := s.Stats(); st.Indexed != rows {
			b.Fatalf("indexed %d of %d: %+v", st.Indexed, rows, st)
		}
		b.ReportMetric(float64(rows)/el.Seconds(), "docs/s")
		e.DeleteIndices(e.prefix)
	}
}

// BenchmarkPostgresToElasticsearch measures the whole path: 100,000 rows
// inserted into PostgreSQL in 10 transactions, read by the postgres
// source, indexed through the pipeline; the time runs until the slot
// confirmed the last commit (every document acknowledged).
//
//	go test -run '^$' -bench PostgresTo -benchtime 1x ./sink/elasticsearch/
func BenchmarkPostgresToElasticsearch(b *testing.B) {
	for i := 0; i < b.N; i++ {
		p := newPGTest(b)
		tbl := p.name + "_load"
		p.exec("CREATE TABLE " + tbl + " (id int PRIMARY KEY, note text, qty int, created timestamptz)")
		slot := p.name + "_a"
		es := p.esSink("bench", map[string]any{"bulk": map[string]any{"max_actions": 5000, "max_bytes": 10 << 20}})
		stop := p.run(&pipeline.Pipeline{Name: "bench", Source: p.source("bench", slot, []string{tbl}), Sinks: []sluice.Sink{es}})
		p.waitSlot(slot)
		start := time.Now()
		for k := 0; k < 10; k++ {
			p.exec(fmt.Sprintf("INSERT INTO %s SELECT g, 'order ' || g, g %% 50, now() FROM generate_series(%d, %d) g", tbl, k*10000+1, (k+1)*10000))
		}
		inserted := time.Since(start)
		p.waitDelivered(slot, 5*time.Minute)
		el := time.Since(start)
		stop()
		if st := es.Stats(); st.Indexed != 100000 {
			b.Fatalf("indexed %d: %+v", st.Indexed, st)
		}
		b.ReportMetric(100000/el.Seconds(), "rows/s")
		b.Logf("inserting took %s, delivered after %s", inserted.Round(time.Millisecond), el.Round(time.Millisecond))
	}
}

// BenchmarkAppendTimestamp formats a timestamptz as a document carries it.
//
//	go test -run '^$' -bench AppendTimestamp ./sink/elasticsearch/
func BenchmarkAppendTimestamp(b *testing.B) {
	buf := make([]byte, 0, 64)
	for i := int64(0); b.Loop(); i++ {
		buf = appendTimestamp(buf[:0], 1704190657014245+i*1_000_003, true)
	}
}

// BenchmarkAppendDelete appends a delete and its tombstone to a bulk
// body, as a request of deletes does.
//
//	go test -run '^$' -bench AppendDelete ./sink/elasticsearch/
func BenchmarkAppendDelete(b *testing.B) {
	o := &op{del: true, index: "orders", id: "4711", pos: pos{lsn: 1 << 36, order: 17}}
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf, _ = appendOp(buf[:0], ".sluice-state", o)
	}
}
