package admin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pipeline"
)

// joinCollector exports a pipeline's join transforms
// (sluice.JoinReporter), one series per join, labelled by the lookup
// table and the field the join adds: how many events it enriched and
// found no row for, how much re-emitting a lookup change costs, and how
// big its state is.
type joinCollector struct {
	joins                                                []sluice.JoinReporter
	enriched, missing, dropped, changes                  *prometheus.Desc
	reemitted, skipped, fanout, bootRows, bootSecs, size *prometheus.Desc
}

func newJoinCollector(p *pipeline.Pipeline) *joinCollector {
	c := &joinCollector{}
	for _, t := range p.Transforms {
		if r, ok := t.Transform.(sluice.JoinReporter); ok {
			c.joins = append(c.joins, r)
		}
	}
	if len(c.joins) == 0 {
		return nil
	}
	labels := prometheus.Labels{"pipeline": p.Name}
	vars := []string{"lookup", "as"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, vars, labels) }
	c.enriched = d("sluice_join_enriched_total", "Events the join enriched with their lookup row (or null), since the process started.")
	c.missing = d("sluice_join_missing_total", "Enriched events whose lookup row did not exist as of their position.")
	c.dropped = d("sluice_join_dropped_total", "Events dropped because their lookup row did not exist (missing: drop).")
	c.changes = d("sluice_join_lookup_changes_total", "Changes of the lookup table written into the join's state.")
	c.reemitted = d("sluice_join_reemitted_total", "Events re-emitted because the lookup row they refer to changed (on_lookup_change: reemit).")
	c.skipped = d("sluice_join_reemit_skipped_total", "Rows a lookup change did not re-emit because it referred to more than max_reemit rows.")
	c.fanout = d("sluice_join_reemit_max", "The most rows one lookup change re-emitted since the process started.")
	c.bootRows = d("sluice_join_bootstrap_rows_total", "Rows read from the database to fill the join's state.")
	c.bootSecs = d("sluice_join_bootstrap_seconds", "How long the last fill of the join's state took.")
	c.size = d("sluice_join_state_bytes", "The join's state on disk; absent while the pipeline is not running.")
	return c
}

func (c *joinCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, c.enriched, c.missing, c.dropped, c.changes, c.reemitted, c.skipped, c.fanout, c.bootRows, c.bootSecs, c.size)
}

func (c *joinCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.joins {
		s := r.JoinStats()
		m := func(d *prometheus.Desc, t prometheus.ValueType, v float64) {
			ch <- prometheus.MustNewConstMetric(d, t, v, s.Lookup, s.As)
		}
		m(c.enriched, prometheus.CounterValue, float64(s.Enriched))
		m(c.missing, prometheus.CounterValue, float64(s.Missing))
		m(c.dropped, prometheus.CounterValue, float64(s.Dropped))
		m(c.changes, prometheus.CounterValue, float64(s.LookupChanges))
		m(c.reemitted, prometheus.CounterValue, float64(s.Reemitted))
		m(c.skipped, prometheus.CounterValue, float64(s.ReemitSkipped))
		m(c.fanout, prometheus.GaugeValue, float64(s.ReemitMax))
		m(c.bootRows, prometheus.CounterValue, float64(s.BootstrapRows))
		m(c.bootSecs, prometheus.GaugeValue, s.BootstrapSeconds)
		if s.StoreBytes >= 0 {
			m(c.size, prometheus.GaugeValue, float64(s.StoreBytes))
		}
	}
}
