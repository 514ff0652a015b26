package cluster

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the member's series for /metrics: which pipelines run
// here, whether it joined, and whether the group refused its
// configuration.
func (m *Member) Collectors() []prometheus.Collector {
	member := prometheus.Labels{"group": m.cfg.Group, "member": m.cfg.Member}
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_cluster_joined", Help: "1 while this process is a member of its cluster group.", ConstLabels: member},
			func() float64 { return b2f(m.joined.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_cluster_config_mismatch", Help: "1 while the group refuses this member because its pipeline set differs (the reason is in the log and on /readyz).", ConstLabels: member},
			func() float64 { return b2f(m.mismatch.Load() != nil) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sluice_cluster_assignments_total", Help: "Assignments this member received (each rebalance it took part in).", ConstLabels: member},
			func() float64 { return float64(m.rebalances.Load()) }),
	}
	for i, j := range m.jobs {
		labels := prometheus.Labels{"group": m.cfg.Group, "member": m.cfg.Member, "pipeline": j.Name}
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_cluster_pipeline_assigned",
			Help: "1 while the pipeline is assigned to this member (it runs here), 0 while another member or none has it.", ConstLabels: labels},
			func() float64 { return b2f(m.owned[i].Load()) }))
	}
	return cs
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
