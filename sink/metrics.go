package sink

import "github.com/prometheus/client_golang/prometheus"

// MetricsRegisterer is implemented by sinks that export metrics of their
// own beyond sluice.SinkStats, such as the Kafka sink's franz-go client
// metrics. The admin server calls it once per sink, before the pipeline
// runs, with the daemon's registry and the const labels (pipeline, sink)
// that tell the sink's series from those of other sinks. Handing the
// registry over this way keeps the metrics in the one registry /metrics
// serves, without a process-global registry.
//
// A sink registers collectors whose names cannot clash with the daemon's
// (e.g. sluice_kafka_sink_…) and whose series carry labels. It must not
// register anything that would fail for a second sink of the same type.
type MetricsRegisterer interface {
	RegisterMetrics(reg prometheus.Registerer, labels prometheus.Labels) error
}
