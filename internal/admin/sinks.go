package admin

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
)

// DefaultLivenessTimeout is how long a running pipeline's loop may go
// without turning before /healthz fails (http.liveness_timeout's
// default). It is long: a liveness failure restarts the process, and a
// sink that waits on a destination that is down is excused anyway
// (pipeline.Pipeline.Stuck).
const DefaultLivenessTimeout = config.DefaultLivenessTimeout

// registerSinks registers the per-sink metrics of p: what the runner
// measures of each sink, what the sink counts itself
// (sluice.SinkStatsReporter), and the sink's own metrics
// (sink.MetricsRegisterer), all labelled with the pipeline and the
// sink's name in the configuration.
func registerSinks(reg prometheus.Registerer, p *pipeline.Pipeline) error {
	if err := reg.Register(newSinkCollector(p)); err != nil {
		return fmt.Errorf("pipeline %s: sink metrics: %w", p.Name, err)
	}
	for i, c := range p.SinkCounters() {
		mr, ok := p.Sinks[i].(sink.MetricsRegisterer)
		if !ok {
			continue
		}
		if err := mr.RegisterMetrics(reg, prometheus.Labels{"pipeline": p.Name, "sink": c.Name}); err != nil {
			return fmt.Errorf("pipeline %s: sink %s: metrics: %w", p.Name, c.Name, err)
		}
	}
	return nil
}

// sinkCollector reads a pipeline's sink counters at scrape time. The
// label set is bounded by the configuration: one series (one histogram)
// per sink and metric.
type sinkCollector struct {
	p                                     *pipeline.Pipeline
	events, latency                       *prometheus.Desc
	bytes, retries, deadLetters, failures *prometheus.Desc
}

func newSinkCollector(p *pipeline.Pipeline) *sinkCollector {
	labels, vars := prometheus.Labels{"pipeline": p.Name}, []string{"sink"}
	return &sinkCollector{p: p,
		events:      prometheus.NewDesc("sluice_sink_events_total", "Change events handed to the sink (after its own transforms).", vars, labels),
		latency:     prometheus.NewDesc("sluice_sink_ack_latency_seconds", "Time from handing an event to the sink to its acknowledgement (durable at the destination); sampled, one event in flight per sink at a time.", vars, labels),
		bytes:       prometheus.NewDesc("sluice_sink_bytes_total", "Bytes the sink wrote to its destination (Kafka: record keys and values; Elasticsearch: bulk request bodies; stdout: lines).", vars, labels),
		retries:     prometheus.NewDesc("sluice_sink_retries_total", "Requests the sink repeated after a retryable failure (Elasticsearch).", vars, labels),
		deadLetters: prometheus.NewDesc("sluice_sink_dead_letters_total", "Events written to the sink's dead-letter destination instead of their own (Elasticsearch).", vars, labels),
		failures:    prometheus.NewDesc("sluice_sink_errors_total", "Events the sink acknowledged with an error (each one restarts or stops the pipeline).", vars, labels),
	}
}

func (c *sinkCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, c.events, c.latency, c.bytes, c.retries, c.deadLetters, c.failures)
}

func (c *sinkCollector) Collect(ch chan<- prometheus.Metric) {
	for i, sc := range c.p.SinkCounters() {
		ch <- prometheus.MustNewConstMetric(c.events, prometheus.CounterValue, float64(sc.Events.Load()), sc.Name)
		count, sum, cumulative := sc.Latency.Snapshot()
		buckets := make(map[float64]uint64, len(cumulative))
		for j, le := range pipeline.LatencyBuckets {
			buckets[le] = cumulative[j]
		}
		ch <- prometheus.MustNewConstHistogram(c.latency, count, sum, buckets, sc.Name)
		sr, ok := c.p.Sinks[i].(sluice.SinkStatsReporter)
		if !ok {
			continue
		}
		st := sr.SinkStats()
		for _, m := range []struct {
			d *prometheus.Desc
			v int64
		}{{c.bytes, st.Bytes}, {c.retries, st.Retries}, {c.deadLetters, st.DeadLetters}, {c.failures, st.Errors}} {
			if m.v >= 0 { // negative: the sink does not count it
				ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v), sc.Name)
			}
		}
	}
}

// livenessMetrics are the watchdog's view of p (pipeline/liveness.go).
func livenessMetrics(p *pipeline.Pipeline, timeout time.Duration) []prometheus.Collector {
	labels := prometheus.Labels{"pipeline": p.Name}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_pipeline_progress_timestamp_seconds", Help: "When the pipeline's loop last turned or was idle (Unix seconds); time() minus it growing past http.liveness_timeout fails /healthz.", ConstLabels: labels},
			func() float64 { return float64(p.Stats.Progress.Load()) / 1e9 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_pipeline_stuck", Help: "1 while the running pipeline's loop has not turned for http.liveness_timeout (and no sink reports its destination down): /healthz fails.", ConstLabels: labels},
			func() float64 { return boolValue(p.Stuck(timeout) != nil) }),
	}
}

// healthz is liveness: 200 while the process serves and no running
// pipeline is stuck (pipeline.Pipeline.Stuck), else 503 naming each stuck
// pipeline. A pipeline that failed for good is not stuck: /readyz and
// sluice_pipeline_failed report it, and restarting the process would
// only fail it again.
func healthz(pipes []*pipeline.Pipeline, timeout time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		var stuck []string
		for _, p := range pipes {
			if err := p.Stuck(timeout); err != nil {
				stuck = append(stuck, err.Error())
			}
		}
		if len(stuck) > 0 {
			http.Error(w, strings.Join(stuck, "\n"), http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	}
}
