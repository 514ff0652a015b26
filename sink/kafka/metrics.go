package kafka

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

var (
	_ sluice.SinkStatsReporter = (*Sink)(nil)
	_ sink.MetricsRegisterer   = (*Sink)(nil)
)

// SinkStats implements sluice.SinkStatsReporter. Bytes are the key and
// value bytes of the records Kafka acknowledged (before compression;
// headers not included). Errors are events acknowledged with an error.
// Retries and dead letters are not counted: franz-go retries produce
// requests inside the client (its request errors are in the
// sluice_kafka_sink_… client metrics) and the sink has no dead-letter
// destination.
func (s *Sink) SinkStats() sluice.SinkStats {
	return sluice.SinkStats{
		Bytes:       int64(s.stats.recordBytes.Load()),
		Errors:      int64(s.stats.eventErrors.Load()),
		Retries:     -1,
		DeadLetters: -1,
	}
}

// clientMetricsNamespace and clientMetricsSubsystem prefix franz-go's
// client metrics (kprom): sluice_kafka_sink_… cannot clash with the
// daemon's own names, nor with a Kafka source's client should it export
// the same set.
const (
	clientMetricsNamespace = "sluice"
	clientMetricsSubsystem = "kafka_sink"
)

// clientMetrics holds franz-go's client metrics (kprom) for the daemon's
// registry. kprom creates its metrics when a client is created and, given
// a registry, registers them then and unregisters them when the client
// closes; the sink makes a new client on every Open, while the old one
// may still be open, so that would register the same names twice. Here
// kprom registers nothing (kprom.Registry(nil)): each client gets its own
// kprom.Metrics, and one collector, registered once, reports the current
// client's. The counters therefore restart from zero when the sink
// reconnects, as after a process restart; rate() handles that.
type clientMetrics struct {
	labels  atomic.Pointer[prometheus.Labels] // set by RegisterMetrics; nil: no metrics
	current atomic.Pointer[kprom.Metrics]     // the last client's
}

// RegisterMetrics implements sink.MetricsRegisterer: franz-go's producer
// metrics of this sink, under sluice_kafka_sink_…, with labels as const
// labels. Produce metrics are per broker, not per topic, so the series
// stay few whatever the number of tables. Call it before Open.
func (s *Sink) RegisterMetrics(reg prometheus.Registerer, labels prometheus.Labels) error {
	l := prometheus.Labels{}
	for k, v := range labels {
		l[k] = v
	}
	s.metrics.labels.Store(&l)
	if s.eos != nil {
		m := newEOSMetrics(l)
		if err := m.register(reg); err != nil {
			return err
		}
		s.eos.mu.Lock()
		s.eos.metrics = m
		s.eos.mu.Unlock()
	}
	return reg.Register(clientCollector{&s.metrics})
}

// withHooks adds a new client's kprom hooks to opts, when the metrics are
// registered; m is to be passed to use once the client exists.
func (c *clientMetrics) withHooks(opts []kgo.Opt) (_ []kgo.Opt, m *kprom.Metrics) {
	l := c.labels.Load()
	if l == nil {
		return opts, nil
	}
	m = kprom.NewMetrics(clientMetricsNamespace,
		kprom.Subsystem(clientMetricsSubsystem),
		kprom.Registry(nil),
		kprom.WithStaticLabel(*l),
		kprom.FetchAndProduceDetail(kprom.ByNode, kprom.Batches, kprom.Records,
			kprom.CompressedBytes, kprom.UncompressedBytes, kprom.ConsistentNaming),
		kprom.Histograms(kprom.RequestDurationE2E),
	)
	return append(opts, kgo.WithHooks(m)), m
}

// use makes m, whose client now exists, the one the collector reports.
func (c *clientMetrics) use(m *kprom.Metrics) {
	if m != nil {
		c.current.Store(m)
	}
}

// clientCollector reports the current client's kprom metrics. It
// describes nothing (an unchecked collector): the metrics exist only once
// a client does.
type clientCollector struct{ c *clientMetrics }

func (clientCollector) Describe(chan<- *prometheus.Desc) {}

func (cc clientCollector) Collect(ch chan<- prometheus.Metric) {
	if m := cc.c.current.Load(); m != nil {
		m.Collect(ch)
	}
}
