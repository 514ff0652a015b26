package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// snapshotDone reports whether the pipeline's state file records a
// finished initial snapshot with no work left.
func (e *env) snapshotDone() bool {
	b, err := os.ReadFile(filepath.Join(e.dir, "state", e.name+".postgres.json"))
	if err != nil {
		return false
	}
	var st struct {
		InitialDone bool              `json:"initial_done"`
		Jobs        []json.RawMessage `json:"jobs"`
	}
	return json.Unmarshal(b, &st) == nil && st.InitialDone && len(st.Jobs) == 0
}

func (e *env) waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// caughtUp waits until the slot confirmed everything written so far.
func (e *env) caughtUp(t *testing.T) {
	t.Helper()
	e.reconnect()
	lsn, err := testenv.WALFlushed(context.Background(), e.db)
	if err != nil {
		t.Fatal(err)
	}
	e.waitUntil(t, "the stream to catch up", 2*time.Minute, func() bool {
		var ok bool
		err := e.db.QueryRow(context.Background(), "SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1",
			"sluice_"+e.name, lsn).Scan(&ok)
		return err == nil && ok
	})
}

// kafkaState replays the topic's records into the latest row per key,
// the way a compacting consumer would, and counts snapshot reads.
func (e *env) kafkaState(t *testing.T, topic string) (state map[int64]int64, reads int) {
	t.Helper()
	recs := e.consumeAll([]string{topic})
	state = map[int64]int64{}
	for _, r := range recs {
		if r.value == nil {
			continue // tombstone
		}
		var v struct {
			Op     string `json:"op"`
			Before *struct {
				ID int64 `json:"id"`
			} `json:"before"`
			After *struct {
				ID int64 `json:"id"`
				V  int64 `json:"v"`
			} `json:"after"`
		}
		if err := json.Unmarshal(r.value, &v); err != nil {
			t.Fatalf("%s: %v", r.value, err)
		}
		switch v.Op {
		case "r", "c", "u":
			state[v.After.ID] = v.After.V
			if v.Op == "r" {
				reads++
			}
		case "d":
			delete(state, v.Before.ID)
		}
	}
	return state, reads
}

func (e *env) tableState(t *testing.T, table string) map[int64]int64 {
	t.Helper()
	e.reconnect()
	return testenv.TableState(t, e.db, table)
}

// TestInitialSnapshotUnderWrites: 200,000 existing rows are snapshotted
// while a writer inserts, updates and deletes; afterwards the latest row
// per key in Kafka equals the table.
func TestInitialSnapshotUnderWrites(t *testing.T) {
	const n = 200000
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_snap; CREATE TABLE e2e_snap (id int PRIMARY KEY, v bigint NOT NULL, pad text);
		INSERT INTO e2e_snap SELECT g, 0, repeat('p', 60) FROM generate_series(1, 200000) g`)
	e.writeConfig([]string{"public.e2e_snap"}, "snapshot: {mode: initial, chunk_size: 5000, workers: 2}", "")
	start := time.Now()
	d := e.start()
	var stop atomic.Bool
	writes := testenv.Churn(t, e.pgDSN, "e2e_snap", n, &stop)
	e.waitUntil(t, "the snapshot", 5*time.Minute, e.snapshotDone)
	took := time.Since(start)
	stop.Store(true)
	w := <-writes
	e.caughtUp(t)
	kafka, reads := e.kafkaState(t, e.name+".public.e2e_snap")
	t.Logf("snapshot of %d rows with %d concurrent writes: %d reads in %v (%.0f rows/s to Kafka)", n, w, reads, took.Round(time.Millisecond), float64(reads)/took.Seconds())
	testenv.SameState(t, kafka, e.tableState(t, "e2e_snap"))
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestSnapshotResumesAfterKill: kill -9 in the middle of a snapshot; the
// restart resumes after the last acknowledged chunk instead of reading the
// table again, and the final state is exact. The kill is timed by the
// snapshot's progress on /metrics.
func TestSnapshotResumesAfterKill(t *testing.T) {
	const n = 200000
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_resume; CREATE TABLE e2e_resume (id int PRIMARY KEY, v bigint NOT NULL, pad text);
		INSERT INTO e2e_resume SELECT g, 0, repeat('p', 60) FROM generate_series(1, 200000) g; ANALYZE e2e_resume`)
	e.admin = freeAddr(t)
	e.writeConfig([]string{"public.e2e_resume"}, "snapshot: {mode: initial, chunk_size: 2000}", "")
	topic := e.name + ".public.e2e_resume"
	d := e.start()
	series := `{kind="initial",pipeline="` + e.name + `",table="public.e2e_resume"}`
	var rows float64
	e.waitUntil(t, "60,000 snapshot rows on /metrics", 2*time.Minute, func() bool {
		rows = e.metric(t, "sluice_snapshot_rows"+series)
		return rows >= 60000
	})
	estimate, done := e.metric(t, "sluice_snapshot_rows_estimated"+series), e.metric(t, "sluice_snapshot_done"+series)
	d.stop(t, syscall.SIGKILL)
	if estimate < 0.9*n || estimate > 1.1*n || done != 0 {
		t.Errorf("/metrics at %.0f rows: estimate %.0f, done %.0f; want about the table's %d rows and 0", rows, estimate, done, n)
	}
	if e.snapshotDone() {
		t.Fatal("the snapshot finished before the kill: nothing to resume")
	}
	e.exec(`UPDATE e2e_resume SET v = v + 1 WHERE id % 1000 = 0`)
	e.start()
	e.waitUntil(t, "the resumed snapshot", 5*time.Minute, e.snapshotDone)
	e.caughtUp(t)
	kafka, reads := e.kafkaState(t, topic)
	reread := reads - n
	t.Logf("%d rows, %d snapshot reads in total: %d re-read after kill -9", n, reads, reread)
	if reread < 0 || reread > n/2 {
		t.Errorf("re-read %d rows: the restart did not resume from the last acknowledged chunk", reread)
	}
	testenv.SameState(t, kafka, e.tableState(t, "e2e_resume"))
}

// TestSnapshotCommand: `sluice snapshot --table … --where …` makes the
// running daemon re-read the matching rows as incremental snapshot reads.
func TestSnapshotCommand(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_adhoc; CREATE TABLE e2e_adhoc (id int PRIMARY KEY, v bigint NOT NULL);
		INSERT INTO e2e_adhoc SELECT g, g FROM generate_series(1, 500) g; DROP TABLE IF EXISTS e2e_signal`)
	e.writeConfig([]string{"public.e2e_adhoc"}, "snapshot: {mode: never}\n      signal_table: public.e2e_signal", "")
	d := e.start()
	out, err := exec.Command(binary, "snapshot", "--config", e.cfgPath, "--table", "public.e2e_adhoc", "--where", "id <= 100").CombinedOutput()
	if err != nil {
		t.Fatalf("sluice snapshot: %v\n%s", err, out)
	}
	recs := e.consume([]string{e.name + ".public.e2e_adhoc"}, 100, time.Minute)
	incremental := 0
	for _, r := range recs {
		if strings.Contains(string(r.value), `"snapshot":"incremental"`) && strings.Contains(string(r.value), `"op":"r"`) {
			incremental++
		}
	}
	if incremental != 100 {
		t.Fatalf("got %d incremental snapshot reads, want the 100 rows with id <= 100", incremental)
	}
	d.stop(t, syscall.SIGTERM)
}

// freeAddr is a loopback address with a port free at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
}

// metric is the value of one series on the daemon's /metrics (e.admin),
// or -1 while the endpoint or the series is not there.
func (e *env) metric(t *testing.T, series string) float64 {
	t.Helper()
	return metricAt(t, e.admin, series)
}

// metricAt is the value of one series on the /metrics of the daemon
// whose admin endpoints listen on addr, or -1 while the endpoint or the
// series is not there.
func metricAt(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("/metrics: %q: %v", line, err)
			}
			return f
		}
	}
	return -1
}
