package kafka

import (
	"os"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/sink"
)

// TestDashboardClientMetrics: every sluice_kafka_sink_… metric the Grafana
// dashboard queries is one of franz-go's client metrics as the sink
// configures them (cmd/sluice's dashboard test checks the daemon's own;
// these exist only once a client does). Creating a client does no I/O.
func TestDashboardClientMetrics(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/sluice.json")
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`\bsluice_kafka_sink_\w+`).FindAllString(string(b), -1)
	if len(used) == 0 {
		t.Fatal("the dashboard queries no sluice_kafka_sink_… metric")
	}
	s, err := sink.Build(New, map[string]any{"brokers": []any{"127.0.0.1:1"}}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := s.RegisterMetrics(reg, prometheus.Labels{"pipeline": "shop", "sink": "kafka"}); err != nil {
		t.Fatal(err)
	}
	opts, m := s.metrics.withHooks([]kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")})
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s.metrics.use(m)

	descs := make(chan *prometheus.Desc, 100)
	go func() { m.Describe(descs); close(descs) }()
	names := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "(\w+)"`)
	for d := range descs {
		if n := fq.FindStringSubmatch(d.String()); n != nil {
			names[n[1]] = true
		}
	}
	for _, n := range used {
		if !names[n] {
			t.Errorf("the dashboard queries %s, which the Kafka sink's client does not export (it has %v)", n, names)
		}
	}
	// The collector registered on the daemon's registry reports the
	// current client's metrics, with the pipeline and sink labels.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "sluice_kafka_sink_buffered_produce_records_total" {
			for _, l := range mf.GetMetric()[0].GetLabel() {
				found = found || l.GetName() == "sink" && l.GetValue() == "kafka"
			}
		}
	}
	if !found {
		t.Error("sluice_kafka_sink_buffered_produce_records_total{sink=\"kafka\"} not gathered")
	}
}
