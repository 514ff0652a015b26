package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// benchSource emits the same events b.N times, a mark after every 100
// rows (a transaction), then waits for the pipeline to stop.
type benchSource struct {
	n    int
	rows []*sluice.Event
	mark *sluice.Event
	done chan struct{}
}

func (s *benchSource) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	return s.run(ctx, emit, func() {})
}

// run emits, calls emitted once every event was emitted, and waits.
func (s *benchSource) run(ctx context.Context, emit func(*sluice.Event) error, emitted func()) error {
	for i := 0; i < s.n; i++ {
		if err := emit(s.rows[i%len(s.rows)]); err != nil {
			return err
		}
		if i%100 == 99 {
			if err := emit(s.mark); err != nil {
				return err
			}
		}
	}
	emitted()
	close(s.done)
	<-ctx.Done()
	return nil
}

func (s *benchSource) Confirm(sluice.Position) {}

// ackSink acknowledges every event at once, so the benchmark measures the
// runner's own cost per event.
type ackSink struct{}

func (ackSink) Open(context.Context) error  { return nil }
func (ackSink) Close(context.Context) error { return nil }
func (ackSink) Write(_ context.Context, _ *sluice.Event, ack func(error)) error {
	ack(nil)
	return nil
}

// BenchmarkRunnerEmit is the runner's cost per event (tracking, per-sink
// counters, acknowledgement) with two sinks that acknowledge at once.
func BenchmarkRunnerEmit(b *testing.B) {
	rows := make([]*sluice.Event, 100)
	commit := time.Now() // one transaction's: sources stamp every row with its commit time
	for i := range rows {
		rows[i] = row(uint64(i + 1))
		rows[i].CommitTime = commit
	}
	src := &benchSource{n: b.N, rows: rows, mark: mark(1000), done: make(chan struct{})}
	p := &Pipeline{Name: "bench", Source: src, Sinks: []sluice.Sink{ackSink{}, ackSink{}}}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	b.ReportAllocs()
	b.ResetTimer()
	go func() { p.Run(ctx); close(stopped) }()
	<-src.done
	b.StopTimer()
	cancel()
	<-stopped
}
