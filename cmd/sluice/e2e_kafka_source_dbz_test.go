package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestKafkaSourceReadsDebezium: the topics Debezium Server wrote (the
// recordings of testdata/golden/debezium) and the topics sluice writes
// for the same fixtures and settings (TestDebeziumGolden's run of each
// mode) are each read by a kafka source into Elasticsearch; the two
// indexes of every table hold the same documents. With schemas the
// types come back from them; without, they are guessed from the JSON
// values — the same way on both sides.
func TestKafkaSourceReadsDebezium(t *testing.T) {
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	suite := dbzGoldenSuite
	suite.onRecords = func(t *testing.T, source, mode string, want, got map[string][]testenv.Record) {
		indexBoth(t, brokers, source, mode, suite.known, want, got)
	}
	used := make([]bool, len(suite.known))
	for _, c := range []struct{ source, mode string }{{"postgres", "defaults"}, {"postgres", "schemas"}, {"mariadb", "defaults"}} {
		t.Run(c.source+"/"+c.mode, func(t *testing.T) {
			var run *dbzRun
			if c.source == "postgres" {
				run = dbzPostgres(t, dbzDatabase, dbzPipeline, "sluice.TestDebeziumGolden")
			} else {
				run = dbzMariaDB(t)
			}
			runDebeziumMode(t, &suite, run, brokers, c.mode, used)
		})
	}
}

// indexBoth copies Debezium's records (side a) and sluice's (side b) into
// topics of their own, runs one daemon with a kafka source → Elasticsearch
// pipeline per side until the groups committed every record, and compares
// the two sides' indexes table by table. A field that differs is
// accepted only where the recorded topics differ already, by a known
// difference between Debezium and sluice (knownDebeziumDiffs).
func indexBoth(t *testing.T, brokers, source, mode string, known []testenv.Known, want, got map[string][]testenv.Record) {
	t.Helper()
	uniq := fmt.Sprintf("kdbz%d", time.Now().UnixNano()%1000000)
	es := testenv.NewES(t, uniq)
	testenv.DeleteTopicsAtEnd(t, brokers, uniq)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	topics := map[string][]string{}
	for side, recs := range map[string]map[string][]testenv.Record{"a": want, "b": got} {
		for topic, rs := range recs {
			name := uniq + "." + side + "." + topic
			if _, err := adm.CreateTopic(ctx, 1, 1, nil, name); err != nil {
				t.Fatal(err)
			}
			var krs []*kgo.Record
			for _, r := range rs {
				kr := &kgo.Record{Topic: name, Key: r.Key, Value: r.Value}
				for _, h := range r.Headers {
					kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
				}
				krs = append(krs, kr)
			}
			if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			topics[side] = append(topics[side], name)
		}
		t.Cleanup(func() { adm.DeleteGroups(context.Background(), uniq+"-"+side) })
	}

	e := &env{t: t, name: uniq, brokers: brokers, dir: t.TempDir()}
	var pipes strings.Builder
	for _, side := range []string{"a", "b"} {
		fmt.Fprintf(&pipes, `  %[1]s:
    topic_prefix: %[1]s
    source: {type: kafka, brokers: [%[2]s], topics: [%[3]s], group: %[4]s-%[1]s, commit_interval: 100ms, dead_letter_topic: %[4]s.%[1]s.dlq}
    sinks:
      search:
        type: elasticsearch
        urls: [%[5]s]
        index: "%[4]s-{prefix}-{table}"
        state_index: %[4]s-state-%[1]s
        dead_letter: {file: %[6]q}
        bulk: {flush_interval: 50ms}
`, side, brokers, strings.Join(topics[side], ", "), uniq, es.URL, filepath.Join(e.dir, side+".dead"))
	}
	e.cfgPath = filepath.Join(e.dir, "index.yaml")
	cfg := fmt.Sprintf("log: {level: info, format: json}\nhttp: {listen: \"127.0.0.1:0\"}\nstate_dir: %q\npipelines:\n%s", filepath.Join(e.dir, "state"), pipes.String())
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	d := e.launch()
	lagging := ""
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("sluice exited (%v) with %s behind", err, lagging)
		default:
		}
		if lagging = groupsBehind(ctx, adm, uniq, topics); lagging == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the groups did not commit every record in 2m: %s", lagging)
		}
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if dead := testenv.Topics(t, brokers, uniq+".a.dlq"); len(dead) > 0 {
		t.Errorf("records of Debezium's topics went to the dead-letter topic")
	}
	if dead := testenv.Topics(t, brokers, uniq+".b.dlq"); len(dead) > 0 {
		t.Errorf("records of sluice's topics went to the dead-letter topic")
	}

	status, body := es.Do("GET", "/_cat/indices/"+uniq+"-a-*?h=index", nil)
	if status != 200 {
		t.Fatalf("list indices: HTTP %d: %s", status, body)
	}
	indexes := strings.Fields(string(body))
	docs, accepted := 0, 0
	for _, a := range indexes {
		b := strings.Replace(a, uniq+"-a-", uniq+"-b-", 1)
		table := strings.TrimPrefix(a, uniq+"-a-")
		topic := ""
		for tp := range want {
			if strings.HasSuffix(tp, "."+table) {
				topic = tp
			}
		}
		da, db := es.Docs(a), es.Docs(b)
		docs += len(da)
		for id, doc := range da {
			other, ok := db[id]
			if !ok {
				t.Errorf("%s/%s: only from Debezium's topic: %v", a, id, doc)
				continue
			}
			for f := range mergeKeys(doc, other) {
				if reflect.DeepEqual(doc[f], other[f]) {
					continue
				}
				if knownDiff(known, source, mode, topic, "value.after."+f) {
					accepted++
					continue
				}
				t.Errorf("%s/%s.%s: from Debezium's topic %v, from sluice's %v", a, id, f, doc[f], other[f])
			}
		}
		for id := range db {
			if _, ok := da[id]; !ok {
				t.Errorf("%s/%s: only from sluice's topic: %v", b, id, db[id])
			}
		}
	}
	if len(indexes) < 5 || docs < 10 {
		t.Fatalf("%d indexes with %d documents from Debezium's topics: too few to compare", len(indexes), docs)
	}
	t.Logf("%d indexes, %d documents: the same from Debezium's topics and from sluice's (%d fields differ as the topics do: known differences)",
		len(indexes), docs, accepted)
}

// groupsBehind says which topics' records a side's group has not
// committed yet; "" when none.
func groupsBehind(ctx context.Context, adm *kadm.Client, uniq string, topics map[string][]string) string {
	var behind []string
	for _, side := range []string{"a", "b"} {
		ends, err := adm.ListEndOffsets(ctx, topics[side]...)
		if err != nil {
			return err.Error()
		}
		committed, err := adm.FetchOffsets(ctx, uniq+"-"+side)
		if err != nil {
			return err.Error()
		}
		for _, topic := range topics[side] {
			end, _ := ends.Lookup(topic, 0)
			c, ok := committed.Lookup(topic, 0)
			if end.Offset > 0 && (!ok || c.At < end.Offset) {
				behind = append(behind, fmt.Sprintf("%s at %d of %d", topic, c.At, end.Offset))
			}
		}
	}
	return strings.Join(behind, ", ")
}

func mergeKeys(a, b map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func knownDiff(known []testenv.Known, source, mode, topic, path string) bool {
	for i := range known {
		if known[i].Covers(source, mode, topic, path) {
			return true
		}
	}
	return false
}
