package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The route and headers comparison: sluice's route transform against
// Debezium Server 3.6.1's ByLogicalTableRouter, and its headers transform
// against Kafka's InsertHeader, recorded in
// testdata/golden/debezium-smt/postgres/route* and headers from the
// fixtures testdata/debezium/postgres. The run is TestDebeziumUnwrap's
// (database and topic prefix dbzsmt, slot and publication sluice_dbzsmt,
// the same advisory lock) with the SMTs' properties translated into
// transform entries. The records are full envelopes, so snapshot rows
// say "op":"r" and the known differences are TestDebeziumGolden's, on
// these topics.
//
//	go test ./cmd/sluice -run TestDebeziumRoute/route-schemas -v

var dbzRouteSuite = dbzSuite{
	goldenDir: dbzSMTGoldenDir,
	pipeline:  "dbzsmt",
	props:     dbzRouteProps,
	known:     knownRouteDiffs,
	snapshotRows: func(t *testing.T, want map[string][]testenv.Record) int {
		return dbzCountSnapshot(want)
	},
	isSnapshot: dbzGoldenSuite.isSnapshot,
}

// knownRouteDiffs are knownDebeziumDiffs on the recordings' topics.
var knownRouteDiffs = func() []testenv.Known {
	var out []testenv.Known
	for _, k := range knownDebeziumDiffs {
		if k.Source == "postgres" {
			k.Topic = strings.Replace(k.Topic, "dbzpg.", "dbzsmt.", 1)
			out = append(out, k)
		}
	}
	return out
}()

func TestDebeziumRoute(t *testing.T) {
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	run := dbzPostgres(t, dbzSMTDatabase, dbzRouteSuite.pipeline, "sluice.dbzsmt")
	runSMTModes(t, &dbzRouteSuite, run, brokers, 5, func(mode string) bool { return strings.HasPrefix(mode, "route") || mode == "headers" })
}

// javaGroups are a Java replacement's group references ($1).
var javaGroups = regexp.MustCompile(`\$([0-9]+)`)

// dbzRouteProps translates ByLogicalTableRouter's and InsertHeader's
// properties into route and headers entries (Java's $1 in a replacement
// is ${1} in sluice's).
func dbzRouteProps(t *testing.T, kv [2]string, set *dbzSettings) bool {
	return dbzTransformProps(t, kv, set, func(opt, v string) (string, bool) {
		group := func(s string) string { return strconv.Quote(javaGroups.ReplaceAllString(s, "$${$1}")) }
		switch opt {
		case "type":
			switch v {
			case "io.debezium.transforms.ByLogicalTableRouter":
				return "type: route", true
			case "org.apache.kafka.connect.transforms.InsertHeader":
				return "type: headers", true
			}
		case "topic.regex":
			return "topic_regex: " + strconv.Quote(v), true
		case "topic.replacement":
			return "topic_replacement: " + group(v), true
		case "key.enforce.uniqueness":
			return "key_enforce_uniqueness: " + v, true
		case "key.field.name":
			return "key_field_name: " + strconv.Quote(v), true
		case "key.field.regex":
			return "key_field_regex: " + strconv.Quote(v), true
		case "key.field.replacement":
			return "key_field_replacement: " + group(v), true
		case "header":
			return "headers: [{name: " + strconv.Quote(v), true
		case "value.literal":
			// InsertHeader parses the literal; YAML does the same
			// for the plain scalars the recording uses.
			return "value: " + v + "}]", true
		}
		return "", false
	})
}
