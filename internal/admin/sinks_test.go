package admin

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pipeline"
)

// emitSource emits its events, then idles until the pipeline stops.
type emitSource struct{ events []*sluice.Event }

func (s *emitSource) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	for _, ev := range s.events {
		if err := emit(ev); err != nil {
			return err
		}
	}
	<-ctx.Done()
	return nil
}
func (s *emitSource) Confirm(sluice.Position) {}

// statSink acknowledges at once, or blocks in Write until freed; it
// reports fixed SinkStats and registers a metric of its own.
type statSink struct {
	block    bool
	release  chan struct{}
	freeOnce sync.Once
	labels   prometheus.Labels
}

func (s *statSink) free()                       { s.freeOnce.Do(func() { close(s.release) }) }
func (s *statSink) Open(context.Context) error  { return nil }
func (s *statSink) Close(context.Context) error { return nil }
func (s *statSink) Write(ctx context.Context, _ *sluice.Event, ack func(error)) error {
	if s.block {
		select {
		case <-s.release:
		case <-ctx.Done():
		}
	}
	ack(nil)
	return nil
}
func (s *statSink) SinkStats() sluice.SinkStats {
	return sluice.SinkStats{Bytes: 1234, Retries: 2, DeadLetters: -1, Errors: 0}
}
func (s *statSink) RegisterMetrics(reg prometheus.Registerer, labels prometheus.Labels) error {
	s.labels = labels
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_test_sink_own", Help: "A sink's own metric.", ConstLabels: labels},
		func() float64 { return 7 }))
}

func rows(n int) []*sluice.Event {
	evs := make([]*sluice.Event, n)
	for i := range evs {
		evs[i] = &sluice.Event{Op: sluice.OpCreate, Pos: sluice.Position{LSN: uint64(i + 1), TxLSN: uint64(i + 1)}}
	}
	return evs
}

// runPipeline runs p until the test ends.
func runPipeline(t *testing.T, p *pipeline.Pipeline, release func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { p.Run(ctx); close(stopped) }()
	t.Cleanup(func() { release(); cancel(); <-stopped })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSinkMetrics: the runner's per-sink counters and the sink's own
// totals are exported per pipeline and sink name; totals the sink does
// not count (negative) are left out; the sink's own collectors are
// registered with the pipeline and sink labels.
func TestSinkMetrics(t *testing.T) {
	s := &statSink{release: make(chan struct{})}
	p := &pipeline.Pipeline{Name: "shop", Source: &emitSource{events: rows(40)}, Sinks: []sluice.Sink{s}, SinkNames: []string{"out"}}
	base := serve(t, Options{}, p)
	runPipeline(t, p, s.free)
	waitUntil(t, "the events to be acknowledged", func() bool { return p.SinkCounters()[0].Events.Load() == 40 })
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{
		`sluice_sink_events_total{pipeline="shop",sink="out"} 40`,
		`sluice_sink_bytes_total{pipeline="shop",sink="out"} 1234`,
		`sluice_sink_retries_total{pipeline="shop",sink="out"} 2`,
		`sluice_sink_errors_total{pipeline="shop",sink="out"} 0`,
		`sluice_sink_ack_latency_seconds_bucket{pipeline="shop",sink="out",le="+Inf"} `,
		`sluice_test_sink_own{pipeline="shop",sink="out"} 7`,
		`sluice_pipeline_stuck{pipeline="shop"} 0`,
		`sluice_pipeline_progress_timestamp_seconds{pipeline="shop"} `,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, "sluice_sink_dead_letters_total") {
		t.Error("/metrics has sluice_sink_dead_letters_total for a sink that does not count them")
	}
	if strings.Contains(metrics, `sluice_sink_ack_latency_seconds_count{pipeline="shop",sink="out"} 0`) {
		t.Error("no acknowledgement latency observed")
	}
}

// TestHealthzFailsOnStuckPipeline: /healthz fails, naming the pipeline,
// while a running pipeline's sink has not returned from Write for the
// liveness timeout, and passes again once it returns; /readyz is not
// what reports it.
func TestHealthzFailsOnStuckPipeline(t *testing.T) {
	stuck := &statSink{block: true, release: make(chan struct{})}
	idle := &statSink{release: make(chan struct{})}
	p := &pipeline.Pipeline{Name: "shop", Source: &emitSource{events: rows(1)}, Sinks: []sluice.Sink{stuck}, LivenessTick: 10 * time.Millisecond}
	q := &pipeline.Pipeline{Name: "idle", Source: &emitSource{}, Sinks: []sluice.Sink{idle}, LivenessTick: 10 * time.Millisecond}
	failed := &pipeline.Pipeline{Name: "failed"}
	failed.Stats.Failed.Store(true)
	base := serve(t, Options{LivenessTimeout: 200 * time.Millisecond}, p, q, failed)
	runPipeline(t, p, stuck.free)
	runPipeline(t, q, idle.free)

	var body string
	waitUntil(t, "/healthz to fail", func() bool {
		var code int
		code, body = get(t, base+"/healthz")
		return code == 503
	})
	if !strings.Contains(body, "pipeline shop: stuck") || strings.Contains(body, "idle") || strings.Contains(body, "failed") {
		t.Errorf("/healthz body %q, want only pipeline shop named", body)
	}
	if _, metrics := get(t, base+"/metrics"); !strings.Contains(metrics, `sluice_pipeline_stuck{pipeline="shop"} 1`) ||
		!strings.Contains(metrics, `sluice_pipeline_stuck{pipeline="idle"} 0`) {
		t.Errorf("sluice_pipeline_stuck not 1 for shop and 0 for idle:\n%s", metrics)
	}
	stuck.free()
	waitUntil(t, "/healthz to pass again", func() bool {
		code, _ := get(t, base+"/healthz")
		return code == 200
	})
}
