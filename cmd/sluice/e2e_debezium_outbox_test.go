package main

import (
	"bytes"
	"os"
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
	modes, err := os.ReadDir(filepath.Join(dbzSMTGoldenDir, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range modes {
		if !m.IsDir() || !strings.HasPrefix(m.Name(), "outbox") {
			continue
		}
		n++
		t.Run(m.Name(), func(t *testing.T) {
			if _, unknown := runDebeziumMode(t, &dbzOutboxSuite, run, brokers, m.Name(), nil); unknown > 0 {
				t.Errorf("%d differences from Debezium", unknown)
			}
		})
	}
	if n == 0 {
		t.Fatalf("no outbox* mode under %s/postgres", dbzSMTGoldenDir)
	}
}

// dbzOutboxProps translates the router's debezium.transforms properties
// into the pipeline's transforms (README's table has the others). The
// transform gets the captured table as its tables key.
func dbzOutboxProps(t *testing.T, kv [2]string, set *dbzSettings) bool {
	t.Helper()
	if kv[0] == "debezium.transforms" {
		for _, name := range strings.Split(kv[1], ",") {
			set.transforms = append(set.transforms, dbzTransform{name: strings.TrimSpace(name)})
		}
		return true
	}
	rest, ok := strings.CutPrefix(kv[0], "debezium.transforms.")
	if !ok {
		return false
	}
	name, opt, _ := strings.Cut(rest, ".")
	var tr *dbzTransform
	for i := range set.transforms {
		if set.transforms[i].name == name {
			tr = &set.transforms[i]
		}
	}
	if tr == nil {
		t.Fatalf("%s: transform %q is not in debezium.transforms", kv[0], name)
	}
	// Quoted: ${…} and a:b:c are not plain YAML in a flow mapping.
	list := func(v string) string {
		var q []string
		for _, e := range strings.Split(v, ",") {
			q = append(q, strconv.Quote(strings.TrimSpace(e)))
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	var kept string
	switch opt {
	case "type":
		if kv[1] != "io.debezium.transforms.outbox.EventRouter" {
			t.Fatalf("%s=%s: no sluice transform for it in this test", kv[0], kv[1])
		}
		kept = "type: outbox, tables: [public.outbox]"
	case "table.field.event.id":
		kept = "field_event_id: " + kv[1]
	case "table.field.event.key":
		kept = "field_event_key: " + kv[1]
	case "table.field.event.type":
		kept = "field_event_type: " + kv[1]
	case "table.field.event.payload":
		kept = "field_payload: " + kv[1]
	case "route.by.field":
		kept = "route_by_field: " + kv[1]
	case "route.topic.replacement":
		kept = "route_topic_replacement: " + strconv.Quote(kv[1])
	case "table.fields.additional.placement":
		kept = "fields_additional_placement: " + list(kv[1])
	case "table.expand.json.payload":
		kept = "expand_json_payload: " + kv[1]
	case "table.op.invalid.behavior":
		kept = "on_invalid_op: " + kv[1]
	default:
		t.Fatalf("%s: no translation for the outbox option %s", kv[0], opt)
	}
	tr.keys = append(tr.keys, kept)
	return true
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
