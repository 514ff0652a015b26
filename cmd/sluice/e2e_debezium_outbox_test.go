package main

import (
	"bytes"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The outbox comparison: sluice's outbox transform against Debezium
// Server 3.6.1's outbox EventRouter, recorded in
// testdata/golden/debezium-smt/postgres/outbox* from the fixtures
// testdata/debezium/postgres-outbox. The run is TestDebeziumUnwrap's
// (database dbzsmt, topic prefix dbzsmt, slot and publication
// sluice_dbzsmt, the same advisory lock), with the router's properties
// translated into a transform entry; the topics are outbox.event.*,
// cleaned up with the prefix's. Nothing in these recordings varies
// between runs, so besides the JSON comparison every record is compared
// byte for byte (dbzSuite.exact): spacing, and the value bytes null of a
// NULL payload against a tombstone.
//
//	go test ./cmd/sluice -run TestDebeziumOutbox/outbox-schemas -v

var dbzOutboxSuite = dbzSuite{
	goldenDir: dbzSMTGoldenDir,
	pipeline:  "dbzsmt",
	props:     dbzOutboxProps,
	// Outbox records do not say "op":"r": every record before
	// stream.sql is a snapshot row, one per INSERT of snapshot.sql.
	snapshotRows: func(t *testing.T, _ map[string][]testenv.Record) int {
		stmts, err := testenv.SQLStatements(filepath.Join(dbzFixtures, dbzOutboxFixtures, "snapshot.sql"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range stmts {
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(s)), "INSERT") {
				n++
			}
		}
		return n
	},
	isSnapshot: func(testenv.Record) bool { return true },
	topics:     []string{"outbox.event"},
	exact:      true,
}

const dbzOutboxFixtures = "postgres-outbox"

func TestDebeziumOutbox(t *testing.T) {
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	run := dbzPostgres(t, dbzSMTDatabase, dbzOutboxSuite.pipeline, "sluice.dbzsmt")
	run.fixtures = dbzOutboxFixtures
	runSMTModes(t, &dbzOutboxSuite, run, brokers, 1, func(mode string) bool { return strings.HasPrefix(mode, "outbox") })
}

// dbzOutboxProps translates the router's debezium.transforms properties
// into the pipeline's transforms (README's table has the others). The
// transform gets the captured table as its tables key.
func dbzOutboxProps(t *testing.T, kv [2]string, set *dbzSettings) bool {
	return dbzTransformProps(t, kv, set, func(opt, v string) (string, bool) {
		switch opt {
		case "type":
			return "type: outbox, tables: [public.outbox]", v == "io.debezium.transforms.outbox.EventRouter"
		case "table.field.event.id":
			return "field_event_id: " + v, true
		case "table.field.event.key":
			return "field_event_key: " + v, true
		case "table.field.event.type":
			return "field_event_type: " + v, true
		case "table.field.event.payload":
			return "field_payload: " + v, true
		case "route.by.field":
			return "route_by_field: " + v, true
		case "route.topic.replacement":
			return "route_topic_replacement: " + strconv.Quote(v), true
		case "table.fields.additional.placement":
			return "fields_additional_placement: " + dbzYAMLList(v), true
		case "table.expand.json.payload":
			return "expand_json_payload: " + v, true
		case "table.op.invalid.behavior":
			return "on_invalid_op: " + v, true
		}
		return "", false
	})
}

// dbzCompareTombstones tells a Kafka tombstone (no value) from the
// bytes null, which the JSON comparison takes for the same: a state
// topic's compaction removes one and keeps the other. It returns the
// number of records that differ so.
func dbzCompareTombstones(t *testing.T, want, got map[string][]testenv.Record) int {
	t.Helper()
	n := 0
	for _, topic := range dbzKeys(want) {
		for i, w := range want[topic] {
			if i < len(got[topic]) && (w.Value == nil) != (got[topic][i].Value == nil) {
				n++
				t.Errorf("%s record %d: value %q, Debezium's %q (nil: a tombstone)", topic, i, got[topic][i].Value, w.Value)
			}
		}
	}
	return n
}

// dbzCompareExact compares the records of the topics both sides wrote
// byte for byte, where the JSON comparison would let through a
// different spacing or a tombstone for the bytes null. It returns the
// number of differing records (the JSON comparison reports missing and
// extra ones).
func dbzCompareExact(t *testing.T, want, got map[string][]testenv.Record) int {
	t.Helper()
	n := 0
	for _, topic := range dbzKeys(want) {
		for i, w := range want[topic] {
			if i >= len(got[topic]) {
				break
			}
			g := got[topic][i]
			var wh, gh []string
			for _, h := range w.Headers {
				wh = append(wh, h.Key+"="+string(h.Value))
			}
			for _, h := range g.Headers {
				if !strings.HasPrefix(h.Key, "sluice.") {
					gh = append(gh, h.Key+"="+string(h.Value))
				}
			}
			switch {
			case !bytes.Equal(w.Key, g.Key) || (w.Key == nil) != (g.Key == nil):
				t.Errorf("%s record %d: key %q, Debezium's %q", topic, i, g.Key, w.Key)
			case !bytes.Equal(w.Value, g.Value) || (w.Value == nil) != (g.Value == nil):
				t.Errorf("%s record %d: value %q, Debezium's %q", topic, i, g.Value, w.Value)
			case strings.Join(wh, "\n") != strings.Join(gh, "\n"):
				t.Errorf("%s record %d: headers\n  %s\nDebezium's\n  %s", topic, i, strings.Join(gh, "\n  "), strings.Join(wh, "\n  "))
			default:
				continue
			}
			n++
		}
	}
	return n
}
