package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		file    string
		ok      bool
		wantErr []string // one line per problem
	}{
		{"../../testdata/config/shop.yaml", true, nil},
		{"../../testdata/config/mysql.yaml", true, nil},
		{"../../testdata/config/cluster.yaml", true, nil},
		{"../../testdata/config/cluster_invalid.yaml", false, []string{
			"line 1: cluster.brokers: required",
			"line 3: cluster.session_timeout: must be between 6s and 5m0s, got 1s",
			"line 9: pipelines.shop.source.state.store: file keeps the snapshot state in state_dir; use table or kafka: cluster mode moves pipelines between machines",
			"line 14: pipelines.inventory.source.offsets.store: file keeps the binlog position in state_dir; use kafka: cluster mode moves pipelines between machines",
		}},
		{"../../testdata/config/mysql_invalid.yaml", false, []string{
			"line 6: pipelines.inv.source.dsn: DSN must use tcp(host:port)",
			"line 7: pipelines.inv.source.offsets.store: \"s3\" is not file or kafka",
		}},
		{"../../testdata/config/transforms_invalid.yaml", false, []string{
			"line 11: pipelines.shop.transforms[0].exclude: set include or exclude, not both",
			`line 13: pipelines.shop.transforms[1].ops[1]: "x" is not an operation`,
			`line 15: pipelines.shop.transforms[2].type: unknown transform type "nosuch"`,
			"line 20: pipelines.shop.sinks.kafka.transforms[0].salt: required with hash",
			"line 23: pipelines.shop.sinks.kafka.transforms[1].colums: unknown key",
			"line 22: pipelines.shop.sinks.kafka.transforms[1].columns: required",
			"line 25: pipelines.shop.sinks.kafka.transforms[2].expression: unexpected token EOF (1:13)",
			"line 27: pipelines.shop.sinks.kafka.transforms[3].fields[0]: set value or expression",
			"line 29: pipelines.shop.sinks.kafka.transforms[4].topic_regex: error parsing regexp: missing closing )",
			`line 32: pipelines.shop.sinks.kafka.transforms[5].delete_handling: "keep" is not one of`,
			`line 34: pipelines.shop.sinks.kafka.transforms[6].on_invalid_op: "explode" is not one of`,
			`line 36: pipelines.shop.sinks.kafka.transforms[7].encoding: "avro" is not connect or raw`,
		}},
		{"../../testdata/config/invalid.yaml", false, []string{
			"line 4: pipelines.shop.capacity: cannot parse",
			"line 7: pipelines.shop.source.slto: unknown key",
			"line 5: pipelines.shop.source.dsn: required",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			root := newRoot()
			root.SetArgs([]string{"validate", "--config", tc.file})
			root.SetOut(&stdout)
			root.SetErr(&stderr)
			err := root.Execute()
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v; stderr:\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if !tc.ok && len(lines) != len(tc.wantErr) {
				t.Fatalf("want %d error lines, got:\n%s", len(tc.wantErr), stderr.String())
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("missing %q in:\n%s", want, stderr.String())
				}
			}
		})
	}
}

// TestRunRefusesWalLevelReplica: `sluice run` against a server without
// logical decoding exits non-zero with a message that says how to fix it.
func TestRunRefusesWalLevelReplica(t *testing.T) {
	e := &env{t: t, pgDSN: testenv.Get(t, "SLUICE_TEST_PG_REPLICA_DSN"), brokers: testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), dir: t.TempDir(), name: "walcheck"}
	e.writeConfig([]string{"public.walcheck"}, "", "") // any table: the server is refused before tables are looked at
	out, err := exec.Command(binary, "run", "--config", e.cfgPath).CombinedOutput()
	if err == nil {
		t.Fatalf("sluice run succeeded against wal_level=replica:\n%s", out)
	}
	if !strings.Contains(string(out), "wal_level = logical") || !strings.Contains(string(out), "ALTER SYSTEM SET wal_level = logical") {
		t.Fatalf("message does not say how to fix wal_level:\n%s", out)
	}
}

// TestVersion: `sluice version` and `sluice --version` print the build's
// version, commit and Go version.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var out bytes.Buffer
		root := newRoot()
		root.SetArgs(args)
		root.SetOut(&out)
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "sluice ") || !strings.HasPrefix(lines[1], "commit ") || !strings.HasPrefix(lines[2], "go1.") {
			t.Errorf("%v printed %q", args, out.String())
		}
	}
}

// TestValidateWarnsDeprecated: a deprecated key validates, and the
// warning with its replacement reaches stderr.
func TestValidateWarnsDeprecated(t *testing.T) {
	var stdout, stderr bytes.Buffer
	root := newRoot()
	root.SetArgs([]string{"validate", "--config", "../../testdata/config/elasticsearch_columns_deprecated.yaml"})
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	if err := root.Execute(); err != nil {
		t.Fatalf("err = %v; stderr:\n%s", err, stderr.String())
	}
	for _, want := range []string{"WARN", "columns option is deprecated", "pipelines.shop.sinks.search.columns", "include_key: true"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("missing %q in stderr:\n%s", want, stderr.String())
		}
	}
}
