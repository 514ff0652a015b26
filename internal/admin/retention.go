package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice"
)

// walStatuses are PostgreSQL's wal_status values: one series each, so
// that an alert can match sluice_slot_wal_status{status="lost"} == 1 and
// the label set stays bounded.
var walStatuses = []string{"reserved", "extended", "unreserved", "lost"}

// retentionCollector exports what a source's position holds back on the
// server (sluice.RetentionReporter), once the source has read it.
type retentionCollector struct {
	src                                  sluice.RetentionReporter
	retained, lag, safe, over, walStatus *prometheus.Desc
}

func newRetentionCollector(pipeline string, src sluice.RetentionReporter) *retentionCollector {
	labels := prometheus.Labels{"pipeline": pipeline}
	return &retentionCollector{
		src:       src,
		retained:  prometheus.NewDesc("sluice_slot_retained_wal_bytes", "WAL the server keeps for the replication slot (current position minus restart_lsn).", nil, labels),
		lag:       prometheus.NewDesc("sluice_slot_confirmed_lag_bytes", "WAL not confirmed yet (current position minus confirmed_flush_lsn).", nil, labels),
		safe:      prometheus.NewDesc("sluice_slot_safe_wal_size_bytes", "WAL that can still be written before the slot is invalidated (safe_wal_size; -1: unlimited).", nil, labels),
		over:      prometheus.NewDesc("sluice_slot_wal_over_threshold", "1 while the slot retains more than the source's wal_warn_bytes.", nil, labels),
		walStatus: prometheus.NewDesc("sluice_slot_wal_status", "1 for the slot's wal_status (reserved, extended, unreserved, lost), 0 for the others.", []string{"status"}, labels),
	}
}

func (c *retentionCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, c.retained, c.lag, c.safe, c.over, c.walStatus)
}

func (c *retentionCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.src.Retention()
	if !r.Known {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.retained, prometheus.GaugeValue, float64(r.RetainedBytes))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(r.LagBytes))
	ch <- prometheus.MustNewConstMetric(c.safe, prometheus.GaugeValue, float64(r.SafeBytes))
	ch <- prometheus.MustNewConstMetric(c.over, prometheus.GaugeValue, boolValue(r.OverThreshold))
	for _, st := range walStatuses {
		ch <- prometheus.MustNewConstMetric(c.walStatus, prometheus.GaugeValue, boolValue(st == r.Status), st)
	}
}
