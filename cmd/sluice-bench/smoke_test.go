package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestSmoke runs the driver's smoke mode against the real services, from
// PostgreSQL and from MariaDB: every workload kind in miniature (the
// snapshot workload on PostgreSQL only), the source and Kafka ceilings,
// the profiling build and, on PostgreSQL, a short latency run. run
// verifies every output topic (each expected event id exactly once, ops
// and tombstones as written), so the test asserts that it succeeded and
// measured every case; it makes no assertion on timing.
func TestSmoke(t *testing.T) {
	for _, c := range []struct {
		source, dsnVar, dsnFlag string
		cases, latencyRuns      int
	}{
		{"postgres", "SLUICE_TEST_PG_DSN", "-pg", len(smokeCases), 1},
		{"mysql", "SLUICE_TEST_MYSQL_DSN", "-mysql", len(smokeCases) - 1, 0},
	} {
		t.Run(c.source, func(t *testing.T) {
			dsn := testenv.Get(t, c.dsnVar)
			brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
			profiles := t.TempDir()
			o, _, err := parseFlags([]string{"-source", c.source, "-smoke", c.dsnFlag, dsn, "-brokers", brokers, "-profile", profiles})
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
			if len(res.Cases) != c.cases {
				t.Fatalf("%d cases measured, want %d", len(res.Cases), c.cases)
			}
			for _, cr := range res.Cases {
				source := cr.PgEPS
				if c.source == "mysql" {
					source = cr.MySQLEPS
				}
				if len(cr.Sluice.EPS) != 1 || len(source) != 1 || len(cr.KafkaEPS) != 1 {
					t.Errorf("%s/%s: runs sluice %d, source ceiling %d, kafka ceiling %d; want 1 each", cr.Workload, cr.Width, len(cr.Sluice.EPS), len(source), len(cr.KafkaEPS))
				}
				if c.source == "postgres" && cr.Workload != "snapshot" {
					if cr.PgEager == nil || len(cr.PgEager.EPS) != 1 || cr.PgLazy == nil || len(cr.PgLazy.EPS) != 1 || len(cr.PgLazyBy) != len(ceilingReaders)-1 {
						t.Errorf("%s/%s: the eager reader, the fastest lazy one and each of %d pauses must have one run: %+v %+v %v", cr.Workload, cr.Width, len(ceilingReaders)-1, cr.PgEager, cr.PgLazy, cr.PgLazyBy)
					}
					for pause, runs := range cr.PgLazyBy {
						if eps, best := cr.readerEPS(runs), cr.readerEPS(cr.PgLazy); len(eps) != 1 || eps[0] <= 0 || eps[0] > best[0] {
							t.Errorf("%s/%s: lazy reader %s: %v events/s, the fastest %v", cr.Workload, cr.Width, pause, eps, best)
						}
					}
				}
				// What shared the machine: the broker's CPU, the server's
				// (walsender or MariaDB) and the busy cores, per run.
				server := cr.Sluice.WalsenderCPU
				if c.source == "mysql" {
					server = cr.Sluice.MySQLCPU
				}
				if len(cr.Sluice.BrokerCPU) != 1 || len(server) != 1 || len(cr.Sluice.Cores) != 1 || cr.Median.Cores <= 0 || cr.Median.ServerCPU != server[0] {
					t.Errorf("%s/%s: broker CPU %v, server CPU %v (median %v), cores busy %v (median %v); want one run each", cr.Workload, cr.Width,
						cr.Sluice.BrokerCPU, server, cr.Median.ServerCPU, cr.Sluice.Cores, cr.Median.Cores)
				}
				if cr.Profile == nil || cr.Profile.MallocsPerEvent == 0 {
					t.Errorf("%s/%s: no profile", cr.Workload, cr.Width)
				} else if g := cr.Profile.Goroutines; g == nil || len(g.Kinds) == 0 {
					t.Errorf("%s/%s: no goroutines from the profiling run's execution trace", cr.Workload, cr.Width)
				}
			}
			if len(res.Latency) != c.latencyRuns {
				t.Fatalf("%d latency runs, want %d", len(res.Latency), c.latencyRuns)
			}
			for _, l := range res.Latency {
				if l.Events == 0 || l.Measured == 0 {
					t.Errorf("latency run measured nothing: %+v", l)
				}
				if l.Writers != o.latencyWriters {
					t.Errorf("latency run offered by %d writers, want %d", l.Writers, o.latencyWriters)
				}
				if fi, err := os.Stat(filepath.Join(profiles, fmt.Sprintf("latency_%.0f.cpu", l.TargetRate))); err != nil || fi.Size() == 0 {
					t.Errorf("no CPU profile of the latency at %.0f events/s: %v", l.TargetRate, err)
				}
			}
		})
	}
}
