package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The shape of the kill -9 runs: rows in the table before the daemon
// starts (its initial snapshot reads them, in chunks of 500), writers of
// the workload, and kills per run.
const (
	killSeeded  = 20000
	killWriters = 2
	killKills   = 4
)

// killUnderLoad kills the daemon d with kill -9 kills times while the
// workload w writes, and starts it again with start each time. With
// duringSnapshot the first kill falls into the initial snapshot (after a
// random number of events below the table's rows); else the first kill
// waits until snapshotStored reports the snapshot stored as finished.
// The other kills come once the daemon handed a random number of events
// to its sinks (from its /metrics). A restart follows at once or after the
// workload committed some more transactions (a backlog to read; always
// after a kill during the snapshot). It returns the running daemon and the
// events the killed daemons had handed to their sinks.
func (e *env) killUnderLoad(t *testing.T, rng *rand.Rand, w *testenv.Workload, d *daemon, start func() *daemon,
	duringSnapshot bool, snapshotStored func() bool) (*daemon, float64) {
	t.Helper()
	return e.killUnderLoadN(t, rng, w, d, start, killKills, duringSnapshot, snapshotStored)
}

// killUnderLoadN is killUnderLoad with kills kills.
func (e *env) killUnderLoadN(t *testing.T, rng *rand.Rand, w *testenv.Workload, d *daemon, start func() *daemon,
	kills int, duringSnapshot bool, snapshotStored func() bool) (*daemon, float64) {
	t.Helper()
	var events float64
	for k := 1; k <= kills; k++ {
		var seen float64
		if k == 1 && duringSnapshot {
			seen = e.waitEvents(t, d, float64(killSeeded/20+rng.IntN(killSeeded/2)))
		} else {
			if k == 1 {
				e.waitUntil(t, "the initial snapshot to be stored", 3*time.Minute, snapshotStored)
			}
			seen = e.waitEvents(t, d, float64(2000+rng.IntN(18000)))
		}
		stored := snapshotStored()
		d.stop(t, syscall.SIGKILL)
		events += seen
		backlog := int64(0)
		switch {
		case k == 1 && duringSnapshot:
			// Down for a while mid-snapshot: rows the snapshot already
			// delivered are changed and deleted meanwhile.
			backlog = int64(300 + rng.IntN(500))
		case rng.IntN(2) == 0:
			backlog = int64(50 + rng.IntN(500))
		}
		w.WaitTxs(backlog)
		t.Logf("kill -9 #%d after %.0f events (snapshot stored: %v; workload at %d transactions); restart after %d more transactions",
			k, seen, stored, w.Txs(), backlog)
		d = start()
	}
	return d, events
}

// TestMySQLKafkaKillUnderLoad: MariaDB → Kafka under a concurrent write
// workload (inserts, updates, deletes, key changes, transactions that
// change a row several times, big transactions), killed with kill -9
// several times at varying points (the first one during the initial
// snapshot, or after it) and restarted. Once the workload stops and the
// daemon caught up, the topic folded by key (tombstones delete) equals
// the table: no row missing, none stale, none resurrected.
func TestMySQLKafkaKillUnderLoad(t *testing.T) {
	for _, c := range []string{"during_snapshot", "streaming"} {
		t.Run(c, func(t *testing.T) { mysqlKafkaKillUnderLoad(t, c == "during_snapshot") })
	}
}

func mysqlKafkaKillUnderLoad(t *testing.T, duringSnapshot bool) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	// Names of their own: other runs of the test may share the server.
	table := fmt.Sprintf("e2e_mykill_%d", time.Now().UnixNano()%1000000)
	rows := make([]string, killSeeded)
	for i := range rows {
		rows[i] = fmt.Sprintf("(%d, 0, 'seed')", i+1)
	}
	e := newMyEnv(t, "DROP TABLE IF EXISTS "+table,
		"CREATE TABLE "+table+" (id bigint PRIMARY KEY, v bigint NOT NULL, pad text)",
		"INSERT INTO "+table+" (id, v, pad) VALUES "+strings.Join(rows, ", "))
	t.Cleanup(func() { e.db.Execute("DROP TABLE IF EXISTS " + table) })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.admin = freeAddr(t)
	e.writeDaemon(fmt.Sprintf(`type: mysql
dsn: %q
tables: [%s]
heartbeat: 1s
drain_timeout: 20s
snapshot: {mode: initial, chunk_size: 500}
offsets: {store: file, flush_interval: 100ms}`, e.dsn, table), fmt.Sprintf(`kafka:
  brokers: [%s]
  linger: 1ms
  topic_creation: {partitions: 3}`, e.brokers))
	snapshotStored := func() bool {
		b, err := os.ReadFile(filepath.Join(e.dir, "state", e.name+".mysql.json"))
		var off struct {
			SnapshotDone bool `json:"snapshot_done"`
		}
		return err == nil && json.Unmarshal(b, &off) == nil && off.SnapshotDone
	}
	start := time.Now()
	// Not e.start, which waits for the stream: a kill may fall into the
	// initial snapshot, before it.
	d := e.launch()
	w := testenv.StartWorkload(t, table, killSeeded, killWriters, seed, e.myConnect)

	d, events := e.killUnderLoad(t, rng, w, d, e.launch, duringSnapshot, snapshotStored)
	e.waitEvents(t, d, 500) // the last daemon streams under load too
	stats := w.Stop()
	e.waitUntil(t, "the initial snapshot to finish", 3*time.Minute, snapshotStored)

	want := e.myTableState(t, table)
	topic := e.name + ".sluice." + table
	fold := e.foldTopics(t, topic)
	got := fold.until(want, 3*time.Minute)
	events += e.eventsSeen(t)
	missing, stale, resurrected := stateDiff(got, want)
	t.Logf("%d kills, %d events handed to sinks, %d records on the topic; workload %v; %d rows at the end: %d missing, %d stale, %d resurrected (%v)",
		killKills, int64(events), fold.records, stats, len(want), missing, stale, resurrected, time.Since(start).Round(time.Second))
	testenv.SameState(t, got, want)
	if t.Failed() {
		e.explainKeys(t, topic, diffKeys(got, want))
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// TestPostgresElasticsearchKillUnderLoad: PostgreSQL → Elasticsearch under
// the same workload (with TOAST values later updates leave unchanged),
// killed with kill -9 several times at varying points (the first one
// during the initial snapshot, or after it) and restarted. Once the
// workload stops and the slot confirmed everything written, the index
// equals the table: no document missing, none stale, none resurrected.
func TestPostgresElasticsearchKillUnderLoad(t *testing.T) {
	for _, c := range []string{"during_snapshot", "streaming"} {
		t.Run(c, func(t *testing.T) { postgresElasticsearchKillUnderLoad(t, c == "during_snapshot") })
	}
}

func postgresElasticsearchKillUnderLoad(t *testing.T, duringSnapshot bool) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	table := fmt.Sprintf("e2e_eskill_%d", time.Now().UnixNano()%1000000)
	e := newEnv(t, fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s (id bigint PRIMARY KEY, v bigint NOT NULL, pad text);
		INSERT INTO %[1]s SELECT g, 0, 'seed' FROM generate_series(1, %[2]d) g`, table, killSeeded))
	t.Cleanup(func() { e.exec("DROP TABLE IF EXISTS " + table) })
	es := testenv.NewES(t, e.name)
	e.admin = freeAddr(t)
	e.writeDaemon(fmt.Sprintf(`type: postgres
dsn: %q
tables: [public.%s]
status_interval: 1s
drain_timeout: 20s
snapshot: {mode: initial, chunk_size: 500}`, e.pgDSN, table), fmt.Sprintf(`elasticsearch:
  urls: [%s]
  state_index: %s-state
  bulk: {flush_interval: 50ms}
  retry: {initial_backoff: 50ms, max_backoff: 1s}`, es.URL, e.name))
	start := time.Now()
	d := e.launch()
	w := testenv.StartWorkload(t, table, killSeeded, killWriters, seed, e.pgConnect)

	d, events := e.killUnderLoad(t, rng, w, d, e.launch, duringSnapshot, e.snapshotDone)
	e.waitEvents(t, d, 500)
	stats := w.Stop()

	// The snapshot may still read chunks the kills interrupted; then the
	// slot confirms only what Elasticsearch acknowledged.
	e.waitUntil(t, "the initial snapshot to finish", 3*time.Minute, e.snapshotDone)
	e.caughtUp(t)
	want := e.tableState(t, table)
	got := esState(t, es, e.name+".public."+table)
	events += e.eventsSeen(t)
	missing, stale, resurrected := stateDiff(got, want)
	t.Logf("%d kills, %d events handed to sinks; workload %v; %d rows at the end: %d missing, %d stale, %d resurrected (%v)",
		killKills, int64(events), stats, len(want), missing, stale, resurrected, time.Since(start).Round(time.Second))
	testenv.SameState(t, got, want)
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}
