package main

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestESSmoke runs both → Elasticsearch comparisons in miniature against
// the real services: one sluice run and one bulk loader run each. Both
// check their index's document count, so the test asserts that they
// succeeded, measured both sides and left no replication slot behind;
// it makes no assertion on timing.
func TestESSmoke(t *testing.T) {
	dsn := testenv.Get(t, "SLUICE_TEST_PG_DSN")
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	esURL := testenv.Get(t, "SLUICE_TEST_ES_URL")
	for _, mode := range []string{"-pg-es", "-kafka-es"} {
		t.Run(mode, func(t *testing.T) {
			o, _, err := parseFlags([]string{mode, "2000", "-repeats", "1", "-pg", dsn, "-brokers", brokers, "-es", esURL})
			if err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			o.log = &log
			res, err := runKafkaES(t.Context(), o)
			if res != nil {
				printKafkaES(&log, res)
			}
			t.Log("\n" + log.String())
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Sluice) != 1 || len(res.Loader) != 1 || len(res.Ratio) != 1 {
				t.Fatalf("runs: sluice %d, loader %d, ratios %d; want 1 each", len(res.Sluice), len(res.Loader), len(res.Ratio))
			}
			if res.Sluice[0].DocsPerS <= 0 || res.Loader[0].DocsPerS <= 0 || res.Sluice[0].CPU <= 0 {
				t.Errorf("a run measured nothing: sluice %+v, loader %+v", res.Sluice[0], res.Loader[0])
			}
			db, err := pgx.Connect(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close(t.Context())
			var left int
			if err := db.QueryRow(t.Context(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'bench\\_%\\_pges\\_%' OR slot_name LIKE 'bench\\_%\\_kes\\_%'").Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != 0 {
				t.Errorf("%d replication slots left behind", left)
			}
		})
	}
}

// TestParseAcked reads the acknowledged events out of a metrics page.
func TestParseAcked(t *testing.T) {
	for _, c := range []struct {
		name, page string
		want       int64
		err        bool
	}{
		{name: "one pipeline", page: "# HELP sluice_events_total x\nsluice_events_total{pipeline=\"p\"} 1.2e+06\nsluice_queue_events{pipeline=\"p\"} 5000\nsluice_queue_capacity{pipeline=\"p\"} 8192\n", want: 1195000},
		{name: "two pipelines", page: "sluice_events_total{pipeline=\"a\"} 10\nsluice_events_total{pipeline=\"b\"} 20\nsluice_queue_events{pipeline=\"a\"} 1\nsluice_queue_events{pipeline=\"b\"} 2\n", want: 27},
		{name: "nothing in flight", page: "sluice_events_total{pipeline=\"p\"} 2000\nsluice_queue_events{pipeline=\"p\"} 0\n", want: 2000},
		{name: "no events metric", page: "sluice_queue_events{pipeline=\"p\"} 0\n", err: true},
		{name: "bad value", page: "sluice_events_total{pipeline=\"p\"} many\n", err: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseAcked(bufio.NewScanner(strings.NewReader(c.page)))
			if (err != nil) != c.err {
				t.Fatalf("err %v, want error %v", err, c.err)
			}
			if got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
}
