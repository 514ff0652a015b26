package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The shape of TestKafkaSourceIndexUnderKills: rows before the capture
// starts, rows inserted after the truncate, writers, kills in all and
// the kill after which the table is truncated.
const (
	ksSeeded     = 5000
	ksRefill     = 1000
	ksWriters    = 2
	ksKills      = 10
	ksTruncateAt = 7
)

// TestKafkaSourceIndexUnderKills: PostgreSQL → Kafka (a capture daemon,
// truncates written) → Elasticsearch (an index daemon with the kafka
// source) under a concurrent write workload, the index daemon killed with
// kill -9 ten times at random points and restarted. Part-way the workload
// stops, the table is truncated and refilled with keys the old rows had,
// and a second workload writes while the last kills fall. At the end the
// index equals the table: no document missing, none stale, none
// resurrected. Then the rebuild: the index deleted and the group reset,
// the replay of the topic builds the same index; two more replays over
// the existing index leave every document as it was.
func TestKafkaSourceIndexUnderKills(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("seed %d", seed)
	table := fmt.Sprintf("e2e_ksrc_%d", time.Now().UnixNano()%1000000)
	e := newEnv(t, fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s (id bigint PRIMARY KEY, v bigint NOT NULL, pad text);
		INSERT INTO %[1]s SELECT g, 0, 'seed' FROM generate_series(1, %[2]d) g`, table, ksSeeded))
	t.Cleanup(func() { e.exec("DROP TABLE IF EXISTS " + table) })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name) // the capture topic, the group's dead-letter topic
	es := testenv.NewES(t, e.name)
	cl, adm := e.kafkaAdmin()
	topic, group := e.name+".public."+table, e.name+".index"
	deleteGroupAtEnd(t, adm, group)
	e.admin = freeAddr(t)
	e.writeCapture(table, 3)
	start := time.Now()
	capture := e.startCapture()
	// Writes start after the capture's snapshot (see the kafka source's
	// doc: a transaction spanning the snapshot point orders before it).
	w := testenv.StartWorkload(t, table, ksSeeded, ksWriters, seed, e.pgConnect)

	ix := e.newIndexer(e.name + "ix")
	index := ix.name + ".public." + table
	ix.writeDaemon(kafkaSource(e.brokers, topic, group), esSink(es.URL, ix.name+"-state"))
	ix.start()
	var events float64
	for k := 1; k <= ksKills; k++ {
		// Half the kills fall early in a run (before much is committed),
		// half after a while.
		at := 200 + rng.IntN(3000)
		if rng.IntN(2) == 0 {
			at = 5000 + rng.IntN(25000)
		}
		seen := ix.wait(float64(at))
		ix.kill()
		// Not ten session timeouts: the restart joins at once (the
		// failover test waits for a session to time out).
		evictMembers(t, cl, group)
		events += seen
		backlog := int64(0)
		if rng.IntN(2) == 0 {
			backlog = int64(100 + rng.IntN(2000))
		}
		if k == ksTruncateAt {
			// The index daemon is down: the truncate and the refill with
			// the same keys wait for it in the topic.
			stats := w.Stop()
			e.exec("TRUNCATE " + table)
			e.exec(fmt.Sprintf("INSERT INTO %s SELECT g, 1000000, 'refill' FROM generate_series(1, %d) g", table, ksRefill))
			t.Logf("workload stopped (%v); table truncated and refilled with %d rows", stats, ksRefill)
			w = testenv.StartWorkload(t, table, ksRefill, ksWriters, seed+1, e.pgConnect)
		}
		w.WaitTxs(backlog)
		t.Logf("kill -9 #%d of the index daemon after %.0f events (workload at %d transactions); restart after %d more transactions, %d records behind",
			k, seen, w.Txs(), backlog, groupLag(t, adm, group, topic))
		ix.start()
	}
	ix.wait(100) // the last daemon reads under load too
	stats := w.Stop()
	e.caughtUp(t)
	got, want := waitIndexMatches(t, e, es, index, table, 3*time.Minute)
	events += ix.events()
	t.Logf("%d kills, %d events handed to the index's sink; workload %v; %v", ksKills, int64(events), stats, time.Since(start).Round(time.Second))
	testenv.SameState(t, got, want)
	if t.Failed() {
		e.explainKeys(t, topic, diffKeys(got, want))
		return
	}
	waitGroupCaughtUp(t, adm, ix, group, topic)
	built := es.Docs(index)

	// The rebuild: delete the index, replay the topic from offset 0.
	if code := ix.stop(); code != 0 {
		t.Errorf("index daemon: exit code %d after SIGTERM", code)
	}
	es.Must("DELETE", "/"+index, nil)
	resetGroup(t, adm, group)
	rebuild := time.Now()
	ix.start()
	got, want = waitIndexMatches(t, e, es, index, table, 3*time.Minute)
	testenv.SameState(t, got, want)
	waitGroupCaughtUp(t, adm, ix, group, topic)
	rebuilt := es.Docs(index)
	t.Logf("rebuild from offset 0: %.0f events in %v", ix.events(), time.Since(rebuild).Round(time.Millisecond))
	// The same documents, columns left unchanged by a key change
	// included: a create never takes them from an earlier row of its key
	// whose delete or truncate another partition has not delivered yet.
	sameDocs(t, "the index built under kills and the rebuilt one", rebuilt, built)
	rebuildEvents := ix.events()

	// Replays over the existing index change nothing.
	for r := 1; r <= 2; r++ {
		if code := ix.stop(); code != 0 {
			t.Errorf("index daemon: exit code %d after SIGTERM", code)
		}
		resetGroup(t, adm, group)
		ix.start()
		waitGroupCaughtUp(t, adm, ix, group, topic)
		t.Logf("replay %d over the index: %.0f events", r, ix.events())
		if ix.events() < rebuildEvents {
			t.Errorf("replay %d handed %.0f events, the rebuild %.0f: the group was not reset", r, ix.events(), rebuildEvents)
		}
		sameDocs(t, fmt.Sprintf("replay %d", r), es.Docs(index), rebuilt)
	}
	if code := ix.stop(); code != 0 {
		t.Errorf("index daemon: exit code %d after SIGTERM", code)
	}
	if code := capture.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("capture daemon: exit code %d after SIGTERM", code)
	}
}

// TestKafkaSourceGroupSplitAndFailover: two index daemons in one group
// share a four-partition change topic, both handing events to their
// sinks; one is killed with kill -9 while writes go on, the other takes
// its partitions over once the session times out, and the index ends
// equal to the table with every record of the topic committed.
func TestKafkaSourceGroupSplitAndFailover(t *testing.T) {
	const seeded = 2000
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	table := fmt.Sprintf("e2e_ksplit_%d", time.Now().UnixNano()%1000000)
	e := newEnv(t, fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s (id bigint PRIMARY KEY, v bigint NOT NULL, pad text);
		INSERT INTO %[1]s SELECT g, 0, 'seed' FROM generate_series(1, %[2]d) g`, table, seeded))
	t.Cleanup(func() { e.exec("DROP TABLE IF EXISTS " + table) })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	es := testenv.NewES(t, e.name)
	_, adm := e.kafkaAdmin()
	topic, group := e.name+".public."+table, e.name+".index"
	deleteGroupAtEnd(t, adm, group)
	e.admin = freeAddr(t)
	e.writeCapture(table, 4)
	capture := e.startCapture()

	// One pipeline in two processes.
	a, b := e.newIndexer(e.name+"ix"), e.newIndexer(e.name+"ix")
	index := a.name + ".public." + table
	for _, ix := range []*indexer{a, b} {
		ix.writeDaemon(kafkaSource(e.brokers, topic, group, "session_timeout: 6s"), esSink(es.URL, a.name+"-state"))
		ix.start()
	}
	w := testenv.StartWorkload(t, table, seeded, ksWriters, seed, e.pgConnect)
	e.waitUntil(t, "both index daemons to hand events to their sinks", 2*time.Minute, func() bool {
		for _, ix := range []*indexer{a, b} {
			if gone, err := ix.exited(); gone {
				t.Fatalf("an index daemon exited (%v):\n%s", err, ix.d.logs.String())
			}
		}
		return a.events() > 0 && b.events() > 0
	})
	w.WaitTxs(200)
	ea, eb := a.events(), b.events()
	a.kill()
	killed := time.Now()
	t.Logf("kill -9 of daemon A after %.0f events (B: %.0f); workload at %d transactions", ea, eb, w.Txs())
	w.WaitTxs(1500) // writes to A's partitions, read by B once the group moved them
	stats := w.Stop()
	e.caughtUp(t)
	got, want := waitIndexMatches(t, e, es, index, table, 3*time.Minute)
	testenv.SameState(t, got, want)
	matched := time.Since(killed)
	waitGroupCaughtUp(t, adm, b, group, topic)
	t.Logf("workload %v; daemon B handed %.0f events in all; the index matched the table %v after the kill, the group committed the end %v after it",
		stats, b.events(), matched.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	if b.events() <= eb {
		t.Errorf("daemon B handed no event after A was killed")
	}
	if code := b.stop(); code != 0 {
		t.Errorf("daemon B: exit code %d after SIGTERM", code)
	}
	if code := capture.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("capture daemon: exit code %d after SIGTERM", code)
	}
}

// TestKafkaSourceDeadLetter: records that are not change events sluice
// can read (a value that is not JSON, a JSON value without op) go to the
// dead-letter topic unchanged, with Kafka Connect's error headers saying
// where they came from and why; the change events around them are
// indexed, the group commits past them, and the pipeline does not fail.
func TestKafkaSourceDeadLetter(t *testing.T) {
	const rows = 50
	table := fmt.Sprintf("e2e_kdlq_%d", time.Now().UnixNano()%1000000)
	e := newEnv(t, fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s (id bigint PRIMARY KEY, v bigint NOT NULL, pad text);
		INSERT INTO %[1]s SELECT g, 0, 'seed' FROM generate_series(1, %[2]d) g`, table, rows))
	t.Cleanup(func() { e.exec("DROP TABLE IF EXISTS " + table) })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	es := testenv.NewES(t, e.name)
	_, adm := e.kafkaAdmin()
	capTopic, in, dlq, group := e.name+".public."+table, e.name+".in", e.name+".dead", e.name+".index"
	deleteGroupAtEnd(t, adm, group)
	e.writeCapture(table, 1)
	capture := e.startCapture()
	e.exec(fmt.Sprintf("UPDATE %[1]s SET v = v + 1 WHERE id %% 3 = 0; DELETE FROM %[1]s WHERE id %% 7 = 0; INSERT INTO %[1]s VALUES (1001, 5, 'new')", table))
	e.caughtUp(t)
	valid := e.consumeAll([]string{capTopic})
	if code := capture.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("capture daemon: exit code %d after SIGTERM", code)
	}
	if len(valid) < rows+2 {
		t.Fatalf("the capture wrote %d records, want more than %d", len(valid), rows+2)
	}

	// The input: real change events with two unreadable records among them.
	garbage := []*kgo.Record{
		{Key: []byte(`{"id":1}`), Value: []byte("not json"), Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}}},
		{Key: []byte(`{"id":2}`), Value: []byte(`{"before":null,"after":{"id":2,"v":7,"pad":"x"},"source":{"connector":"postgresql"}}`)},
	}
	whys := []string{"not JSON", "no op"}
	var recs []*kgo.Record
	for i, r := range valid {
		if i == 1 {
			recs = append(recs, garbage...)
		}
		h := make([]kgo.RecordHeader, 0, len(r.headers))
		for k, v := range r.headers {
			h = append(h, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
		recs = append(recs, &kgo.Record{Key: r.key, Value: r.value, Headers: h})
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.brokers, ",")...), kgo.DefaultProduceTopic(in))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, in); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	ix := e.newIndexer(e.name + "ix")
	index := ix.name + ".public." + table
	ix.writeDaemon(kafkaSource(e.brokers, in, group, "dead_letter_topic: "+dlq), esSink(es.URL, ix.name+"-state"))
	ix.start()
	got, want := waitIndexMatches(t, e, es, index, table, 2*time.Minute)
	testenv.SameState(t, got, want)
	waitGroupCaughtUp(t, adm, ix, group, in)

	dead := e.consume([]string{dlq}, len(garbage), time.Minute)
	if len(dead) != len(garbage) {
		t.Fatalf("the dead-letter topic holds %d records, want %d", len(dead), len(garbage))
	}
	for i, d := range dead {
		g := garbage[i]
		if !bytes.Equal(d.key, g.Key) || !bytes.Equal(d.value, g.Value) {
			t.Errorf("dead letter %d: key %q value %q, want the record unchanged: key %q value %q", i, d.key, d.value, g.Key, g.Value)
		}
		for _, h := range g.Headers {
			if d.headers[h.Key] != string(h.Value) {
				t.Errorf("dead letter %d: header %s = %q, want %q (kept)", i, h.Key, d.headers[h.Key], h.Value)
			}
		}
		wantH := map[string]string{"__connect.errors.topic": in, "__connect.errors.partition": "0",
			"__connect.errors.offset": strconv.Itoa(1 + i)}
		for k, v := range wantH {
			if d.headers[k] != v {
				t.Errorf("dead letter %d: header %s = %q, want %q", i, k, d.headers[k], v)
			}
		}
		if msg := d.headers["__connect.errors.exception.message"]; !strings.Contains(msg, whys[i]) {
			t.Errorf("dead letter %d: __connect.errors.exception.message %q does not say %q", i, msg, whys[i])
		}
	}
	if gone, err := ix.exited(); gone {
		t.Fatalf("the index daemon exited (%v)", err)
	}
	series := `{pipeline="` + ix.name + `"}`
	if f, r := ix.metric(t, "sluice_pipeline_failed"+series), ix.metric(t, "sluice_restarts_total"+series); f != 0 || r != 0 {
		t.Errorf("sluice_pipeline_failed %.0f, sluice_restarts_total %.0f: want 0 and 0 (a dead letter is no failure)", f, r)
	}
	if code := ix.stop(); code != 0 {
		t.Errorf("index daemon: exit code %d after SIGTERM", code)
	}
}
