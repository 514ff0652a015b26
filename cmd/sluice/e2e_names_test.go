package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// namesCase is a table whose name needs care, captured end to end: named
// in the YAML file as written in tables (YAML flow scalar) and columns
// (the key of the Elasticsearch sink's allow-list), and found again under
// topic in Kafka and under index in Elasticsearch.
type namesCase struct {
	tables, columnsKey string
	schema, table      string // source.schema (PostgreSQL) or source.db (MySQL), and source.table
	key, allowed       string // the key column; the allow-list's second column
	topic, index       string
}

// sinks is the sinks block of a names case: Kafka with the default topic
// names, Elasticsearch with the default index names and an allow-list of
// the key column and c.allowed.
func (c namesCase) sinks(e *env, es *testenv.ES) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  linger: 1ms
elasticsearch:
  urls: [%s]
  state_index: %s-state
  bulk: {flush_interval: 50ms}
  columns: {%s: [%s, %s]}`, e.brokers, es.URL, e.name, c.columnsKey, c.key, c.allowed)
}

// check waits until the topic folds to the keys want (tombstones and
// deletes remove a key) and the index holds exactly those documents, then
// checks that every change record names the table as the database spells
// it, that the pipeline made no other topic, and that the documents hold
// only the allowed columns.
func (c namesCase) check(t *testing.T, e *env, es *testenv.ES, want []int) {
	t.Helper()
	var wantKeys []string
	for _, id := range want {
		wantKeys = append(wantKeys, fmt.Sprintf(`{"%s":%d}`, c.key, id))
	}
	var recs []record
	var keys []string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if slices.Contains(testenv.Topics(t, e.brokers, e.name), c.topic) {
			recs = e.consumeAll([]string{c.topic})
			state := map[string]bool{}
			for _, r := range recs {
				if r.value == nil || strings.Contains(string(r.value), `"op":"d"`) {
					delete(state, string(r.key))
				} else {
					state[string(r.key)] = true
				}
			}
			if keys = slices.Sorted(maps.Keys(state)); slices.Equal(keys, wantKeys) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s folds to the keys %v after 1m, want %v (the pipeline's topics: %v)", c.topic, keys, wantKeys, testenv.Topics(t, e.brokers, e.name))
		}
	}
	for _, r := range recs {
		if r.value == nil {
			continue
		}
		var v struct {
			Source struct {
				Schema string `json:"schema"`
				DB     string `json:"db"`
				Table  string `json:"table"`
			} `json:"source"`
		}
		if err := json.Unmarshal(r.value, &v); err != nil {
			t.Fatalf("%s: %v", r.value, err)
		}
		schema := v.Source.Schema
		if schema == "" {
			schema = v.Source.DB
		}
		if schema != c.schema || v.Source.Table != c.table {
			t.Errorf("record of %s.%s, want %s.%s: %s", schema, v.Source.Table, c.schema, c.table, r.value)
		}
	}
	if topics := testenv.Topics(t, e.brokers, e.name); !slices.Equal(topics, []string{c.topic}) {
		t.Errorf("the pipeline's topics are %q, want only %q", topics, c.topic)
	}

	var wantIDs []string
	for _, id := range want {
		wantIDs = append(wantIDs, fmt.Sprint(id))
	}
	var docs map[string]map[string]any
	e.waitUntil(t, "the index "+c.index+" to hold the rows", time.Minute, func() bool {
		if !es.Exists(c.index) {
			return false
		}
		docs = es.Docs(c.index)
		return slices.Equal(slices.Sorted(maps.Keys(docs)), wantIDs)
	})
	for id, doc := range docs {
		if cols := slices.Sorted(maps.Keys(doc)); !slices.Equal(cols, []string{c.allowed, c.key}) && !slices.Equal(cols, []string{c.key, c.allowed}) {
			t.Errorf("%s/%s holds the columns %v, want only the allowed %s and %s: %v", c.index, id, cols, c.key, c.allowed, doc)
		}
	}
}

// TestNamesEndToEnd: tables whose names have capitals, a dot, quotes and a
// space, from PostgreSQL and MySQL, captured through a YAML file that
// names them, to Kafka and Elasticsearch. Topics get Debezium's names
// (<prefix>.<schema>.<table>; characters Kafka refuses become '_', a dot
// stays, as in Debezium's topic naming), indices the same lower-cased,
// and the Elasticsearch columns allow-list, keyed by the exact
// mixed-case name, applies.
func TestNamesEndToEnd(t *testing.T) {
	t.Run("postgres_quotes", func(t *testing.T) {
		suffix := fmt.Sprint(time.Now().UnixNano() % 100000)
		schema := "Sales" + suffix
		e := newEnv(t, fmt.Sprintf(`CREATE SCHEMA %[1]q; CREATE TABLE %[1]q."Bob's ""Deals""" ("DealID" int PRIMARY KEY, "Amount" numeric(8,2), "Secret" text, note text);
			INSERT INTO %[1]q."Bob's ""Deals""" VALUES (1, 10, 's1', 'n1')`, schema))
		t.Cleanup(func() { e.exec(fmt.Sprintf("DROP SCHEMA IF EXISTS %q CASCADE", schema)) })
		testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
		es := testenv.NewES(t, e.name)
		c := namesCase{
			tables: fmt.Sprintf(`'%s."Bob''s ""Deals"""'`, schema), columnsKey: fmt.Sprintf(`'%s.Bob''s "Deals"'`, schema),
			schema: schema, table: `Bob's "Deals"`, key: "DealID", allowed: "Amount",
			topic: e.name + "." + schema + ".Bob_s__Deals_", index: e.name + "." + strings.ToLower(schema) + ".bob's__deals_",
		}
		e.writeDaemon(fmt.Sprintf("type: postgres\ndsn: %q\ntables: [%s]\nmessages: false\nstatus_interval: 1s\nsnapshot: {mode: initial}", e.pgDSN, c.tables), c.sinks(e, es))
		d := e.start()
		tbl := fmt.Sprintf(`%q."Bob's ""Deals"""`, schema)
		e.exec(`INSERT INTO ` + tbl + ` VALUES (2, 20, 's2', 'n2')`)
		e.exec(`UPDATE ` + tbl + ` SET "Amount" = 11 WHERE "DealID" = 1`)
		e.exec(`UPDATE ` + tbl + ` SET "DealID" = 3 WHERE "DealID" = 2`)
		e.exec(`BEGIN; INSERT INTO ` + tbl + ` VALUES (4, 40, 's4', 'n4'); DELETE FROM ` + tbl + ` WHERE "DealID" = 4; COMMIT`)
		e.caughtUp(t)
		c.check(t, e, es, []int{1, 3})
		if code := d.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit code %d after SIGTERM", code)
		}
	})

	// A dot in a table name: tables names it as SQL does, with quoted
	// identifiers ("Sales"."Order.Lines"), as schema.table cannot. The
	// topic is Debezium's <prefix>.Sales.Order.Lines (which a table
	// "Sales.Order"."Lines" would share: Debezium's known ambiguity).
	t.Run("postgres_dot", func(t *testing.T) {
		suffix := fmt.Sprint(time.Now().UnixNano() % 100000)
		schema := "Sales" + suffix
		e := newEnv(t, fmt.Sprintf(`CREATE SCHEMA %[1]q; CREATE TABLE %[1]q."Order.Lines" ("LineID" int PRIMARY KEY, "Qty" int, "Secret" text);
			INSERT INTO %[1]q."Order.Lines" VALUES (1, 5, 's1')`, schema))
		t.Cleanup(func() { e.exec(fmt.Sprintf("DROP SCHEMA IF EXISTS %q CASCADE", schema)) })
		testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
		es := testenv.NewES(t, e.name)
		c := namesCase{
			tables: fmt.Sprintf(`'"%s"."Order.Lines"'`, schema), columnsKey: fmt.Sprintf(`'%s.Order.Lines'`, schema),
			schema: schema, table: "Order.Lines", key: "LineID", allowed: "Qty",
			topic: e.name + "." + schema + ".Order.Lines", index: e.name + "." + strings.ToLower(schema) + ".order.lines",
		}
		e.writeDaemon(fmt.Sprintf("type: postgres\ndsn: %q\ntables: [%s]\nmessages: false\nstatus_interval: 1s\nsnapshot: {mode: initial}", e.pgDSN, c.tables), c.sinks(e, es))
		d := e.start()
		tbl := fmt.Sprintf(`%q."Order.Lines"`, schema)
		e.exec(`INSERT INTO ` + tbl + ` VALUES (2, 7, 's2')`)
		e.exec(`UPDATE ` + tbl + ` SET "Qty" = 6 WHERE "LineID" = 1`)
		e.exec(`DELETE FROM ` + tbl + ` WHERE "LineID" = 2`)
		e.caughtUp(t)
		c.check(t, e, es, []int{1})
		if code := d.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit code %d after SIGTERM", code)
		}
	})

	t.Run("mysql_capitals", func(t *testing.T) {
		table := fmt.Sprintf("OrderItems%d", time.Now().UnixNano()%100000)
		e := newMyEnv(t, "CREATE TABLE "+table+" (ItemID int PRIMARY KEY, Qty int, Secret varchar(20))",
			"INSERT INTO "+table+" VALUES (1, 5, 's1')")
		t.Cleanup(func() { e.db.Execute("DROP TABLE IF EXISTS " + table) })
		testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
		es := testenv.NewES(t, e.name)
		c := namesCase{
			tables: "sluice." + table, columnsKey: "sluice." + table,
			schema: "sluice", table: table, key: "ItemID", allowed: "Qty",
			topic: e.name + ".sluice." + table, index: e.name + ".sluice." + strings.ToLower(table),
		}
		e.writeDaemon(fmt.Sprintf("type: mysql\ndsn: %q\ntables: [%s]\nheartbeat: 1s\nsnapshot: {mode: initial}\nschema_changes: false\noffsets: {store: file, flush_interval: 100ms}", e.dsn, c.tables), c.sinks(e.env, es))
		d := e.start()
		e.exec("INSERT INTO "+table+" VALUES (2, 7, 's2')",
			"UPDATE "+table+" SET Qty = 6 WHERE ItemID = 1",
			"UPDATE "+table+" SET ItemID = 3 WHERE ItemID = 2",
			"BEGIN", "INSERT INTO "+table+" VALUES (4, 9, 's4')", "DELETE FROM "+table+" WHERE ItemID = 4", "COMMIT")
		c.check(t, e.env, es, []int{1, 3})
		if code := d.stop(t, syscall.SIGTERM); code != 0 {
			t.Errorf("exit code %d after SIGTERM", code)
		}
	})
}
