package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestKafkaSourceAvro: a table written to Kafka as Avro through the
// registry (Apicurio) and read back by a kafka source with format avro
// into Elasticsearch gives the same documents — types included — as the
// PostgreSQL → Elasticsearch pipeline on the same table.
func TestKafkaSourceAvro(t *testing.T) {
	table := fmt.Sprintf("e2e_ksavro_%d", time.Now().UnixNano()%1000000)
	e := newEnv(t, fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s;
		CREATE TABLE %[1]s (id int PRIMARY KEY, name text, amount numeric(10,2), born date, seen timestamptz, tags text[], n bigint);
		INSERT INTO %[1]s SELECT g, 'row ' || g, g * 1.25, DATE '2000-01-01' + g, TIMESTAMPTZ '2024-01-02 03:04:05.678+00' + g * INTERVAL '1 hour',
			ARRAY['a', g::text], g FROM generate_series(1, 200) g`, table))
	t.Cleanup(func() { e.exec("DROP TABLE IF EXISTS " + table) })
	topic := e.name + ".public." + table
	_, reg := newAvroReader(t, topic+"-key", topic+"-value")
	es := testenv.NewES(t, e.name)
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	for _, p := range []string{"cap", "direct"} {
		slot := "sluice_" + e.name + p
		t.Cleanup(func() {
			e.reconnect()
			testenv.DropSlot(t, e.db, slot)
			e.db.Exec(context.Background(), "DROP PUBLICATION IF EXISTS "+slot)
		})
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	t.Cleanup(func() { adm.DeleteGroups(context.Background(), e.name+"idx") })

	src := fmt.Sprintf("{type: postgres, dsn: %q, tables: [public.%s], status_interval: 1s}", e.pgDSN, table)
	esSink := func(which string) string {
		return fmt.Sprintf("{type: elasticsearch, urls: [%s], index: \"%s-%s-{table}\", state_index: %s-state-%s, bulk: {flush_interval: 50ms}}",
			es.URL, e.name, which, e.name, which)
	}
	cfg := fmt.Sprintf(`log: {level: info, format: json}
http: {listen: "127.0.0.1:0"}
state_dir: %q
pipelines:
  %[2]scap:
    topic_prefix: %[2]s
    source: %[3]s
    sinks:
      kafka: {brokers: [%[4]s], format: avro, registry: {url: %[5]q}}
  %[2]sdirect:
    source: %[3]s
    sinks:
      search: %[6]s
  %[2]sidx:
    source: {type: kafka, brokers: [%[4]s], topics: [%[7]s], group: %[2]sidx, format: avro, registry: {url: %[5]q}, commit_interval: 100ms}
    sinks:
      search: %[8]s
`, filepath.Join(e.dir, "state"), e.name, src, e.brokers, reg, esSink("direct"), topic, esSink("topic"))
	e.cfgPath = filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	d := e.launch()
	direct, viaTopic := e.name+"-direct-"+table, e.name+"-topic-"+table
	e.waitUntil(t, "both indexes to hold the snapshot", 2*time.Minute, func() bool {
		return es.Exists(direct) && es.Exists(viaTopic) && len(es.Docs(direct)) == 200 && len(es.Docs(viaTopic)) == 200
	})
	e.exec(fmt.Sprintf(`UPDATE %[1]s SET name = NULL, amount = -0.01, tags = '{}' WHERE id <= 10;
		DELETE FROM %[1]s WHERE id BETWEEN 11 AND 20;
		UPDATE %[1]s SET id = id + 1000 WHERE id BETWEEN 21 AND 25;
		INSERT INTO %[1]s (id, name, born, seen) VALUES (5000, 'late', 'infinity', '-infinity')`, table))
	want := 200 - 10 + 1
	var a, b map[string]map[string]any
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		a, b = es.Docs(direct), es.Docs(viaTopic)
		if len(a) == want && reflect.DeepEqual(a, b) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 2m: %d documents written straight, %d from the topic; differences: %v", len(a), len(b), docDiffs(a, b, 5))
		}
	}
	if doc := b["5000"]; doc["born"] != "infinity" || doc["name"] != "late" || b["1"]["amount"] != "-0.01" || b["1021"] == nil || b["21"] != nil {
		t.Errorf("documents from the Avro topic: 5000 %v, 1 %v, 1021 %v, 21 %v", doc, b["1"], b["1021"], b["21"])
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	t.Logf("%d documents from the Avro topic equal the ones written straight from PostgreSQL, e.g. %v", len(b), b["2"])
}

// docDiffs describes up to n documents that differ between two indexes.
func docDiffs(a, b map[string]map[string]any, n int) []string {
	var out []string
	for id := range mergeKeys(anyKeys(a), anyKeys(b)) {
		if len(out) < n && !reflect.DeepEqual(a[id], b[id]) {
			out = append(out, fmt.Sprintf("%s: %v ≠ %v", id, a[id], b[id]))
		}
	}
	return out
}

func anyKeys(m map[string]map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		out[k] = nil
	}
	return out
}
