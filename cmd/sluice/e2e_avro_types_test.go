package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/avrotest"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestAvroAllTypes runs the Debezium fixtures (every type of the
// all-types tables, TOAST, keyless and composite keys, a truncate) on
// PostgreSQL and MariaDB through one pipeline with two kafka sinks, JSON
// and Avro. Each Avro record, its schema fetched by id from the registry
// and decoded by an independent implementation, holds the values of the
// JSON record of the same event: key and value, snapshot and stream.
func TestAvroAllTypes(t *testing.T) {
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	reg := testenv.Get(t, "SLUICE_TEST_REGISTRY_URL")
	for _, source := range []string{"postgres", "mariadb"} {
		t.Run(source, func(t *testing.T) {
			var run *dbzRun
			prefix := "avroall" + source[:2]
			extra := "schema_changes: false\n" // MySQL's go to the prefix's topic, which the two sinks would share
			if source == "postgres" {
				run = dbzPostgres(t, "dbzavroall", prefix, "sluice.TestAvroAllTypes")
				extra = ""
			} else {
				run = dbzMariaDB(t)
			}
			avroPrefix := "avro." + prefix
			for _, p := range []string{prefix, avroPrefix} {
				dbzDeleteTopics(t, brokers, p)
				t.Cleanup(func() { dbzDeleteTopics(t, brokers, p) })
			}
			admin := avrotest.AdminClient(t, reg)
			conn := run.prepare(t)
			t.Cleanup(func() { run.drop(t) })

			e := &env{t: t, name: prefix, brokers: brokers, dir: t.TempDir()}
			cfg := fmt.Sprintf(`log: {level: info, format: json}
http: {listen: "127.0.0.1:0"}
state_dir: %q
pipelines:
  %s:
    topic_prefix: %s
    source:
%s    sinks:
      json:
        type: kafka
        brokers: [%s]
        linger: 1ms
      avro:
        type: kafka
        brokers: [%s]
        linger: 1ms
        topic: "avro.{prefix}.{schema}.{table}"
        message_topic: "avro.{prefix}.message"
        format: avro
        registry: {url: %q}
`, filepath.Join(e.dir, "state"), prefix, prefix, indent(run.sourceBlock()+extra, 6), brokers, brokers, reg)
			e.cfgPath = filepath.Join(e.dir, "sluice.yaml")
			if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
				t.Fatal(err)
			}
			d := e.launch()
			stmts, err := testenv.SQLStatements(filepath.Join(dbzFixtures, run.fixtures, "stream.sql"))
			if err != nil {
				t.Fatal(err)
			}
			// The snapshot first (its end marker row is not there yet),
			// then the stream.
			schema := "public"
			if source == "mariadb" {
				schema = dbzDatabase
			}
			waitTopic := func(topic string) {
				t.Helper()
				if n := len(e.consume([]string{topic}, 1, 3*time.Minute)); n < 1 {
					t.Fatalf("nothing on %s:\n%s", topic, d.logs.String())
				}
			}
			for _, s := range stmts {
				if err := conn(s); err != nil {
					t.Fatalf("stream.sql: %s: %v", s, err)
				}
			}
			waitTopic(prefix + "." + schema + ".end_marker")
			waitTopic(avroPrefix + "." + schema + ".end_marker")
			if code := d.stop(t, syscall.SIGTERM); code != 0 {
				t.Fatalf("exit code %d after SIGTERM", code)
			}
			jsonRecs := e.consumeAll(testenv.Topics(t, brokers, prefix))
			avroRecs := e.consumeAll(testenv.Topics(t, brokers, avroPrefix))
			var subjects []string
			for _, topic := range testenv.Topics(t, brokers, avroPrefix) {
				subjects = append(subjects, topic+"-key", topic+"-value")
			}
			avrotest.DeleteSubjectsAtEnd(t, admin, subjects...)

			type id struct {
				topic, event string
				tombstone    bool
			}
			byEvent := map[id]record{}
			for _, r := range jsonRecs {
				byEvent[id{r.topic, r.headers[codec.EventIDHeader], r.value == nil}] = r
			}
			schemas := map[int]string{}
			compare := func(what string, b, js []byte) {
				t.Helper()
				sid, body, err := avrotest.Wire(b)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				s, ok := schemas[sid]
				if !ok {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if s, err = avrotest.SchemaByID(ctx, admin, sid); err != nil {
						t.Fatalf("%s: schema %d: %v", what, sid, err)
					}
					schemas[sid] = s
				}
				diff, err := avrotest.Compare(s, body, js, ".ts_ms", ".ts_us", ".ts_ns")
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if diff != "" {
					t.Errorf("%s: %s\njson: %s", what, diff, js)
				}
			}
			compared := 0
			for _, r := range avroRecs {
				topic := strings.TrimPrefix(r.topic, "avro.")
				j, ok := byEvent[id{topic, r.headers[codec.EventIDHeader], r.value == nil}]
				if !ok {
					t.Errorf("%s offset %d (event %s): no JSON record of the same event", r.topic, r.offset, r.headers[codec.EventIDHeader])
					continue
				}
				what := fmt.Sprintf("%s event %s", r.topic, r.headers[codec.EventIDHeader])
				if (r.key == nil) != (j.key == nil) {
					t.Errorf("%s: key %v, JSON key %s", what, r.key != nil, j.key)
				} else if r.key != nil {
					compare(what+" key", r.key, j.key)
				}
				if r.value != nil {
					compare(what+" value", r.value, j.value)
				}
				compared++
			}
			if compared != len(jsonRecs) || compared < 10 {
				t.Errorf("%d Avro records compared, %d JSON records", compared, len(jsonRecs))
			}
			t.Logf("%s: %d records in Avro equal their JSON", source, compared)
		})
	}
}
