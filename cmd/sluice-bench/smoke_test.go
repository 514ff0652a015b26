package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestSmoke runs the driver's smoke mode against the real services: every
// workload kind at both widths in miniature, both ceilings, the profiling
// build and a short latency run. run verifies every output topic (each
// expected event id exactly once, ops and tombstones as written), so the
// test asserts that it succeeded and measured every case; it makes no
// assertion on timing.
func TestSmoke(t *testing.T) {
	dsn := testenv.Get(t, "SLUICE_TEST_PG_DSN")
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	o, _, err := parseFlags([]string{"-smoke", "-pg", dsn, "-brokers", brokers, "-profile", t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if bin := os.Getenv("SLUICE_BIN"); bin != "" {
		o.bin = bin // make test has built it already
	}
	var log bytes.Buffer
	o.log = &log
	res, err := run(t.Context(), o)
	if res != nil {
		printTable(&log, res)
	}
	t.Log("\n" + log.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cases) != len(smokeCases) {
		t.Fatalf("%d cases measured, want %d", len(res.Cases), len(smokeCases))
	}
	for _, c := range res.Cases {
		if len(c.Sluice.EPS) != 1 || len(c.PgEPS) != 1 || len(c.KafkaEPS) != 1 {
			t.Errorf("%s/%s: runs sluice %d, pg ceiling %d, kafka ceiling %d; want 1 each", c.Workload, c.Width, len(c.Sluice.EPS), len(c.PgEPS), len(c.KafkaEPS))
		}
		if c.Profile == nil || c.Profile.MallocsPerEvent == 0 {
			t.Errorf("%s/%s: no profile", c.Workload, c.Width)
		}
	}
	if len(res.Latency) != 1 || res.Latency[0].Events == 0 || res.Latency[0].Measured == 0 {
		t.Errorf("latency run measured nothing: %+v", res.Latency)
	}
}

// TestSmokeMySQL is the smoke mode with -source mysql: every workload kind
// but the snapshot, from MariaDB's binlog, with the binlog and Kafka
// ceilings and the profiling build; run verifies every topic.
func TestSmokeMySQL(t *testing.T) {
	dsn := testenv.Get(t, "SLUICE_TEST_MYSQL_DSN")
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	o, _, err := parseFlags([]string{"-source", "mysql", "-smoke", "-mysql", dsn, "-brokers", brokers, "-profile", t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if bin := os.Getenv("SLUICE_BIN"); bin != "" {
		o.bin = bin
	}
	var log bytes.Buffer
	o.log = &log
	res, err := run(t.Context(), o)
	if res != nil {
		printTable(&log, res)
	}
	t.Log("\n" + log.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cases) != len(smokeCases)-1 {
		t.Fatalf("%d cases measured, want %d", len(res.Cases), len(smokeCases)-1)
	}
	for _, c := range res.Cases {
		if len(c.Sluice.EPS) != 1 || len(c.MySQLEPS) != 1 || len(c.KafkaEPS) != 1 {
			t.Errorf("%s/%s: runs sluice %d, mysql ceiling %d, kafka ceiling %d; want 1 each", c.Workload, c.Width, len(c.Sluice.EPS), len(c.MySQLEPS), len(c.KafkaEPS))
		}
		if c.Profile == nil || c.Profile.MallocsPerEvent == 0 {
			t.Errorf("%s/%s: no profile", c.Workload, c.Width)
		}
	}
	if len(res.Latency) != 0 {
		t.Errorf("latency runs on MySQL: %+v", res.Latency)
	}
}
