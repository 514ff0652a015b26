package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// jrRow decodes a JSON object keeping numbers as json.Number.
func jrRow(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// jrInt is the integer field k of row, or -1.
func jrInt(row map[string]any, k string) int64 {
	n, ok := row[k].(json.Number)
	if !ok {
		return -1
	}
	i, err := n.Int64()
	if err != nil {
		return -1
	}
	return i
}

// jrField is row[as][field] as a string: "<null>" when the struct is
// null, "<absent>" when row has no field as.
func jrField(row map[string]any, as, field string) string {
	v, ok := row[as]
	switch {
	case !ok:
		return "<absent>"
	case v == nil:
		return "<null>"
	}
	s, ok := v.(map[string]any)
	if !ok {
		return fmt.Sprintf("<not a struct: %v>", v)
	}
	return fmt.Sprint(s[field])
}

// jrStateRecord is what a state topic holds for one key.
type jrStateRecord struct {
	row     map[string]any // the latest value; nil after a tombstone
	records int            // records of the key
	cause   string         // the latest record's sluice.join.cause header
}

// jrFoldState folds an unwrapped state topic's records (keys {"id":n})
// into the latest record per id, counting each key's records.
func jrFoldState(t *testing.T, recs []record) map[int64]*jrStateRecord {
	t.Helper()
	out := map[int64]*jrStateRecord{}
	for _, r := range recs {
		id := jrInt(jrRow(t, r.key), "id")
		if id < 0 {
			t.Fatalf("%s: record key %s is not {\"id\":n}", r.topic, r.key)
		}
		s := out[id]
		if s == nil {
			s = &jrStateRecord{}
			out[id] = s
		}
		s.records++
		s.cause = r.headers["sluice.join.cause"]
		s.row = nil
		if r.value != nil {
			s.row = jrRow(t, r.value)
		}
	}
	return out
}

// jrDocVersions is the _version of the documents from..to of index.
func jrDocVersions(t *testing.T, es *testenv.ES, index string, from, to int64) map[int64]int64 {
	t.Helper()
	out := map[int64]int64{}
	for id := from; id <= to; id++ {
		var doc struct {
			Version int64 `json:"_version"`
		}
		if err := json.Unmarshal(es.Must("GET", fmt.Sprintf("/%s/_doc/%d", url.PathEscape(index), id), nil), &doc); err != nil {
			t.Fatal(err)
		}
		out[id] = doc.Version
	}
	return out
}

// TestJoinReemit: the join with on_lookup_change: reemit, PostgreSQL →
// a compacted Kafka state topic (unwrap, delete-to-tombstone) and an
// Elasticsearch index of the enriched orders. Customer 1 has 1,000
// orders, customer 2 a few; both exist before the daemon starts (the
// join fills its state, the initial snapshot enriches the rows). After
// customer 1 is renamed, the latest record of each of its orders in the
// state topic and each of its documents carry the new name, the
// re-emitted records carry sluice.join.cause, and customer 2's orders
// were not re-emitted.
func TestJoinReemit(t *testing.T) {
	const many, few = 1000, 5
	schema := fmt.Sprintf("jr%d", time.Now().UnixNano()%100000)
	e := newEnv(t, fmt.Sprintf(`CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.jr_customers (id int PRIMARY KEY, first_name text NOT NULL, last_name text, city text, note text);
		CREATE TABLE %[1]s.jr_orders (id int PRIMARY KEY, customer_id int, amount int NOT NULL);
		INSERT INTO %[1]s.jr_customers VALUES (1, 'Peter', 'Muster', 'Bern', 'n1'), (2, 'Paul', 'Meier', 'Basel', 'n2');
		INSERT INTO %[1]s.jr_orders SELECT g, 1, g FROM generate_series(1, %[2]d) g;
		INSERT INTO %[1]s.jr_orders SELECT g, 2, g FROM generate_series(%[2]d + 1, %[2]d + %[3]d) g`, schema, many, few))
	t.Cleanup(func() { e.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	es := testenv.NewES(t, e.name)
	e.admin = freeAddr(t)
	e.writeDaemon(fmt.Sprintf(`type: postgres
dsn: %q
tables: [%[2]s.jr_customers, %[2]s.jr_orders]
status_interval: 1s
snapshot: {mode: initial}`, e.pgDSN, schema), fmt.Sprintf(`state:
  type: kafka
  brokers: [%[1]s]
  linger: 1ms
  topic: "{prefix}.{schema}.{table}.state"
  topic_creation:
    partitions: 3
    cleanup_policy: compact
    configs: {min.compaction.lag.ms: "0"}
  transforms:
    - {type: unwrap, delete_handling: delete-to-tombstone}
search:
  type: elasticsearch
  urls: [%[2]s]
  state_index: %[3]s-state
  bulk: {flush_interval: 50ms}
  transforms:
    - {type: filter, tables: [%[4]s.jr_customers], expression: "false"}`, e.brokers, es.URL, e.name, schema))
	e.addPipelineKey(`transforms:
  - type: join
    tables: [%[1]s.jr_orders]
    lookup: %[1]s.jr_customers
    on: {customer_id: id}
    as: customer
    columns: [first_name, last_name, city]
    on_lookup_change: reemit`, schema)
	d := e.start()
	defer d.stop(t, syscall.SIGTERM)

	topic := e.name + "." + schema + ".jr_orders.state"
	index := e.name + "." + schema + ".jr_orders"
	wantName := func(id int64) string {
		if id <= many {
			return "Peter"
		}
		return "Paul"
	}
	// check compares the state topic and the index with wantName; it
	// returns the fold.
	check := func(when string) map[int64]*jrStateRecord {
		t.Helper()
		state := jrFoldState(t, e.consumeAll([]string{topic}))
		docs := es.Docs(index)
		if len(state) != many+few || len(docs) != many+few {
			t.Fatalf("%s: the state topic has %d keys, the index %d documents, want %d", when, len(state), len(docs), many+few)
		}
		bad := 0
		for id := int64(1); id <= many+few; id++ {
			s, doc := state[id], docs[fmt.Sprint(id)]
			var got, gotDoc string
			if s != nil && s.row != nil {
				got = jrField(s.row, "customer", "first_name")
				if c := jrInt(s.row, "customer_id"); c < 0 || jrField(s.row, "customer", "note") != "<nil>" {
					t.Errorf("%s: order %d: row %v: want customer_id and the columns first_name, last_name, city only", when, id, s.row)
				}
			}
			if doc != nil {
				gotDoc = jrField(doc, "customer", "first_name")
			}
			if got != wantName(id) || gotDoc != wantName(id) {
				if bad++; bad <= 5 {
					t.Errorf("%s: order %d: state topic customer.first_name %q, index %q, want %q", when, id, got, gotDoc, wantName(id))
				}
			}
		}
		if bad > 0 {
			t.Fatalf("%s: %d of %d orders wrong", when, bad, many+few)
		}
		return state
	}

	// Everything the initial snapshot read is in the topic and the
	// index once it is done and the slot confirmed the stream's end.
	e.waitUntil(t, "the initial snapshot", 2*time.Minute, e.snapshotDone)
	e.caughtUp(t)
	before := check("after the initial snapshot")
	for id, s := range before {
		if s.cause != "" || s.records != 1 {
			t.Errorf("order %d: %d records after the snapshot, the last with sluice.join.cause %q; want its read only", id, s.records, s.cause)
		}
	}
	versions := jrDocVersions(t, es, index, many+1, many+few)

	e.exec("UPDATE " + schema + ".jr_customers SET first_name = 'Pierre' WHERE id = 1")
	wantName = func(id int64) string {
		if id <= many {
			return "Pierre"
		}
		return "Paul"
	}
	// The re-emits carry the rename's position: confirmed, they are in
	// both sinks.
	e.caughtUp(t)
	after := check("after the rename")
	lookup := schema + ".jr_customers"
	for id := int64(1); id <= many+few; id++ {
		b, a := before[id], after[id]
		switch {
		case id > many && a.records != b.records:
			t.Errorf("order %d of customer 2: %d records after the rename, %d before: re-emitted", id, a.records, b.records)
		case id <= many && a.records != b.records+1:
			t.Errorf("order %d of customer 1: %d records after the rename, %d before: want one re-emit", id, a.records, b.records)
		case id <= many && a.cause != lookup:
			t.Errorf("order %d: the re-emitted record's sluice.join.cause is %q, want %q", id, a.cause, lookup)
		}
		if id <= many && (jrField(a.row, "customer", "last_name") != "Muster" || jrField(a.row, "customer", "city") != "Bern" || jrInt(a.row, "amount") != id) {
			t.Errorf("order %d: re-emitted row %v", id, a.row)
		}
	}
	docs := es.Docs(index)
	for id := int64(many + 1); id <= many+few; id++ {
		if doc := docs[fmt.Sprint(id)]; jrField(doc, "customer", "last_name") != "Meier" || jrField(doc, "customer", "city") != "Basel" || jrInt(doc, "amount") != id {
			t.Errorf("document %d of customer 2 changed: %v", id, doc)
		}
	}
	if got := jrDocVersions(t, es, index, many+1, many+few); !maps.Equal(got, versions) {
		t.Errorf("customer 2's documents were indexed again: _version %v, before the rename %v", got, versions)
	}

	m := e.scrape(t)
	if v, ok := sum(m, "sluice_join_reemitted_total", `pipeline="`+e.name+`"`); !ok || v < many {
		t.Errorf("sluice_join_reemitted_total = %v (present %v), want >= %d", v, ok, many)
	}
}

// TestJoinBootstrap: a pipeline that already streams gets a join: at its
// next start the join fills its state from the 100,000 customers through
// the source, and every order written afterwards, referring to an
// existing customer or to one created after the restart, carries its
// customer.
func TestJoinBootstrap(t *testing.T) {
	const customers = 100_000
	schema := fmt.Sprintf("jr%d", time.Now().UnixNano()%100000)
	e := newEnv(t, fmt.Sprintf(`CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.jr_customers (id int PRIMARY KEY, first_name text NOT NULL, last_name text);
		CREATE TABLE %[1]s.jr_orders (id int PRIMARY KEY, customer_id int);
		INSERT INTO %[1]s.jr_customers SELECT g, 'first' || g, 'last' || g FROM generate_series(1, %[2]d) g`, schema, customers))
	t.Cleanup(func() { e.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.admin = freeAddr(t)
	orders := schema + ".jr_orders"
	topic := e.name + "." + orders
	e.writeConfig([]string{schema + ".jr_customers", orders}, "snapshot: {mode: never}\n      messages: false", "")
	d := e.start()
	e.exec("INSERT INTO " + orders + " VALUES (1, 5)")
	if recs := e.consume([]string{topic}, 1, time.Minute); len(recs) != 1 {
		t.Fatalf("the order written before the join was added: %d records", len(recs))
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}

	e.addPipelineKey(`transforms:
  - type: join
    tables: [%[1]s.jr_orders]
    lookup: %[1]s.jr_customers
    on: {customer_id: id}
    as: customer
    missing: "null"`, schema)
	began := time.Now()
	d = e.start()
	defer d.stop(t, syscall.SIGTERM)
	t.Logf("restarted with the join in %v", time.Since(began).Round(time.Millisecond))
	if !strings.Contains(d.logs.String(), fmt.Sprintf(`"rows":%d`, customers)) {
		t.Errorf("the join did not log a fill of %d rows", customers)
	}

	const random = 500
	e.exec(fmt.Sprintf("INSERT INTO %s SELECT g, 1 + floor(random() * %d)::int FROM generate_series(2, %d) g", orders, customers, random+1))
	e.exec(fmt.Sprintf("INSERT INTO %s.jr_customers VALUES (%d, 'first%[2]d', 'last%[2]d'), (%d, 'first%[3]d', 'last%[3]d')", schema, customers+1, customers+2))
	e.exec(fmt.Sprintf("INSERT INTO %s VALUES (%d, %d), (%d, %d)", orders, random+2, customers+1, random+3, customers+2))
	e.exec(fmt.Sprintf("BEGIN; INSERT INTO %s.jr_customers VALUES (%d, 'first%[2]d', 'last%[2]d'); INSERT INTO %s VALUES (%d, %[2]d); COMMIT",
		schema, customers+3, orders, random+4))
	e.exec(fmt.Sprintf("INSERT INTO %s SELECT g, 1 + floor(random() * %d)::int FROM generate_series(%d, %d) g", orders, customers, random+5, 2*random+4))
	const want = 1 + 2*random + 3 // the order before the join, then the enriched ones
	recs := e.consume([]string{topic}, want, time.Minute)
	if len(recs) != want {
		t.Fatalf("%d records on %s, want %d", len(recs), topic, want)
	}
	seen, bad := map[int64]bool{}, 0
	for _, r := range recs {
		var v struct{ After json.RawMessage }
		if err := json.Unmarshal(r.value, &v); err != nil {
			t.Fatalf("%v: %s", err, r.value)
		}
		after := jrRow(t, v.After)
		id, cust := jrInt(after, "id"), jrInt(after, "customer_id")
		seen[id] = true
		if id == 1 {
			continue // written before the join
		}
		if got, w := jrField(after, "customer", "first_name"), fmt.Sprintf("first%d", cust); got != w {
			if bad++; bad <= 5 {
				t.Errorf("order %d of customer %d: customer.first_name %s, want %s: %s", id, cust, got, w, r.value)
			}
		}
	}
	if len(seen) != want || bad > 0 {
		t.Errorf("%d orders, %d of them without their customer", len(seen), bad)
	}
}

// TestMySQLJoin: the join on MariaDB (no reemit): an order sees its
// customer as of the order's own position in the binlog: after an update
// committed earlier, after an update earlier in its transaction, and not
// after one later in its transaction.
func TestMySQLJoin(t *testing.T) {
	e := newMyEnv(t, "DROP TABLE IF EXISTS jr_my_orders", "DROP TABLE IF EXISTS jr_my_customers",
		"CREATE TABLE jr_my_customers (id int PRIMARY KEY, name varchar(30) NOT NULL, city varchar(30))",
		"CREATE TABLE jr_my_orders (id int PRIMARY KEY, customer_id int, note varchar(10))",
		"INSERT INTO jr_my_customers VALUES (1, 'Ann', 'Oslo'), (2, 'Bob', 'Rome')")
	t.Cleanup(func() { e.exec("DROP TABLE IF EXISTS jr_my_orders", "DROP TABLE IF EXISTS jr_my_customers") })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.writeConfig([]string{"jr_my_customers", "jr_my_orders"}, "snapshot: {mode: never}")
	e.addPipelineKey(`transforms:
  - type: join
    tables: [sluice.jr_my_orders]
    lookup: sluice.jr_my_customers
    on: {customer_id: id}
    as: customer
    columns: [name]`)
	d := e.start()
	defer d.stop(t, syscall.SIGTERM)
	e.exec("UPDATE jr_my_customers SET name = 'Ann2' WHERE id = 1",
		"INSERT INTO jr_my_orders VALUES (1, 1, 'later tx')",
		"BEGIN", "UPDATE jr_my_customers SET name = 'Bob2' WHERE id = 2", "INSERT INTO jr_my_orders VALUES (2, 2, 'same tx')", "COMMIT",
		"BEGIN", "INSERT INTO jr_my_orders VALUES (3, 1, 'before')", "UPDATE jr_my_customers SET name = 'Ann3' WHERE id = 1",
		"INSERT INTO jr_my_orders VALUES (4, 1, 'after')", "COMMIT",
		"UPDATE jr_my_orders SET customer_id = 2 WHERE id = 3",
		"INSERT INTO jr_my_orders VALUES (5, 3, 'missing')")
	want := []string{"1 Ann2", "2 Bob2", "3 Ann2", "4 Ann3", "3 Bob2", "5 <null>"}
	topic := e.name + ".sluice.jr_my_orders"
	recs := e.consume([]string{topic}, len(want), time.Minute)
	var got []string
	for _, r := range inEventOrder(t, recs, topic, 3) {
		var v struct{ After json.RawMessage }
		if err := json.Unmarshal(r.value, &v); err != nil {
			t.Fatalf("%v: %s", err, r.value)
		}
		after := jrRow(t, v.After)
		got = append(got, fmt.Sprintf("%d %s", jrInt(after, "id"), jrField(after, "customer", "name")))
	}
	if g, w := strings.Join(got, ", "), strings.Join(want, ", "); g != w {
		t.Errorf("orders and their customers:\n got %s\nwant %s", g, w)
	}
}
