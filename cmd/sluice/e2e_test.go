package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// binary is the sluice executable the end-to-end tests run, built once.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "sluice-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sluice")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sluice: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one end-to-end scenario: a pipeline named after the test with
// its own slot, publication, tables and topics.
type env struct {
	t       *testing.T
	name    string
	pgDSN   string
	brokers string
	db      *pgx.Conn
	cfgPath string
	dir     string
	// admin is the daemon's admin address ("host:port"); empty lets the
	// daemon pick a free port.
	admin string
}

func newEnv(t *testing.T, ddl string) *env {
	t.Helper()
	return newEnvDSN(t, testenv.Get(t, "SLUICE_TEST_PG_DSN"), ddl)
}

// newEnvDSN is newEnv on the database of dsn.
func newEnvDSN(t *testing.T, dsn, ddl string) *env {
	t.Helper()
	e := &env{t: t, pgDSN: dsn, brokers: testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), dir: t.TempDir()}
	e.name = strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(t.Name(), "")) + fmt.Sprint(time.Now().UnixNano()%100000)
	ctx := context.Background()
	// Postgres may still be coming back from a previous test's restart.
	var db *pgx.Conn
	var err error
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if db, err = pgx.Connect(ctx, e.pgDSN); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	e.exec(ddl)
	t.Cleanup(func() {
		e.reconnect() // Postgres may have restarted since
		testenv.DropSlot(t, e.db, "sluice_"+e.name)
		e.db.Exec(ctx, "DROP PUBLICATION IF EXISTS sluice_"+e.name)
		e.db.Close(ctx)
	})
	return e
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		var conn *pgx.Conn
		if conn, err = pgx.Connect(context.Background(), e.pgDSN); err == nil {
			_, err = conn.Exec(context.Background(), sql, args...)
			conn.Close(context.Background())
			if err == nil {
				return
			}
		}
		time.Sleep(200 * time.Millisecond) // Postgres may be restarting
	}
	e.t.Fatalf("%s: %v", sql, err)
}

// writeConfig writes a postgres → kafka pipeline; srcExtra is added to
// the source block and sinkExtra to the kafka sink's block (YAML flow
// maps, e.g. "snapshot: {mode: never}").
func (e *env) writeConfig(tables []string, srcExtra, sinkExtra string) {
	e.t.Helper()
	e.writePipeline(fmt.Sprintf("type: postgres\n      dsn: %s\n      tables: [%s]\n      status_interval: 1s",
		e.pgDSN, strings.Join(tables, ", ")), srcExtra, sinkExtra)
}

// writePipeline writes the daemon's YAML: one pipeline, named after the
// test, from the source block source and srcExtra (YAML lines at the
// source's indentation) to a kafka sink with sinkExtra in its block.
func (e *env) writePipeline(source, srcExtra, sinkExtra string) {
	e.t.Helper()
	admin := e.admin
	if admin == "" {
		admin = "127.0.0.1:0"
	}
	cfg := fmt.Sprintf(`log: {level: info, format: json}
http: {listen: %q}
state_dir: %s
pipelines:
  %s:
    source:
      %s
      drain_timeout: 20s
      %s
    sinks:
      kafka:
        brokers: [%s]
        linger: 1ms
        topic_creation: {partitions: 3}
        %s
`, admin, filepath.Join(e.dir, "state"), e.name, source, srcExtra, e.brokers, sinkExtra)
	e.cfgPath = filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// daemon is a running `sluice run`.
type daemon struct {
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan error
}

func (e *env) start() *daemon {
	e.t.Helper()
	d := e.launch()
	e.waitSlotActive(d)
	return d
}

// launch starts `sluice run` on the config file (launchDaemon).
func (e *env) launch() *daemon {
	e.t.Helper()
	return launchDaemon(e.t, e.cfgPath, "sluice")
}

// launchDaemon starts `sluice run` on a config file; the test's cleanup
// kills it if it still runs and prints its output, under name, if the
// test failed.
func launchDaemon(t *testing.T, cfg, name string) *daemon {
	t.Helper()
	d := &daemon{cmd: exec.Command(binary, "run", "--config", cfg), logs: &bytes.Buffer{}, done: make(chan error, 1)}
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, d.logs.String())
		}
	})
	return d
}

func (e *env) waitSlotActive(d *daemon) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		active, err := testenv.SlotStreaming(context.Background(), e.db, "sluice_"+e.name)
		if err == nil && active {
			return
		}
		if err != nil {
			e.reconnect()
		}
		select {
		case err := <-d.done:
			e.t.Fatalf("sluice exited early (%v):\n%s", err, d.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	e.t.Fatalf("replication slot never became active:\n%s", d.logs.String())
}

func (e *env) reconnect() {
	if db, err := pgx.Connect(context.Background(), e.pgDSN); err == nil {
		e.db.Close(context.Background())
		e.db = db
	}
}

// stop sends sig and waits for the exit, returning the exit code.
func (d *daemon) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("sluice did not exit after %v:\n%s", sig, d.logs.String())
	}
	return d.cmd.ProcessState.ExitCode()
}

// record is one consumed Kafka record.
type record struct {
	topic     string
	partition int32
	offset    int64
	key       []byte
	value     []byte
	headers   map[string]string
}

// consume reads topics from the start until want records arrived (or
// the timeout), and returns them in per-partition offset order.
func (e *env) consume(topics []string, want int, timeout time.Duration) []record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.brokers, ",")...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		e.t.Fatal(err)
	}
	defer cl.Close()
	var out []record
	deadline := time.Now().Add(timeout)
	for len(out) < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			out = append(out, record{r.Topic, r.Partition, r.Offset, r.Key, r.Value, h})
		})
	}
	return out
}

// consumeAll reads topics from the start up to the end offsets they have
// now, so the result is everything written so far.
func (e *env) consumeAll(topics []string) []record {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.brokers, ",")...))
	if err != nil {
		e.t.Fatal(err)
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topics...)
	cl.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	want := 0
	ends.Each(func(o kadm.ListedOffset) { want += int(o.Offset) })
	return e.consume(topics, want, 2*time.Minute)
}

var volatile = []*regexp.Regexp{
	regexp.MustCompile(`"(ts_ms|ts_us|ts_ns|txId|lsn)":\d+`),
	regexp.MustCompile(`"sequence":"(\\.|[^"\\])*"`),
	regexp.MustCompile(`"id":"\d+:\d+"`),
}

// normalize blanks run-dependent numbers (times, LSNs, xids) so record
// values can be compared with golden bytes.
func normalize(b []byte) string { return blank(string(b), volatile) }

// blank replaces the value of every "key":value that one of res matches
// with _.
func blank(s string, res []*regexp.Regexp) string {
	for _, re := range res {
		s = re.ReplaceAllStringFunc(s, func(m string) string {
			k, _, _ := strings.Cut(m, ":")
			return k + ":_"
		})
	}
	return s
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("..", "..", "testdata", "golden", "e2e", name), got, *updateGolden)
}
