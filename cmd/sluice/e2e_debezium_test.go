package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The Debezium comparison: sluice runs the fixtures of testdata/debezium
// against the real PostgreSQL and MariaDB with the settings of each mode
// recorded from Debezium Server 3.6.1 in testdata/golden/debezium, and what
// it writes to Kafka must equal the recording record for record, byte for
// byte, once the values that differ between two runs of Debezium itself
// are masked on both sides (testenv.NormalizeValue says which, and why).
// Keys must be equal bytes and the records of a topic come in the same
// order. Differences that are not the codec's to fix and not fixed yet are
// listed in knownDebeziumDiffs, each with its owner and reason; anything
// else fails the test, and so does an entry that matches nothing.
//
// The run uses the recording's names: database dbz in each server, topic
// prefixes dbzpg and dbzmaria, so source.db, topic names and Connect schema
// names need no masking. A lock (a PostgreSQL advisory lock, a MariaDB
// GET_LOCK) keeps two runs of this test from sharing them.
//
//	go test ./cmd/sluice -run TestDebeziumGolden/postgres/defaults -v
//	go test ./cmd/sluice -run TestDebeziumGolden -dbzdump /tmp/dbz   # also write sluice's topics as .jsonl

var dbzDump = flag.String("dbzdump", "", "write sluice's output of the Debezium comparison under this directory (<source>/<mode>/<topic>.jsonl, topicdump's format)")

const (
	dbzGoldenDir = "../../testdata/golden/debezium"
	dbzFixtures  = "../../testdata/debezium"
	dbzDatabase  = "dbz"
	dbzPipeline  = "dbzgolden" // the pipeline's name; the PostgreSQL slot and publication are sluice_dbzgolden
)

// dbzSettings is one recorded mode translated into sluice's keys.
type dbzSettings struct {
	prefix     string
	encoding   map[string]string // key under encoding: → YAML value
	kafka      map[string]string // key under the kafka sink → YAML value
	transforms []dbzTransform    // the pipeline's transforms, in order
}

// dbzTransform is one entry of the pipeline's transforms: Debezium's
// name for it (debezium.transforms) and its sluice keys as "key: value".
type dbzTransform struct {
	name string
	keys []string
}

// dbzSuite is one comparison against Debezium's recordings: where they
// are, how the daemon's pipeline is named, and what the comparison
// accepts. TestDebeziumGolden is dbzGoldenSuite; the SMT comparisons
// (e2e_debezium_smt_test.go) have their own.
type dbzSuite struct {
	goldenDir string // <goldenDir>/<source>/<mode>/
	pipeline  string // the pipeline's name; the PostgreSQL slot and publication are sluice_<pipeline>
	known     []testenv.Known
	// props translates the properties README's table has no row for
	// (an SMT's) into set, reporting whether it took kv; nil: none.
	props func(t *testing.T, kv [2]string, set *dbzSettings) bool
	// snapshotRows is the number of snapshot records to wait for before
	// stream.sql runs, and isSnapshot tells one in sluice's output.
	snapshotRows func(t *testing.T, want map[string][]testenv.Record) int
	isSnapshot   func(r testenv.Record) bool
	// mask are more value paths masked on both sides
	// (testenv.CompareTopicMasked).
	mask []string
	// topics are more topic prefixes the run writes besides the topic
	// prefix's (the outbox's "outbox.event"): cleaned up before and
	// after, and read for the comparison.
	topics []string
	// exact also compares every record byte for byte (key, value with
	// a nil value told from the bytes null, headers other than
	// sluice's), for recordings with nothing that varies between runs.
	exact bool
	// onRecords, when set, gets each mode's records, Debezium's (want)
	// and sluice's (got), by topic, before they are compared.
	onRecords func(t *testing.T, source, mode string, want, got map[string][]testenv.Record)
}

// dbzGoldenSuite is TestDebeziumGolden's: the envelope of every change,
// snapshot rows told by "op":"r".
var dbzGoldenSuite = dbzSuite{
	goldenDir: dbzGoldenDir,
	pipeline:  dbzPipeline,
	known:     knownDebeziumDiffs,
	snapshotRows: func(t *testing.T, want map[string][]testenv.Record) int {
		return dbzCountSnapshot(want)
	},
	isSnapshot: func(r testenv.Record) bool { return bytes.Contains(r.Value, []byte(`"op":"r"`)) },
}

// dbzCountSnapshot counts the envelopes with "op":"r" outside
// transaction topics.
func dbzCountSnapshot(recs map[string][]testenv.Record) int {
	n := 0
	for topic, rs := range recs {
		for _, r := range rs {
			if !testenv.IsTransactionTopic(topic) && bytes.Contains(r.Value, []byte(`"op":"r"`)) {
				n++
			}
		}
	}
	return n
}

// translateDebezium translates a recorded application.properties by
// README's table "Debezium property → sluice key" (as a user would): the
// topic prefix, the encoding dbzKeys and the kafka sink's keys. The source
// and the brokers are the test's own. A property the table lacks fails
// the test: a new mode needs its row first.
func translateDebezium(t *testing.T, path string, extra func(t *testing.T, kv [2]string, set *dbzSettings) bool) dbzSettings {
	t.Helper()
	table := dbzReadTable(t, "../../README.md")
	props, err := testenv.ReadProperties(path)
	if err != nil {
		t.Fatal(err)
	}
	s := dbzSettings{encoding: map[string]string{}, kafka: map[string]string{}}
	for _, kv := range props {
		if strings.HasPrefix(kv[0], "quarkus.") {
			continue // Debezium Server's own HTTP endpoint and logging
		}
		if extra != nil && extra(t, kv, &s) {
			continue
		}
		r, ok := table.row(dbzPropertyName(kv[0]))
		if !ok {
			t.Fatalf("%s: property %s has no row in README's Debezium property table", path, kv[0])
		}
		switch key := r.key; {
		case key == "topic_prefix":
			s.prefix = kv[1]
		case strings.HasPrefix(key, "encoding."):
			k := strings.TrimPrefix(key, "encoding.")
			if old, ok := s.encoding[k]; ok && old != kv[1] {
				t.Fatalf("%s: %s=%s, but %s is already %s (sluice has one key for both)", path, kv[0], kv[1], key, old)
			}
			s.encoding[k] = kv[1]
		case strings.HasPrefix(key, "sinks.kafka.") && key != "sinks.kafka.brokers":
			s.kafka[strings.TrimPrefix(key, "sinks.kafka.")] = kv[1]
		}
	}
	if s.prefix == "" {
		t.Fatalf("%s: no debezium.source.topic.prefix", path)
	}
	return s
}

// dbzRun is one source's side of the comparison.
type dbzRun struct {
	source string // "postgres" or "mariadb" (the directory names)
	// fixtures is the directory under testdata/debezium whose
	// schema.sql, snapshot.sql and stream.sql run: the source's name,
	// or another set ("postgres-outbox"); prepare reads it when called.
	fixtures string
	// prepare makes a fresh database dbz and runs schema.sql and
	// snapshot.sql in it; it returns the connection stream.sql runs on
	// (the fixtures' session settings stay in effect).
	prepare func(t *testing.T) dbzConn
	// sourceBlock is the YAML of the pipeline's source (no indentation).
	sourceBlock func() string
	// drop removes what prepare and the daemon made (slot, database).
	drop func(t *testing.T)
}

// dbzConn runs one statement on the fixture's session.
type dbzConn func(stmt string) error

func TestDebeziumGolden(t *testing.T) {
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	seen := map[string]bool{} // source/mode runs that completed
	suite := &dbzGoldenSuite
	used := make([]bool, len(knownDebeziumDiffs))
	var matrix []string
	for _, source := range []string{"postgres", "mariadb"} {
		t.Run(source, func(t *testing.T) {
			var run *dbzRun
			if source == "postgres" {
				run = dbzPostgres(t, dbzDatabase, dbzPipeline, "sluice.TestDebeziumGolden")
			} else {
				run = dbzMariaDB(t)
			}
			modes, err := os.ReadDir(filepath.Join(dbzGoldenDir, source))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range modes {
				if !m.IsDir() {
					continue
				}
				mode := m.Name()
				t.Run(mode, func(t *testing.T) {
					owners, unknown := runDebeziumMode(t, suite, run, brokers, mode, used)
					seen[source+"/"+mode] = true
					status := "identical"
					if len(owners) > 0 {
						var parts []string
						for _, o := range dbzKeys(owners) {
							parts = append(parts, fmt.Sprintf("%s %d", o, owners[o]))
						}
						status = "known differences: " + strings.Join(parts, ", ")
					}
					if unknown > 0 {
						status = fmt.Sprintf("%d UNEXPECTED differences; %s", unknown, status)
					}
					matrix = append(matrix, fmt.Sprintf("%-8s %-22s %s", source, mode, status))
				})
			}
		})
	}
	sort.Strings(matrix)
	t.Logf("Debezium comparison, source × mode:\n  %s", strings.Join(matrix, "\n  "))
	// An entry that covered no difference in any run it applies to is
	// stale: the difference is gone and the entry must go too.
	for i, k := range knownDebeziumDiffs {
		ran := false
		for run := range seen {
			src, mode, _ := strings.Cut(run, "/")
			if testenv.Glob(k.Source, src) && testenv.Glob(k.Mode, mode) {
				ran = true
			}
		}
		if ran && !used[i] {
			t.Errorf("knownDebeziumDiffs[%d] (%s %s %s %s: %s) matched no difference: remove it", i, k.Source, k.Mode, k.Topic, k.Path, k.Why)
		}
	}
}

// runDebeziumMode runs one recorded mode and compares; it returns the
// number of known differences per owning package and the number of
// unexpected ones.
func runDebeziumMode(t *testing.T, suite *dbzSuite, run *dbzRun, brokers, mode string, used []bool) (owners map[string]int, unknown int) {
	owners = map[string]int{}
	dir := filepath.Join(suite.goldenDir, run.source, mode)
	set := translateDebezium(t, filepath.Join(dir, "application.properties"), suite.props)
	files, err := testenv.SortedFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]testenv.Record{}
	for _, f := range files {
		recs, err := testenv.ReadRecorded(f)
		if err != nil {
			t.Fatal(err)
		}
		want[strings.TrimSuffix(filepath.Base(f), ".jsonl")] = recs
	}
	snapshotRows := suite.snapshotRows(t, want)
	endTopic := ""
	for topic := range want {
		if strings.HasSuffix(topic, ".end_marker") {
			endTopic = topic
		}
	}
	if endTopic == "" {
		t.Fatalf("%s: no end_marker topic recorded", dir)
	}

	prefixes := append([]string{set.prefix}, suite.topics...)
	for _, p := range prefixes {
		dbzDeleteTopics(t, brokers, p)
		t.Cleanup(func() { dbzDeleteTopics(t, brokers, p) })
	}
	conn := run.prepare(t)
	t.Cleanup(func() { run.drop(t) })

	e := &env{t: t, name: suite.pipeline, brokers: brokers, dir: t.TempDir()}
	e.writeDebeziumConfig(run.sourceBlock(), set)
	w := dbzWatchTopics(t, brokers, dbzKeys(want))
	d := e.launch()
	w.waitFor(t, d, fmt.Sprintf("%d snapshot rows", snapshotRows), func(recs []testenv.Record) bool {
		n := 0
		for _, r := range recs {
			if suite.isSnapshot(r) {
				n++
			}
		}
		return n >= snapshotRows
	})
	stmts, err := testenv.SQLStatements(filepath.Join(dbzFixtures, run.fixtures, "stream.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if err := conn(s); err != nil {
			t.Fatalf("stream.sql: %s: %v", s, err)
		}
	}
	w.waitFor(t, d, "the end_marker row", func(recs []testenv.Record) bool {
		for _, r := range recs {
			if r.Topic == endTopic {
				return true
			}
		}
		return false
	})
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, d.logs.String())
	}
	var names []string
	for _, p := range prefixes {
		names = append(names, testenv.Topics(t, brokers, p)...)
	}
	got := testenv.ReadTopics(t, brokers, names)
	if *dbzDump != "" {
		dbzDumpTopics(t, filepath.Join(*dbzDump, run.source, mode), got)
	}
	if suite.onRecords != nil {
		suite.onRecords(t, run.source, mode, want, got)
	}

	// Compare, topic by topic.
	var diffs []testenv.RecordDiff
	for _, topic := range dbzUnion(dbzKeys(want), dbzKeys(got)) {
		switch {
		case got[topic] == nil:
			diffs = append(diffs, testenv.RecordDiff{Topic: topic, Want: -1, Got: -1, Diffs: []testenv.JSONDiff{{Path: "-topic", What: "missing", Want: fmt.Sprintf("%d records", len(want[topic]))}}})
		case want[topic] == nil:
			diffs = append(diffs, testenv.RecordDiff{Topic: topic, Want: -1, Got: -1, Diffs: []testenv.JSONDiff{{Path: "+topic", What: "extra", Got: fmt.Sprintf("%d records", len(got[topic]))}}})
		default:
			diffs = append(diffs, testenv.CompareTopicMasked(topic, want[topic], got[topic], "sluice.", suite.mask)...)
		}
	}
	if set.encoding["schemas"] == "true" {
		for _, topic := range dbzKeys(got) {
			for i, r := range got[topic] {
				for what, b := range map[string][]byte{"key": r.Key, "value": r.Value} {
					if b == nil || testenv.IsTransactionTopic(topic) && what == "key" {
						continue
					}
					if err := testenv.ValidateConnect(b); err != nil {
						unknown++
						if unknown <= 5 {
							t.Errorf("%s record %d: the %s does not match its own Connect schema: %v", topic, i, what, err)
						}
					}
				}
			}
		}
	}
	if suite.exact {
		unknown += dbzCompareExact(t, want, got)
	} else {
		unknown += dbzCompareTombstones(t, want, got)
	}
	knownPaths := map[string]int{} // "topic path (owner)" → count, for the log
	firstShown := map[string]bool{}
	for _, rd := range diffs {
		var unexpected []testenv.JSONDiff
		for _, x := range rd.Diffs {
			idx := -1
			for i := range suite.known {
				if suite.known[i].Covers(run.source, mode, rd.Topic, x.Path) {
					idx = i
					break
				}
			}
			if idx >= 0 {
				used[idx] = true
				owners[suite.known[idx].Owner]++
				knownPaths[fmt.Sprintf("%s %s (%s)", rd.Topic, x.Path, suite.known[idx].Owner)]++
				continue
			}
			unexpected = append(unexpected, x)
		}
		if len(unexpected) == 0 {
			continue
		}
		unknown += len(unexpected)
		// Show the first differing record of each topic in full, the
		// others by their differing paths.
		full := !firstShown[rd.Topic]
		firstShown[rd.Topic] = true
		t.Errorf("%s/%s: %s", run.source, mode, rd.Describe(unexpected, full))
	}
	if len(knownPaths) > 0 {
		var lines []string
		for k, n := range knownPaths {
			lines = append(lines, fmt.Sprintf("%s ×%d", k, n))
		}
		sort.Strings(lines)
		t.Logf("known differences:\n  %s", strings.Join(lines, "\n  "))
	}
	return owners, unknown
}

// writeDebeziumConfig writes the daemon's YAML for one mode: pipeline
// dbzgolden with the mode's topic prefix and encoding, and a kafka sink
// making one-partition topics.
func (e *env) writeDebeziumConfig(source string, set dbzSettings) {
	e.t.Helper()
	var enc, kafka strings.Builder
	for _, k := range dbzKeys(set.encoding) {
		fmt.Fprintf(&enc, "      %s: %s\n", k, set.encoding[k])
	}
	for _, k := range dbzKeys(set.kafka) {
		fmt.Fprintf(&kafka, "        %s: %s\n", k, set.kafka[k])
	}
	encoding := "    encoding: {}\n"
	if enc.Len() > 0 {
		encoding = "    encoding:\n" + enc.String()
	}
	if len(set.transforms) > 0 {
		encoding += "    transforms:\n"
		for _, tr := range set.transforms {
			encoding += "      - {" + strings.Join(tr.keys, ", ") + "}\n"
		}
	}
	cfg := fmt.Sprintf(`log: {level: info, format: json}
http: {listen: "127.0.0.1:0"}
state_dir: %q
pipelines:
  %s:
    topic_prefix: %s
%s    source:
%s    sinks:
      kafka:
        brokers: [%s]
        linger: 1ms
        topic_creation: {partitions: 1}
%s`, filepath.Join(e.dir, "state"), e.name, set.prefix, encoding, indent(source, 6), e.brokers, kafka.String())
	e.cfgPath = filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// dbzDeleteTopics deletes the topics named prefix or prefix.* and waits
// until the broker no longer lists them, so that the next run creates
// them afresh.
func dbzDeleteTopics(t *testing.T, brokers, prefix string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names := testenv.Topics(t, brokers, prefix)
	if len(names) == 0 {
		return
	}
	if _, err := adm.DeleteTopics(ctx, names...); err != nil {
		t.Fatalf("delete topics %v: %v", names, err)
	}
	for len(testenv.Topics(t, brokers, prefix)) > 0 {
		if ctx.Err() != nil {
			t.Fatalf("topics %v still listed a minute after their deletion", names)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dbzTopicWatch collects the records of topics as they arrive, so a test can
// wait for the ones it needs instead of for time.
type dbzTopicWatch struct {
	mu     sync.Mutex
	recs   []testenv.Record
	notify chan struct{}
}

func dbzWatchTopics(t *testing.T, brokers string, topics []string) *dbzTopicWatch {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond),
		kgo.MetadataMinAge(100*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	w := &dbzTopicWatch{notify: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			n := 0
			fs.EachRecord(func(r *kgo.Record) {
				w.mu.Lock()
				w.recs = append(w.recs, testenv.Record{Topic: r.Topic, Offset: r.Offset, Key: r.Key, Value: r.Value})
				w.mu.Unlock()
				n++
			})
			if n > 0 {
				select {
				case w.notify <- struct{}{}:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
	})
	return w
}

// waitFor waits until cond holds for the records seen so far; it fails
// when the daemon exits first or after three minutes.
func (w *dbzTopicWatch) waitFor(t *testing.T, d *daemon, what string, cond func([]testenv.Record) bool) {
	t.Helper()
	timeout := time.After(3 * time.Minute)
	for {
		w.mu.Lock()
		ok := cond(w.recs)
		n := len(w.recs)
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-w.notify:
		case err := <-d.done:
			d.done <- err
			t.Fatalf("sluice exited (%v) while waiting for %s:\n%s", err, what, d.logs.String())
		case <-timeout:
			t.Fatalf("waited 3m for %s; %d records arrived:\n%s", what, n, d.logs.String())
		}
	}
}

func dbzDumpTopics(t *testing.T, dir string, got map[string][]testenv.Record) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for topic, recs := range got {
		if err := os.WriteFile(filepath.Join(dir, topic+".jsonl"), testenv.JSONLines(recs), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func dbzKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dbzUnion(a, b []string) []string {
	set := map[string]bool{}
	for _, s := range append(append([]string{}, a...), b...) {
		set[s] = true
	}
	return dbzKeys(set)
}
