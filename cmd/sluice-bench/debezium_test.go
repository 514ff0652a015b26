package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDbzProperties: Debezium Server's configuration takes the
// connection from -pg, the producer settings sluice runs with, and
// snapshots only in the snapshot workload.
func TestDbzProperties(t *testing.T) {
	o := &options{pgDSN: "postgres://bench:s3cret@db.example:5433/shop?sslmode=disable", brokers: []string{"k1:9092", "k2:9092"},
		compression: "lz4", linger: 5 * time.Millisecond}
	for _, c := range []struct {
		kind string
		want []string
	}{
		{"batch", []string{
			"debezium.source.database.hostname=db.example", "debezium.source.database.port=5433",
			"debezium.source.database.user=bench", "debezium.source.database.password=s3cret", "debezium.source.database.dbname=shop",
			"debezium.sink.kafka.producer.bootstrap.servers=k1:9092,k2:9092",
			"debezium.sink.kafka.producer.compression.type=lz4", "debezium.sink.kafka.producer.linger.ms=5",
			"debezium.format.value.schemas.enable=false",
			"debezium.source.slot.name=slot_d0", "debezium.source.publication.name=pub",
			"debezium.source.table.include.list=public.t1", "debezium.source.topic.prefix=pre",
			"debezium.source.snapshot.mode=no_data",
		}},
		{"snapshot", []string{"debezium.source.snapshot.mode=initial"}},
	} {
		props, err := dbzProperties(o, workload{Kind: c.kind, Width: "small"}, "slot_d0", "pub", "t1", "pre")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(props, "\n")
		for _, w := range c.want {
			found := false
			for _, l := range lines {
				found = found || l == w
			}
			if !found {
				t.Errorf("%s: no line %q in\n%s", c.kind, w, props)
			}
		}
	}
	if _, err := dbzProperties(&options{pgDSN: "postgres://%zz"}, workload{}, "s", "p", "t", "x"); err == nil {
		t.Error("a bad DSN gave no error")
	}
}

// TestDebeziumStop: Debezium Server's exit statuses on SIGTERM, 143 and
// 0, are a clean stop; any other is an error that shows its log. A
// process that exits by itself is reported by alive.
func TestDebeziumStop(t *testing.T) {
	for _, c := range []struct {
		name, onTerm string
		clean        bool
	}{
		{"143", "exit 143", true},
		{"0", "exit 0", true},
		{"1", "exit 1", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := startFake(t, "trap '"+c.onTerm+"' TERM\necho serving \"$1\"\nwhile :; do sleep 0.05; done")
			// SIGTERM once the trap is set: the script says so.
			for !strings.Contains(d.logTail(), "serving") {
				if err := d.alive(); err != nil {
					t.Fatalf("alive: %v", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			err := d.stop(10 * time.Second)
			if c.clean && err != nil {
				t.Fatalf("stop: %v; want a clean stop", err)
			}
			if !c.clean && (err == nil || !strings.Contains(err.Error(), "serving")) {
				t.Fatalf("stop: %v; want an error with the log", err)
			}
		})
	}
	t.Run("exits by itself", func(t *testing.T) {
		d := startFake(t, "echo gone\nexit 3")
		<-d.done
		if err := d.alive(); err == nil || !strings.Contains(err.Error(), "Debezium Server exited") || !strings.Contains(err.Error(), "gone") {
			t.Fatalf("alive = %v; want the exit and the log", err)
		}
	})
}

// startFake runs a shell script of body in place of debezium.sh.
func startFake(t *testing.T, body string) *daemon {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "fake.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := startDebezium(script, dir, "props")
	if err != nil {
		t.Fatal(err)
	}
	return d
}
