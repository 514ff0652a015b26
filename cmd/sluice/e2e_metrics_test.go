package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// scrape returns the daemon's /metrics as series (name{labels}) → value.
func (e *env) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + e.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics: %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// sum adds the series of metric name whose labels include every label of
// with (`k="v"`), and reports whether there was any.
func sum(series map[string]float64, name string, with ...string) (float64, bool) {
	var total float64
	found := false
	for s, v := range series {
		n, labels, _ := strings.Cut(s, "{")
		if n != name {
			continue
		}
		ok := true
		for _, l := range with {
			ok = ok && strings.Contains(labels, l)
		}
		if ok {
			total += v
			found = true
		}
	}
	return total, found
}

// TestSinkMetricsEndToEnd: PostgreSQL → Kafka and Elasticsearch, with a
// row the index refuses (a mapping conflict) going to the dead-letter
// file. Once the stream is confirmed, every per-sink metric counts what
// happened: events equal the rows written, bytes are positive, the
// refused row is one dead letter, there were no errors, the
// acknowledgement latency was observed, and franz-go's client metrics
// (kprom) report the produced records, all labelled with the pipeline
// and the sink's name. /healthz passes and nothing is stuck.
func TestSinkMetricsEndToEnd(t *testing.T) {
	e := newEnv(t, "CREATE TABLE metrics_rows (id int PRIMARY KEY, note text)")
	t.Cleanup(func() { e.exec("DROP TABLE IF EXISTS metrics_rows") })
	e.admin = freeAddr(t)
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	es := testenv.NewES(t, e.name)
	mapping := filepath.Join(e.dir, "mapping.json")
	// note is an integer in the index: "abc" cannot be indexed.
	if err := os.WriteFile(mapping, []byte(`{"properties":{"id":{"type":"integer"},"note":{"type":"integer"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.writeDaemon(fmt.Sprintf("type: postgres\ndsn: %q\ntables: [public.metrics_rows]\nmessages: false\nstatus_interval: 1s\nsnapshot: {mode: never}", e.pgDSN),
		fmt.Sprintf(`kafka:
  brokers: [%s]
  linger: 1ms
elasticsearch:
  urls: [%s]
  state_index: %s-state
  mapping_file: %s
  dead_letter: {file: %s}
  bulk: {flush_interval: 50ms}`, e.brokers, es.URL, e.name, mapping, filepath.Join(e.dir, "dlq.jsonl")))
	d := e.start()

	const rows = 20
	for i := 1; i < rows; i++ {
		e.exec(fmt.Sprintf("INSERT INTO metrics_rows VALUES (%d, '%d')", i, i))
	}
	e.exec(fmt.Sprintf("INSERT INTO metrics_rows VALUES (%d, 'abc')", rows)) // refused by the index
	e.caughtUp(t)

	m := e.scrape(t)
	pipe := `pipeline="` + e.name + `"`
	for _, c := range []struct {
		metric, sink string
		check        func(v float64) bool
		want         string
	}{
		{"sluice_sink_events_total", "kafka", func(v float64) bool { return v == rows }, fmt.Sprint(rows)},
		{"sluice_sink_events_total", "elasticsearch", func(v float64) bool { return v == rows }, fmt.Sprint(rows)},
		{"sluice_sink_bytes_total", "kafka", func(v float64) bool { return v > 0 }, "> 0"},
		{"sluice_sink_bytes_total", "elasticsearch", func(v float64) bool { return v > 0 }, "> 0"},
		{"sluice_sink_errors_total", "kafka", func(v float64) bool { return v == 0 }, "0"},
		{"sluice_sink_errors_total", "elasticsearch", func(v float64) bool { return v == 0 }, "0"},
		{"sluice_sink_dead_letters_total", "elasticsearch", func(v float64) bool { return v == 1 }, "1"},
		{"sluice_sink_retries_total", "elasticsearch", func(v float64) bool { return v >= 0 }, ">= 0"},
		{"sluice_sink_ack_latency_seconds_count", "kafka", func(v float64) bool { return v > 0 }, "> 0"},
		{"sluice_sink_ack_latency_seconds_count", "elasticsearch", func(v float64) bool { return v > 0 }, "> 0"},
		{"sluice_sink_ack_latency_seconds_sum", "kafka", func(v float64) bool { return v > 0 }, "> 0"},
		// franz-go's client metrics of the Kafka sink, per broker.
		{"sluice_kafka_sink_produce_records_total", "kafka", func(v float64) bool { return v == rows }, fmt.Sprint(rows)},
		{"sluice_kafka_sink_produce_uncompressed_bytes_total", "kafka", func(v float64) bool { return v > 0 }, "> 0"},
		{"sluice_kafka_sink_connects_total", "kafka", func(v float64) bool { return v > 0 }, "> 0"},
		{"sluice_kafka_sink_write_bytes_total", "kafka", func(v float64) bool { return v > 0 }, "> 0"},
		{"sluice_kafka_sink_request_duration_e2e_seconds_count", "kafka", func(v float64) bool { return v > 0 }, "> 0"},
		{"sluice_kafka_sink_buffered_produce_records_total", "kafka", func(v float64) bool { return v == 0 }, "0"},
	} {
		v, ok := sum(m, c.metric, pipe, `sink="`+c.sink+`"`)
		if !ok || !c.check(v) {
			t.Errorf("%s{sink=%q} = %v (present %v), want %s", c.metric, c.sink, v, ok, c.want)
		}
	}
	// Totals a sink does not count are left out, not reported as 0.
	for _, absent := range []string{"sluice_sink_retries_total", "sluice_sink_dead_letters_total"} {
		if _, ok := sum(m, absent, pipe, `sink="kafka"`); ok {
			t.Errorf("%s{sink=\"kafka\"} exported; the Kafka sink does not count it", absent)
		}
	}
	if v, ok := sum(m, "sluice_pipeline_stuck", pipe); !ok || v != 0 {
		t.Errorf("sluice_pipeline_stuck = %v (present %v), want 0", v, ok)
	}
	if resp, err := http.Get("http://" + e.admin + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}
