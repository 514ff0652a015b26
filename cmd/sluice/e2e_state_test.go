package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestEventAndStateTopics runs the recipe testdata/config/shop-event-and-state.yaml
// as shipped, with only the test's names, DSN and brokers put in and the
// state topics' segments made small, on tables with mixed-case names:
//   - the events topics hold every change (r, c, u, d and tombstones);
//   - the outbox row is an event on its own topic, on the events sink only;
//   - after Kafka compacted the state topics, each holds one record per
//     live key and nothing but tombstones for deleted rows, and folding
//     it by key from offset 0 gives exactly the tables.
//
// Compaction needs a rolled segment (the active one is never cleaned):
// the test keeps updating one "ticker" row per table, each update
// arriving in a new segment, until the cleaner has run.
func TestEventAndStateTopics(t *testing.T) {
	schema := fmt.Sprintf("Shop%d", time.Now().UnixNano()%100000)
	e := newEnv(t, fmt.Sprintf(`CREATE SCHEMA %[1]q;
		CREATE TABLE %[1]q."Customers" ("Id" int PRIMARY KEY, "Name" text NOT NULL, city text);
		CREATE TABLE %[1]q.orders (id int PRIMARY KEY, "customerId" int NOT NULL, amount numeric(10,2));
		CREATE TABLE %[1]q.outbox (id uuid PRIMARY KEY, aggregatetype text, aggregateid text, type text, payload jsonb);
		INSERT INTO %[1]q."Customers" VALUES (1, 'Peter', 'Berne'), (2, 'Paul', 'Zurich'), (3, 'Mary', 'Basel'), (999, 'ticker', '0');
		INSERT INTO %[1]q.orders VALUES (1, 1, 12.50), (2, 2, 99.90), (999, 999, 0)`, schema))
	t.Cleanup(func() { e.exec(fmt.Sprintf("DROP SCHEMA IF EXISTS %q CASCADE", schema)) })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.admin = freeAddr(t)
	e.writeRecipe(schema)
	d := e.start()
	defer d.stop(t, syscall.SIGTERM)
	// Changes made while the initial snapshot runs may reach a topic
	// before the snapshot's rows (DESIGN.md): change nothing before it
	// is done.
	e.waitUntil(t, "the initial snapshot", time.Minute, func() bool {
		for _, tbl := range []string{"Customers", "orders", "outbox"} {
			if e.metric(t, `sluice_snapshot_done{kind="initial",pipeline="`+e.name+`",table="`+schema+"."+tbl+`"}`) != 1 {
				return false
			}
		}
		return true
	})

	cust, orders, outbox := fmt.Sprintf("%q.%q", schema, "Customers"), fmt.Sprintf("%q.orders", schema), fmt.Sprintf("%q.outbox", schema)
	e.exec(`UPDATE ` + cust + ` SET city = 'Bern' WHERE "Id" = 1`)
	e.exec(`UPDATE ` + cust + ` SET city = 'Thun' WHERE "Id" = 1`)
	e.exec(`DELETE FROM ` + cust + ` WHERE "Id" = 2`)
	e.exec(`UPDATE ` + cust + ` SET "Id" = 30 WHERE "Id" = 3`) // a key change: the old key is deleted
	e.exec(`INSERT INTO ` + cust + ` VALUES (4, 'Anna', NULL)`)
	e.exec(`BEGIN; INSERT INTO ` + orders + ` VALUES (3, 4, 5.00); DELETE FROM ` + orders + ` WHERE id = 1;
		INSERT INTO ` + outbox + ` VALUES ('00000000-0000-4000-8000-000000000001', 'order', '3', 'OrderCreated', '{"id": 3}'); COMMIT`)

	events := e.name + "." + schema + ".Customers"
	outboxTopic := e.name + ".outbox.order"
	hist := e.consume([]string{events}, 4+2+1+2+2+1, time.Minute) // 4 r, 2 u, d + tombstone, key change d + tombstone + c, c
	var ops []string
	for _, r := range hist {
		ops = append(ops, opOf(r))
	}
	if want := "r r r r u u d - d - c c"; strings.Join(ops, " ") != want {
		t.Errorf("events topic %s: ops %v, want %s", events, ops, want)
	}
	if ob := e.consume([]string{outboxTopic}, 1, time.Minute); len(ob) != 1 || string(ob[0].key) != `"3"` || string(ob[0].value) != `"{\"id\": 3}"` {
		t.Errorf("outbox topic %s: %v", outboxTopic, ob)
	}

	states := []struct {
		table, topic, tick string
		key                func(map[string]any) string
	}{
		{cust, e.name + "." + schema + ".Customers.state", `UPDATE ` + cust + ` SET city = (city::int + 1)::text WHERE "Id" = 999`,
			func(r map[string]any) string { return fmt.Sprintf(`{"Id":%v}`, r["Id"]) }},
		{orders, e.name + "." + schema + ".orders.state", `UPDATE ` + orders + ` SET amount = amount + 1 WHERE id = 999`,
			func(r map[string]any) string { return fmt.Sprintf(`{"id":%v}`, r["id"]) }},
	}
	began, rounds, done := time.Now(), 0, make([]bool, len(states))
	for deadline := time.Now().Add(4 * time.Minute); slices.Contains(done, false); rounds++ {
		for i, c := range states {
			if done[i] {
				continue
			}
			e.exec(c.tick)
			problem := checkState(e.readToEnd(c.topic), e.tableJSON(c.table), c.key, "999")
			if problem == "" {
				t.Logf("%s compacted after %v (%d rounds)", c.topic, time.Since(began).Round(time.Second), rounds+1)
				done[i] = true
			} else if time.Now().After(deadline) {
				t.Fatalf("state topic %s after 4 minutes: %s", c.topic, problem)
			}
		}
		time.Sleep(500 * time.Millisecond) // the broker's cleaner looks every 15 s (log.cleaner.backoff.ms)
	}
	if ts := e.topicsWithPrefix(); slices.Contains(ts, e.name+"."+schema+".outbox") || slices.Contains(ts, e.name+"."+schema+".outbox.state") {
		t.Errorf("the outbox table's changes reached sluice's own topics: %v", ts)
	}
}

// opOf is an envelope's op, or "-" for a tombstone.
func opOf(r record) string {
	if r.value == nil {
		return "-"
	}
	var v struct{ Op string }
	if json.Unmarshal(r.value, &v) != nil {
		return "?"
	}
	return v.Op
}

// checkState compares a state topic's records with the table's rows
// (key → row JSON): it returns what is wrong, "" when the topic is
// compacted and folds to the table. Keys containing skip (the ticker row,
// updated while the topic is read, its newest values in the active
// segment) may appear more than once and are not compared.
func checkState(recs []record, want map[string]string, key func(map[string]any) string, skip string) string {
	fold := map[string]string{}
	seen := map[string]int{}
	for _, r := range recs {
		k := string(r.key)
		seen[k]++
		if r.value == nil {
			delete(fold, k)
			continue
		}
		fold[k] = string(r.value)
	}
	wantByKey := map[string]string{}
	for _, row := range want {
		var m map[string]any
		if err := json.Unmarshal([]byte(row), &m); err != nil {
			return err.Error()
		}
		wantByKey[key(m)] = row
	}
	// The ticker's newest update may still be on its way.
	maps.DeleteFunc(fold, func(k, _ string) bool { return strings.Contains(k, skip) })
	maps.DeleteFunc(wantByKey, func(k, _ string) bool { return strings.Contains(k, skip) })
	if !maps.Equal(normalizeJSON(fold), normalizeJSON(wantByKey)) {
		return fmt.Sprintf("folds to\n  %v\nwant\n  %v", fold, wantByKey)
	}
	for k, n := range seen {
		if n > 1 && !strings.Contains(k, skip) {
			return fmt.Sprintf("key %s has %d records: not compacted yet", k, n)
		}
	}
	for _, r := range recs {
		if _, live := wantByKey[string(r.key)]; !live && r.value != nil && !strings.Contains(string(r.key), skip) {
			return fmt.Sprintf("deleted key %s has a row value %s", r.key, r.value)
		}
	}
	return ""
}

// normalizeJSON re-encodes JSON values so that numbers compare equal
// whether written as numbers (to_json) or as decimal strings (the
// recipe's decimal_handling_mode: string).
func normalizeJSON(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		var x map[string]any
		if json.Unmarshal([]byte(v), &x) != nil {
			out[k] = v
			continue
		}
		if s, ok := x["amount"].(string); ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				x["amount"] = f
			}
		}
		b, _ := json.Marshal(x)
		out[k] = string(b)
	}
	return out
}

// tableJSON returns the table's rows as JSON objects (to_json of the row).
func (e *env) tableJSON(table string) map[string]string {
	e.t.Helper()
	rows, err := e.db.Query(context.Background(), `SELECT to_json(t)::text FROM `+table+` t`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			e.t.Fatal(err)
		}
		out[s] = s
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// readToEnd reads a (one-partition) topic from its start to its end
// offset now. A compacted topic has gaps, so it stops at the record
// before the end offset rather than after a count.
func (e *env) readToEnd(topic string) []record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		e.t.Fatal(err)
	}
	end := int64(0)
	ends.Each(func(o kadm.ListedOffset) { end = max(end, o.Offset) })
	var out []record
	for last := int64(-1); last < end-1; {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		fs := cl.PollFetches(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		if fs.IsClientClosed() || timedOut {
			e.t.Fatalf("reading %s: stuck before offset %d of %d", topic, last+1, end)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end {
				out = append(out, record{r.Topic, r.Partition, r.Offset, r.Key, r.Value, nil})
			}
			last = max(last, r.Offset)
		})
	}
	return out
}

// topicsWithPrefix lists the topics named after the test's pipeline.
func (e *env) topicsWithPrefix() []string {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.brokers, ",")...))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	ts, err := kadm.NewClient(cl).ListTopics(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, name := range ts.Names() {
		if strings.HasPrefix(name, e.name+".") {
			out = append(out, name)
		}
	}
	return out
}

// writeRecipe writes testdata/config/shop-event-and-state.yaml with the
// test's pipeline name (also the topic prefix, and the outbox topics'),
// tables of schema, DSN and brokers, and state topics that roll a
// segment every 100 ms and are cleaned at once.
func (e *env) writeRecipe(schema string) {
	e.t.Helper()
	b, err := os.ReadFile("../../testdata/config/shop-event-and-state.yaml")
	if err != nil {
		e.t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		e.t.Fatal(err)
	}
	cfg["http"] = map[string]any{"listen": e.admin}
	cfg["state_dir"] = filepath.Join(e.dir, "state")
	cfg["log"] = map[string]any{"level": "info", "format": "json"}
	pipes := cfg["pipelines"].(map[string]any)
	p := pipes["shop"].(map[string]any)
	pipes[e.name] = p
	delete(pipes, "shop")
	p["topic_prefix"] = e.name
	src := p["source"].(map[string]any)
	src["dsn"], src["status_interval"] = e.pgDSN, "1s"
	src["tables"] = []string{schema + ".Customers", schema + ".orders", schema + ".outbox"}
	sinks := p["sinks"].(map[string]any)
	for name, s := range sinks {
		s := s.(map[string]any)
		s["brokers"], s["linger"] = []string{e.brokers}, "1ms"
		for _, tr := range s["transforms"].([]any) {
			tr := tr.(map[string]any)
			if _, ok := tr["tables"]; ok {
				tr["tables"] = []string{schema + ".outbox"}
			}
			if tr["type"] == "outbox" {
				tr["route_topic_replacement"] = e.name + ".outbox.${routedByValue}"
			}
		}
		if name == "state" {
			cf := s["topic_creation"].(map[string]any)["configs"].(map[string]any)
			cf["segment.ms"], cf["min.cleanable.dirty.ratio"] = "100", "0.01"
		}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.cfgPath = filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(e.cfgPath, out, 0o644); err != nil {
		e.t.Fatal(err)
	}
}
