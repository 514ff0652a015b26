package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/pipeline"
	"github.com/sluice-cdc/sluice/sink"
	"github.com/sluice-cdc/sluice/sink/kafka"
	"github.com/sluice-cdc/sluice/source"
	_ "github.com/sluice-cdc/sluice/source/postgres"
)

// pgTest is a scenario on the real PostgreSQL: tables, a publication and
// slots named after the test, removed at the end.
type pgTest struct {
	t     testing.TB
	es    *esTest
	dsn   string
	db    *pgx.Conn
	name  string // prefix of tables, publication and slots
	slots []string
}

func newPGTest(t testing.TB) *pgTest {
	t.Helper()
	p := &pgTest{t: t, dsn: testenv.Get(t, "SLUICE_TEST_PG_DSN")}
	p.es = newESTest(t)
	p.name = strings.ReplaceAll(p.es.prefix, "-", "_")
	db, err := pgx.Connect(context.Background(), p.dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	p.db = db
	t.Cleanup(func() {
		ctx := context.Background()
		for _, s := range p.slots {
			testenv.DropSlot(t, db, s)
		}
		db.Exec(ctx, "DROP PUBLICATION IF EXISTS "+p.name)
		rows, _ := db.Query(ctx, "SELECT tablename FROM pg_tables WHERE tablename LIKE $1", p.name+"%")
		names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, n := range names {
			db.Exec(ctx, "DROP TABLE IF EXISTS "+n+" CASCADE")
		}
		db.Exec(ctx, "DROP TYPE IF EXISTS "+p.name+"_mood")
		db.Close(ctx)
	})
	return p
}

func (p *pgTest) exec(sql string, args ...any) {
	p.t.Helper()
	if _, err := p.db.Exec(context.Background(), sql, args...); err != nil {
		p.t.Fatalf("%s: %v", sql, err)
	}
}

// source builds the postgres source of a pipeline reading slot (no
// snapshot: the tests start from an empty state).
func (p *pgTest) source(pipe, slot string, tables []string) source.Source {
	p.t.Helper()
	f, err := source.Lookup("postgres")
	if err != nil {
		p.t.Fatal(err)
	}
	qualified := make([]any, len(tables))
	for i, tb := range tables {
		qualified[i] = "public." + tb
	}
	raw := map[string]any{"type": "postgres", "dsn": p.dsn, "slot": slot, "publication": p.name,
		"tables": qualified, "status_interval": "1s", "drain_timeout": "10s",
		"snapshot": map[string]any{"mode": "never"}}
	src, err := f(raw, source.Env{Pipeline: pipe, Path: "pipelines." + pipe + ".source",
		Logger: zaptest.NewLogger(p.t, zaptest.Level(zap.WarnLevel)), StateDir: p.t.TempDir()})
	if err != nil {
		p.t.Fatal(err)
	}
	if !contains(p.slots, slot) {
		p.slots = append(p.slots, slot)
	}
	return src
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// esSink builds an elasticsearch sink for a pipeline.
func (p *pgTest) esSink(pipe string, raw map[string]any) *Sink {
	p.t.Helper()
	cfg := map[string]any{
		"urls": []any{p.es.URL}, "index": p.es.prefix + "-{table}", "state_index": p.es.state,
		"bulk":  map[string]any{"flush_interval": "50ms"},
		"retry": map[string]any{"initial_backoff": "100ms", "max_backoff": "1s"},
	}
	for k, v := range raw {
		cfg[k] = v
	}
	enc, err := codec.New(codec.Options{Name: pipe, Connector: "postgresql", DB: "sluice"})
	if err != nil {
		p.t.Fatal(err)
	}
	s, err := sink.Build(New, cfg, sink.Env{Pipeline: pipe, Path: "pipelines." + pipe + ".sinks.search", Encoder: enc,
		Logger: zaptest.NewLogger(p.t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// run starts a pipeline; the returned function stops it (cleanly: the
// source drains and confirms) and returns Run's error.
func (p *pgTest) run(pl *pipeline.Pipeline) func() error {
	p.t.Helper()
	if pl.Logger == nil {
		pl.Logger = zaptest.NewLogger(p.t, zaptest.Level(zap.WarnLevel))
	}
	pl.MinBackoff, pl.MaxBackoff = 200*time.Millisecond, 2*time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			return fmt.Errorf("pipeline %s did not stop", pl.Name)
		}
	}
	p.t.Cleanup(func() { stop() })
	return stop
}

// waitSlot waits until the slot is read by a pipeline.
func (p *pgTest) waitSlot(slot string) {
	p.t.Helper()
	p.waitFor("slot "+slot+" active", 30*time.Second, func() bool {
		var active bool
		err := p.db.QueryRow(context.Background(), "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active)
		return err == nil && active
	})
}

// confirmed is the slot's confirmed_flush_lsn.
func (p *pgTest) confirmed(slot string) uint64 {
	p.t.Helper()
	var s string
	if err := p.db.QueryRow(context.Background(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&s); err != nil {
		p.t.Fatal(err)
	}
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		p.t.Fatal(err)
	}
	return uint64(lsn)
}

// walNow is a WAL position past every commit so far.
func (p *pgTest) walNow() uint64 {
	p.t.Helper()
	s, err := testenv.WALFlushed(context.Background(), p.db)
	if err != nil {
		p.t.Fatal(err)
	}
	lsn, _ := pglogrepl.ParseLSN(s)
	return uint64(lsn)
}

func (p *pgTest) waitFor(what string, d time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDelivered waits until the slot confirmed everything written so far.
func (p *pgTest) waitDelivered(slot string, d time.Duration) {
	p.t.Helper()
	end := p.walNow()
	p.waitFor(fmt.Sprintf("slot %s to confirm %s", slot, pglogrepl.LSN(end)), d, func() bool { return p.confirmed(slot) >= end })
}

// TestPostgresToElasticsearch streams changes of every common type from
// the real PostgreSQL through the real source and pipeline into the real
// Elasticsearch, checks that the documents equal the rows, that a
// document with a mapping conflict goes to the dead-letter file and topic
// while the stream goes on, then replays the whole stream from the
// beginning through a copy of the slot made before the first change —
// after Elasticsearch has forgotten the deletes (gc_deletes 0s) — and
// checks that the index still equals the tables.
func TestPostgresToElasticsearch(t *testing.T) {
	p := newPGTest(t)
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	n := p.name
	types, pair, trunc, conflict := n+"_types", n+"_pair", n+"_trunc", n+"_conflict"
	p.exec(fmt.Sprintf(`CREATE TYPE %[1]s_mood AS ENUM ('sad', 'ok', 'happy');
		CREATE TABLE %[2]s (id int PRIMARY KEY, b bool, i2 int2, i8 int8, f4 real, f8 float8,
			n numeric(12,3), nu numeric, m money, t text, vc varchar(20), c char(3), d date,
			tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval, j json, jb jsonb,
			ia int[], ta text[], u uuid, by bytea, bits bit(4), vb varbit, e %[1]s_mood, ip inet, big text);
		ALTER TABLE %[2]s ALTER COLUMN big SET STORAGE EXTERNAL;
		CREATE TABLE %[3]s (a text, b text, v int, PRIMARY KEY (a, b));
		CREATE TABLE %[4]s (id int PRIMARY KEY, v text);
		CREATE TABLE %[5]s (id int PRIMARY KEY, v int);`, n, types, pair, trunc, conflict))

	// The dead-letter topic must exist (the test broker does not create topics).
	dlqTopic := n + "_dlq"
	kcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	adm := kadm.NewClient(kcl)
	if _, err := adm.CreateTopic(t.Context(), 1, 1, nil, dlqTopic); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.DeleteTopics(context.Background(), dlqTopic) })
	dlqFile := filepath.Join(t.TempDir(), "dlq.jsonl")

	tables := []string{types, pair, trunc, conflict}
	slot1, slot2 := n+"_a", n+"_replay"
	es1 := p.esSink("p1", map[string]any{"dead_letter": map[string]any{"file": dlqFile,
		"kafka": map[string]any{"brokers": toAny(brokers), "topic": dlqTopic}}})
	stop1 := p.run(&pipeline.Pipeline{Name: "p1", Source: p.source("p1", slot1, tables), Sinks: []sluice.Sink{es1}})
	p.waitSlot(slot1)
	// A copy made before any change: reading it later replays everything.
	p.exec("SELECT pg_copy_logical_replication_slot($1, $2)", slot1, slot2)

	big := strings.Repeat("0123456789", 1000) // stored out of line (TOAST)
	p.exec(`INSERT INTO `+types+` VALUES (1, true, 12, 9007199254740993, 1.5, 3.141592653589793,
			123.45, 0.000001234, 12.34, E'hello "world"\n', 'vc', 'ab', '2024-02-29',
			'13:14:15.123456', '13:14:15+02', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.12+02',
			'1 year 2 months 3 days 04:05:06.78', '{"a": [1, 2]}', '{"b":1,"a":2}',
			'{1,2,NULL}', '{"x","y z"}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\x0102ff',
			B'1010', B'101', 'happy', '192.168.0.1/24', $1)`, big)
	p.exec(`INSERT INTO ` + types + ` (id) VALUES (2)`)
	p.exec(`INSERT INTO ` + types + ` (id, f4, f8, n, d, ts, tstz) VALUES (3, 'NaN', '-Infinity', 'NaN', 'infinity', '-infinity', 'infinity')`)
	// Only t and i8 change: big is an unchanged TOAST value, not sent.
	p.exec(`UPDATE ` + types + ` SET t = 'changed', i2 = 13 WHERE id = 1`)
	p.exec(`UPDATE ` + types + ` SET id = 30 WHERE id = 3`)
	p.exec(`DELETE FROM ` + types + ` WHERE id = 2`)
	p.exec(`INSERT INTO ` + pair + ` VALUES ('x|y', 'z', 1), ('x', 'y|z', 2), ('a\', 'b', 3), ('a', '\b', 4)`)
	p.exec(`INSERT INTO ` + trunc + ` SELECT g, 'before' FROM generate_series(1, 50) g`)
	p.exec(`BEGIN; UPDATE ` + trunc + ` SET v = 'gone' WHERE id = 1; TRUNCATE ` + trunc + `; INSERT INTO ` + trunc + ` VALUES (7, 'after'); COMMIT`)
	p.exec(`INSERT INTO ` + conflict + ` VALUES (1, 5)`)
	p.exec(`ALTER TABLE ` + conflict + ` ALTER COLUMN v TYPE text`)
	p.exec(`INSERT INTO ` + conflict + ` VALUES (2, 'abc')`) // the index maps v as integer
	p.exec(`INSERT INTO ` + conflict + ` VALUES (3, '7')`)
	p.waitDelivered(slot1, 60*time.Second)

	check := func(stage string) {
		t.Helper()
		want := map[string]string{
			"1": `{"id":1,"b":true,"i2":13,"i8":9007199254740993,"f4":1.5,"f8":3.141592653589793,"n":"123.450","nu":"0.000001234",
				"m":"12.34","t":"changed","vc":"vc","c":"ab ","d":"2024-02-29","tm":"13:14:15.123456","ttz":"11:14:15Z",
				"ts":"2024-01-02T03:04:05.123456","tstz":"2024-01-02T01:04:05.12Z","iv":"P1Y2M3DT4H5M6.78S",
				"j":"{\"a\": [1, 2]}","jb":"{\"a\": 2, \"b\": 1}","ia":[1,2,null],"ta":["x","y z"],
				"u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","by":"AQL/","bits":"1010","vb":"101","e":"happy",
				"ip":"192.168.0.1/24","big":"` + big + `"}`,
			"30": `{"id":30,"b":null,"i2":null,"i8":null,"f4":"NaN","f8":"-Infinity","n":"NaN","nu":null,"m":null,
				"t":null,"vc":null,"c":null,"d":"infinity","tm":null,"ttz":null,"ts":"-infinity","tstz":"infinity",
				"iv":null,"j":null,"jb":null,"ia":null,"ta":null,"u":null,"by":null,"bits":null,"vb":null,"e":null,
				"ip":null,"big":null}`,
		}
		got := p.es.Docs(p.es.index(types))
		if len(got) != len(want) {
			t.Errorf("%s: %s has documents %v, want ids 1 and 30", stage, types, keys(got))
		}
		for id, w := range want {
			g, _ := json.Marshal(got[id])
			if !jsonEqual(g, []byte(w)) {
				t.Errorf("%s: %s/%s =\n%s\nwant\n%s", stage, types, id, g, w)
			}
		}
		if got, want := keys(p.es.Docs(p.es.index(pair))), []string{`a\\|b`, `a|\\b`, `x\|y|z`, `x|y\|z`}; !slices.Equal(got, want) {
			t.Errorf("%s: %s ids = %q, want %q", stage, pair, got, want)
		}
		if got := p.es.Docs(p.es.index(trunc)); len(got) != 1 || got["7"]["v"] != "after" {
			t.Errorf("%s: %s = %v, want only 7", stage, trunc, got)
		}
		if got := p.es.Docs(p.es.index(conflict)); len(got) != 2 || got["1"] == nil || got["3"] == nil {
			t.Errorf("%s: %s = %v, want 1 and 3", stage, conflict, got)
		}
	}
	check("stream")
	st1 := es1.Stats()
	if st1.PartialUpdates != 1 || st1.PartialIncomplete != 0 || st1.DeadLettered != 1 || st1.Truncates != 1 {
		t.Errorf("stats = %+v, want 1 partial update, 1 dead letter, 1 truncate", st1)
	}
	checkDeadLetter := func(line []byte) {
		t.Helper()
		var rec deadRecordJSON
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("dead letter %q: %v", line, err)
		}
		if rec.ID != "2" || rec.Index != p.es.index(conflict) || rec.Status != 400 || rec.Error == nil ||
			!strings.Contains(rec.Error.String(), "[v]") || !jsonEqual(rec.Document, []byte(`{"id":2,"v":"abc"}`)) {
			t.Errorf("dead letter = %s", line)
		}
	}
	data, err := os.ReadFile(dlqFile)
	if err != nil {
		t.Fatal(err)
	}
	checkDeadLetter([]byte(strings.TrimSpace(string(data))))
	kcl.AddConsumeTopics(dlqTopic)
	fctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	fetches := kcl.PollRecords(fctx, 1)
	cancel()
	if recs := fetches.Records(); len(recs) != 1 {
		t.Errorf("dead-letter topic: %d records (%v)", len(recs), fetches.Errors())
	} else {
		if string(recs[0].Key) != p.es.index(conflict)+"/2" {
			t.Errorf("dead-letter record key %q", recs[0].Key)
		}
		checkDeadLetter(recs[0].Value)
	}
	if err := stop1(); err != nil {
		t.Fatal(err)
	}

	// Replay everything from before the first change, after Elasticsearch
	// forgot the deleted documents' versions.
	for _, tb := range tables {
		p.es.Must("PUT", "/"+p.es.index(tb)+"/_settings", `{"index.gc_deletes":"0s"}`)
		p.es.Must("POST", "/"+p.es.index(tb)+"/_refresh", nil)
	}
	es2 := p.esSink("p2", map[string]any{"dead_letter": map[string]any{"file": dlqFile}})
	stop2 := p.run(&pipeline.Pipeline{Name: "p2", Source: p.source("p2", slot2, tables), Sinks: []sluice.Sink{es2}})
	p.waitSlot(slot2)
	p.waitDelivered(slot2, 60*time.Second)
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	check("replay")
	st2 := es2.Stats()
	if st2.StaleSkipped == 0 || st2.VersionConflicts == 0 {
		t.Errorf("replay stats = %+v, want stale skips and version conflicts", st2)
	}
	t.Logf("stream stats: %+v", st1)
	t.Logf("replay stats: %+v", st2)
}

func keys(m map[string]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// TestOutageWithKafka runs one pipeline with a Kafka and an Elasticsearch
// sink under a steady write load, stops Elasticsearch for 30 s and starts
// it again. Meanwhile the pipeline reports not-ready, Kafka keeps
// acknowledging, but the slot's confirmed position does not move (the
// checkpoint needs both sinks), and the Elasticsearch sink holds a bounded
// number of events (Write blocks). Afterwards nothing is lost: every row
// is a document.
func TestOutageWithKafka(t *testing.T) {
	p := newPGTest(t)
	scripts := testenv.Get(t, "SLUICE_SCRIPTS")
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	u, err := url.Parse(p.es.URL)
	if err != nil || u.Port() == "" {
		t.Fatalf("SLUICE_TEST_ES_URL %q has no port", p.es.URL)
	}
	// Stop and start exactly the node behind SLUICE_TEST_ES_URL.
	esctl := func(verb string) {
		t.Helper()
		cmd := exec.Command(filepath.Join(scripts, "elasticsearch.sh"), verb)
		cmd.Env = append(os.Environ(), "SLUICE_ES_PORT="+u.Port())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("elasticsearch.sh %s: %v\n%s", verb, err, out)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			cmd := exec.Command(filepath.Join(scripts, "elasticsearch.sh"), "start")
			cmd.Env = append(os.Environ(), "SLUICE_ES_PORT="+u.Port())
			cmd.Run() // leave the service up for the other tests
		}
	})

	tbl := p.name + "_load"
	p.exec("CREATE TABLE " + tbl + " (id int PRIMARY KEY, v text)")
	slot := p.name + "_a"
	const maxActions, inFlight = 200, 2
	es := p.esSink("out", map[string]any{
		"bulk":                  map[string]any{"max_actions": maxActions, "max_in_flight": inFlight, "flush_interval": "50ms"},
		"retry":                 map[string]any{"initial_backoff": "100ms", "max_backoff": "2s"},
		"health_check_interval": "250ms",
		"request_timeout":       "5s",
	})
	kenc, err := codec.New(codec.Options{Name: p.name, Connector: "postgresql", DB: "sluice"})
	if err != nil {
		t.Fatal(err)
	}
	ks, err := sink.Build(kafka.New, map[string]any{"brokers": toAny(brokers), "linger": "1ms"},
		sink.Env{Pipeline: "out", Path: "pipelines.out.sinks.kafka", Encoder: kenc, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err == nil {
			kadm.NewClient(cl).DeleteTopics(context.Background(), p.name+".public."+tbl)
			cl.Close()
		}
	})
	pl := &pipeline.Pipeline{Name: "out", Source: p.source("out", slot, []string{tbl}), Sinks: []sluice.Sink{ks, es}, Capacity: 4000}
	stop := p.run(pl)
	p.waitSlot(slot)

	// The load: one row per transaction, every 5 ms, until told to stop.
	wctx, stopWriter := context.WithCancel(context.Background())
	written := make(chan int, 1)
	go func() {
		db, err := pgx.Connect(wctx, p.dsn)
		if err != nil {
			written <- 0
			return
		}
		defer db.Close(context.Background())
		n := 0
		for wctx.Err() == nil {
			if _, err := db.Exec(wctx, "INSERT INTO "+tbl+" VALUES ($1::int, 'row ' || $1::int)", n+1); err != nil {
				if wctx.Err() == nil {
					t.Errorf("writer: %v", err)
				}
				break
			}
			n++
			time.Sleep(5 * time.Millisecond)
		}
		written <- n
	}()
	defer stopWriter()
	p.waitFor("the first documents", 30*time.Second, func() bool { return es.Stats().Indexed > 100 })

	esctl("stop")
	down := time.Now()
	p.waitFor("not-ready", 10*time.Second, func() bool { return pl.Ready() != nil })
	t.Logf("not ready %s after the stop: %v", time.Since(down).Round(time.Millisecond), pl.Ready())
	// Acks of requests that completed before the stop may still arrive;
	// after that the checkpoint must stand still.
	time.Sleep(2 * time.Second)
	frozen := p.confirmed(slot)
	maxPending, kafkaAhead := int64(0), int64(0)
	for time.Since(down) < 30*time.Second {
		if err := pl.Ready(); err == nil {
			t.Fatal("pipeline reports ready while Elasticsearch is down")
		}
		if c := p.confirmed(slot); c != frozen {
			t.Fatalf("confirmed_flush_lsn moved from %s to %s while Elasticsearch was down", pglogrepl.LSN(frozen), pglogrepl.LSN(c))
		}
		st := es.Stats()
		maxPending = max(maxPending, st.Pending)
		kafkaAhead = max(kafkaAhead, int64(ks.Stats().Events)-int64(st.Events))
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("while down: Kafka acknowledged up to %d events more than Elasticsearch, the checkpoint stayed at %s, the Elasticsearch sink held at most %d events",
		kafkaAhead, pglogrepl.LSN(frozen), maxPending)
	if kafkaAhead <= 0 {
		t.Error("Kafka acknowledged no event beyond Elasticsearch while it was down; the test shows nothing about the checkpoint")
	}
	// Write blocks once max_in_flight requests are outstanding and the
	// batch being filled is full: the sink then holds at least that full
	// batch and never more than max_in_flight+1 full batches.
	if bound := int64((inFlight + 1) * maxActions); maxPending > bound || maxPending < maxActions {
		t.Errorf("the Elasticsearch sink held up to %d events; want between %d and %d", maxPending, maxActions, bound)
	}

	esctl("start")
	p.waitFor("ready again", 60*time.Second, func() bool { return pl.Ready() == nil })
	t.Logf("ready %s after the outage began", time.Since(down).Round(time.Second))
	stopWriter()
	<-written
	p.waitDelivered(slot, 90*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rows, err := p.db.Query(context.Background(), "SELECT id, v FROM "+tbl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for rows.Next() {
		var id int
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprint(id)] = v
	}
	n := len(want)
	got := p.es.Docs(p.es.index(tbl))
	if len(got) != n {
		t.Errorf("%d documents for %d rows", len(got), n)
	}
	for id, v := range want {
		if d := got[id]; d == nil || d["v"] != v {
			t.Errorf("row %s: document %v", id, d)
			break
		}
	}
	t.Logf("rows %d, es stats %+v", n, es.Stats())
}
