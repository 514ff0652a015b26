package kafka

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// eosMetrics are exactly_once's metrics: how many Kafka transactions
// committed or aborted, and how long a commit (flush, position record,
// EndTxn) holds the sink's writer. Registered with the client metrics
// (RegisterMetrics), under the same sluice_kafka_sink_ prefix and labels.
type eosMetrics struct {
	txs    *prometheus.CounterVec // by result: committed, aborted
	commit prometheus.Histogram
}

func newEOSMetrics(labels prometheus.Labels) *eosMetrics {
	return &eosMetrics{
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: clientMetricsNamespace, Subsystem: clientMetricsSubsystem, Name: "transactions_total",
			Help:        "Kafka transactions of exactly_once, by result (committed, aborted).",
			ConstLabels: labels,
		}, []string{"result"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: clientMetricsNamespace, Subsystem: clientMetricsSubsystem, Name: "transaction_commit_seconds",
			Help:        "Time a committed transaction of exactly_once took to commit (flush, position record, EndTxn).",
			ConstLabels: labels,
			Buckets:     prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
}

func (m *eosMetrics) register(reg prometheus.Registerer) error {
	if err := reg.Register(m.txs); err != nil {
		return err
	}
	return reg.Register(m.commit)
}

// ended counts a transaction that ended with err (nil: committed) after
// its commit began at began.
func (m *eosMetrics) ended(began time.Time, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.txs.WithLabelValues("aborted").Inc()
		return
	}
	m.txs.WithLabelValues("committed").Inc()
	m.commit.Observe(time.Since(began).Seconds())
}
