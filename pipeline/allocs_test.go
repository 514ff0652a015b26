package pipeline

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// measuringSource emits like benchSource and counts the allocations of
// the whole process from the warm-th event to the last: the runner's
// start-up (one acknowledgement function per tracker slot) is not
// counted, its steady state is.
type measuringSource struct {
	benchSource
	warm   int
	m0, m1 runtime.MemStats
}

func (s *measuringSource) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	n := 0
	count := func(ev *sluice.Event) error {
		if n++; n == s.warm {
			runtime.ReadMemStats(&s.m0)
		}
		return emit(ev)
	}
	err := s.benchSource.run(ctx, count, func() { runtime.ReadMemStats(&s.m1) })
	return err
}

// TestRunnerAllocsPerEvent holds the runner's hand-over (tracking,
// per-sink counters, acknowledgement) to its allocation count, so that it
// cannot regress unnoticed: with two sinks that acknowledge at once, the
// steady state allocates nothing per event or per transaction.
// BenchmarkRunnerEmit measures the time.
func TestRunnerAllocsPerEvent(t *testing.T) {
	const events, warm = 60_000, 20_000
	rows := make([]*sluice.Event, 100)
	commit := time.Now()
	for i := range rows {
		rows[i] = row(uint64(i + 1))
		rows[i].CommitTime = commit
	}
	src := &measuringSource{benchSource: benchSource{n: events, rows: rows, mark: mark(1000), done: make(chan struct{})}, warm: warm}
	p := &Pipeline{Name: "allocs", Source: src, Sinks: []sluice.Sink{ackSink{}, ackSink{}}}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { p.Run(ctx); close(stopped) }()
	<-src.done
	cancel()
	<-stopped
	// Events and marks (one per 100 events) after the warm-up.
	handed := float64(events-warm) * 1.01
	perEvent := float64(src.m1.Mallocs-src.m0.Mallocs) / handed
	t.Logf("%.4f allocations per event", perEvent)
	if perEvent > 0.01 {
		t.Errorf("%.4f allocations per event, want none (at most 0.01: the runtime's own)", perEvent)
	}
}
