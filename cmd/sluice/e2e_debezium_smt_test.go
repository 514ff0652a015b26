package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The SMT comparison: sluice's unwrap transform against Debezium Server
// 3.6.1's ExtractNewRecordState, recorded in
// testdata/golden/debezium-smt/postgres/unwrap*. The run is
// TestDebeziumGolden's (runDebeziumMode) with the SMT's properties
// translated into a transform entry, on the recording's names —
// database dbzsmt and topic prefix dbzsmt, which the __db header and the
// messages' source.db carry — under an advisory lock of their own; the
// slot and publication are sluice_dbzsmt (the recorder's are
// dbzsmt_record). Every unwrap* mode recorded is compared, with the
// README's normalisation: TestDebeziumGolden's, plus the added __lsn and
// __source_ts_ms.
//
//	go test ./cmd/sluice -run TestDebeziumUnwrap/unwrap-rewrite -v

const (
	dbzSMTGoldenDir = "../../testdata/golden/debezium-smt"
	dbzSMTDatabase  = "dbzsmt"
)

var dbzUnwrapSuite = dbzSuite{
	goldenDir: dbzSMTGoldenDir,
	pipeline:  "dbzsmt",
	props:     dbzSMTProps,
	known:     knownUnwrapDiffs,
	// Unwrapped rows do not say "op":"r": the number of snapshot rows
	// is the envelope recording's (same fixtures, and the SMT drops no
	// snapshot row), and every record before stream.sql is one.
	snapshotRows: func(t *testing.T, _ map[string][]testenv.Record) int {
		files, err := testenv.SortedFiles(filepath.Join(dbzGoldenDir, "postgres", "defaults"))
		if err != nil {
			t.Fatal(err)
		}
		all := map[string][]testenv.Record{}
		for _, f := range files {
			recs, err := testenv.ReadRecorded(f)
			if err != nil {
				t.Fatal(err)
			}
			all[f] = recs
		}
		return dbzCountSnapshot(all)
	},
	isSnapshot: func(testenv.Record) bool { return true },
	mask:       []string{"__lsn", "__source_ts_ms"},
}

func TestDebeziumUnwrap(t *testing.T) {
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	run := dbzPostgres(t, dbzSMTDatabase, dbzUnwrapSuite.pipeline, "sluice.dbzsmt")
	// Every mode has the all_types rows the known differences cover.
	runSMTModes(t, &dbzUnwrapSuite, run, brokers, 1, func(mode string) bool { return strings.HasPrefix(mode, "unwrap") })
}

// runSMTModes runs suite against every recorded SMT mode under
// <goldenDir>/postgres that match selects (at least want of them must
// be there), and fails when one of suite.known covered no difference in
// the modes that ran (some may be filtered out by -run).
func runSMTModes(t *testing.T, suite *dbzSuite, run *dbzRun, brokers string, want int, match func(mode string) bool) {
	t.Helper()
	modes, err := os.ReadDir(filepath.Join(suite.goldenDir, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	n, ran := 0, 0
	used := make([]bool, len(suite.known))
	for _, m := range modes {
		if !m.IsDir() || !match(m.Name()) {
			continue
		}
		n++
		t.Run(m.Name(), func(t *testing.T) {
			ran++
			if _, unknown := runDebeziumMode(t, suite, run, brokers, m.Name(), used); unknown > 0 {
				t.Errorf("%d differences from Debezium", unknown)
			}
		})
	}
	if n < want {
		t.Fatalf("%d matching modes under %s/postgres, want at least %d", n, suite.goldenDir, want)
	}
	for i, k := range suite.known {
		if ran > 0 && !used[i] {
			t.Errorf("known difference %d (%s %s: %s) matched none: remove it", i, k.Topic, k.Path, k.Why)
		}
	}
}

// knownUnwrapDiffs are TestDebeziumGolden's deliberate differences
// (knownDebeziumDiffs), where the row is the value: they are the
// source's, not the transform's.
var knownUnwrapDiffs = []testenv.Known{
	{Source: "postgres", Topic: "dbzsmt.public.all_types", Path: "value*.c_date", Owner: "deliberate",
		Why: "as knownDebeziumDiffs' value*.after.c_date: Debezium's JDBC snapshot writes java.sql.Date artifacts for infinity, -infinity and BC dates"},
	{Source: "postgres", Topic: "dbzsmt.public.all_types", Path: "value*.c_name", Owner: "deliberate",
		Why: "as knownDebeziumDiffs' value*.after.c_name: Debezium 3.6.1 writes null for every streamed value of a column of type name"},
}

// dbzSMTProps translates the unwrap recordings' debezium.transforms
// properties into the pipeline's transforms; other properties go through
// README's table.
func dbzSMTProps(t *testing.T, kv [2]string, set *dbzSettings) bool {
	return dbzTransformProps(t, kv, set, func(opt, v string) (string, bool) {
		switch opt {
		case "type":
			return "type: unwrap", v == "io.debezium.transforms.ExtractNewRecordState"
		case "delete.tombstone.handling.mode":
			return "delete_handling: " + v, true
		case "add.fields":
			return "add_fields: " + dbzYAMLList(v), true
		case "add.headers":
			return "add_headers: " + dbzYAMLList(v), true
		}
		return "", false
	})
}

// dbzTransformProps handles a recording's debezium.transforms list and
// its debezium.transforms.<name>.<option> properties: translate gives an
// option's sluice key (YAML, flow style) and whether the test knows the
// option (for "type", the SMT class). Other properties are not its own
// (false).
func dbzTransformProps(t *testing.T, kv [2]string, set *dbzSettings, translate func(opt, value string) (string, bool)) bool {
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
	kept, known := translate(opt, kv[1])
	if !known {
		t.Fatalf("%s=%s: no translation for it in this test", kv[0], kv[1])
	}
	tr.keys = append(tr.keys, kept)
	return true
}

// dbzYAMLList writes a comma-separated property as a YAML flow list of
// quoted strings (${…} and a:b:c are not plain YAML in a flow mapping).
func dbzYAMLList(v string) string {
	var q []string
	for _, e := range strings.Split(v, ",") {
		q = append(q, strconv.Quote(strings.TrimSpace(e)))
	}
	return "[" + strings.Join(q, ", ") + "]"
}
