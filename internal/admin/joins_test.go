package admin

import (
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pipeline"
)

// joinTransform reports fixed join counters.
type joinTransform struct{ s sluice.JoinStats }

func (j *joinTransform) Apply(*sluice.Event) (bool, error) { return true, nil }
func (j *joinTransform) JoinStats() sluice.JoinStats       { return j.s }

// TestJoinMetrics: each join of a pipeline is on /metrics, labelled by
// its lookup table and field; the state size only while it is open.
func TestJoinMetrics(t *testing.T) {
	open := &joinTransform{s: sluice.JoinStats{Lookup: "public.customers", As: "customer", Enriched: 10, Missing: 2, Dropped: 1,
		LookupChanges: 5, Reemitted: 1000, ReemitSkipped: 3, ReemitMax: 1000, BootstrapRows: 100000, BootstrapSeconds: 1.5, StoreBytes: 4096}}
	closed := &joinTransform{s: sluice.JoinStats{Lookup: "public.regions", As: "region", StoreBytes: -1}}
	shop := &pipeline.Pipeline{Name: "shop", Source: &snapSource{},
		Transforms: []pipeline.Transform{{Path: "t[0]", Transform: open}, {Path: "t[1]", Transform: closed}}}
	plain := &pipeline.Pipeline{Name: "plain", Source: &snapSource{}}
	_, metrics := get(t, serve(t, Options{}, shop, plain)+"/metrics")
	l := `{as="customer",lookup="public.customers",pipeline="shop"}`
	checkMetrics(t, metrics, []metricCase{
		{`sluice_join_enriched_total` + l + ` 10`, true},
		{`sluice_join_missing_total` + l + ` 2`, true},
		{`sluice_join_dropped_total` + l + ` 1`, true},
		{`sluice_join_lookup_changes_total` + l + ` 5`, true},
		{`sluice_join_reemitted_total` + l + ` 1000`, true},
		{`sluice_join_reemit_skipped_total` + l + ` 3`, true},
		{`sluice_join_reemit_max` + l + ` 1000`, true},
		{`sluice_join_bootstrap_rows_total` + l + ` 100000`, true},
		{`sluice_join_bootstrap_seconds` + l + ` 1.5`, true},
		{`sluice_join_state_bytes` + l + ` 4096`, true},
		{`sluice_join_enriched_total{as="region",lookup="public.regions",pipeline="shop"} 0`, true},
		{`sluice_join_state_bytes{as="region"`, false},
		{`sluice_join_enriched_total{as="customer",lookup="public.customers",pipeline="plain"`, false},
	})
}
