package main

import (
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
