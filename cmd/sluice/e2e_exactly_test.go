package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The shape of the exactly-once runs: rows inserted once the daemon
// streams, writers of the workload, kills per run.
const (
	eosSeeded = 5000
	eosKills  = 10
)

// eosSink is the kafka sink block of the exactly-once tests: its own
// offsets topic under the pipeline's prefix, so runs sharing a broker do
// not meet and DeleteTopicsAtEnd removes it.
func eosSink(brokers, name string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  linger: 1ms
  topic_creation: {partitions: 3}
  exactly_once: true
  transactions: {offsets_topic: %s.eos_offsets}`, brokers, name)
}

// TestExactlyOnceKillUnderLoad: PostgreSQL and MariaDB → Kafka with
// exactly_once, under a concurrent write workload (multi-row transactions,
// key changes, big transactions), killed with kill -9 ten times at random
// points and restarted. A read_committed consumer sees every change
// exactly once: each key's changes form an unbroken chain (chains), and
// the topic folded by key equals the table.
func TestExactlyOnceKillUnderLoad(t *testing.T) {
	t.Run("postgres", func(t *testing.T) { pgExactlyOnce(t, false) })
	// After an initial snapshot (whose chunks interleave with the stream,
	// so a key's reads and changes do not form one chain): the kills come
	// once the snapshot is stored, and the topic equals the table.
	t.Run("postgres_snapshot", func(t *testing.T) { pgExactlyOnce(t, true) })
	t.Run("mariadb", func(t *testing.T) {
		table := fmt.Sprintf("e2e_myeos_%d", time.Now().UnixNano()%1000000)
		e := newMyEnv(t, "DROP TABLE IF EXISTS "+table, "CREATE TABLE "+table+" (id bigint PRIMARY KEY, v bigint NOT NULL, pad text)")
		t.Cleanup(func() { e.db.Execute("DROP TABLE IF EXISTS " + table) })
		e.admin = freeAddr(t)
		e.writeDaemon(fmt.Sprintf(`type: mysql
dsn: %q
tables: [%s]
heartbeat: 1s
drain_timeout: 20s
snapshot: {mode: never}
offsets: {store: file, flush_interval: 100ms}`, e.dsn, table), eosSink(e.brokers, e.name))
		testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
		d := e.start()
		rows := make([]string, eosSeeded)
		for i := range rows {
			rows[i] = fmt.Sprintf("(%d, 0, 'seed')", i+1)
		}
		e.exec("INSERT INTO " + table + " (id, v, pad) VALUES " + strings.Join(rows, ", "))
		e.exactlyOnceUnderKills(t, d, table, e.name+".sluice."+table, e.launch, e.myConnect, func() map[int64]int64 {
			return e.myTableState(t, table)
		}, nil)
	})
}

// pgExactlyOnce is TestExactlyOnceKillUnderLoad on PostgreSQL: the rows
// are inserted once the daemon streams, or, with snapshot, before it
// starts, for its initial snapshot to read.
func pgExactlyOnce(t *testing.T, snapshot bool) {
	table := fmt.Sprintf("e2e_eos_%d", time.Now().UnixNano()%1000000)
	seed := fmt.Sprintf("INSERT INTO %s SELECT g, 0, 'seed' FROM generate_series(1, %d) g", table, eosSeeded)
	ddl := fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s; CREATE TABLE %[1]s (id bigint PRIMARY KEY, v bigint NOT NULL, pad text);
		ALTER TABLE %[1]s REPLICA IDENTITY FULL`, table)
	mode := "{mode: never}"
	if snapshot {
		ddl += "; " + seed
		mode = "{mode: initial, chunk_size: 500}"
	}
	e := newEnv(t, ddl)
	t.Cleanup(func() { e.exec("DROP TABLE IF EXISTS " + table) })
	e.admin = freeAddr(t)
	e.writeDaemon(fmt.Sprintf(`type: postgres
dsn: %q
tables: [public.%s]
status_interval: 1s
drain_timeout: 20s
snapshot: %s`, e.pgDSN, table, mode), eosSink(e.brokers, e.name))
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	var d *daemon
	var stored func() bool
	if snapshot {
		d, stored = e.launch(), e.snapshotDone
	} else {
		d = e.start()
		e.exec(seed)
	}
	e.exactlyOnceUnderKills(t, d, table, e.name+".public."+table, e.launch, e.pgConnect, func() map[int64]int64 {
		if snapshot {
			e.waitUntil(t, "the initial snapshot to finish", 3*time.Minute, e.snapshotDone)
		}
		e.caughtUp(t)
		return e.tableState(t, table)
	}, stored)
}

// exactlyOnceUnderKills runs the workload on table under kills of the
// daemon d, then checks topic read_committed against the table's final
// state (from final, once the workload stopped). With snapshotStored the
// daemon starts with an initial snapshot: the first kill waits until it
// is stored, and the chains are not checked (reads interleave with
// changes); else every change must arrive exactly once.
func (e *env) exactlyOnceUnderKills(t *testing.T, d *daemon, table, topic string, start func() *daemon,
	connect func() (testenv.SQLConn, error), final func() map[int64]int64, snapshotStored func() bool) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)
	began := time.Now()
	e.waitEvents(t, d, eosSeeded)
	w := testenv.StartWorkload(t, table, eosSeeded, killWriters, seed, connect)
	stored := snapshotStored
	if stored == nil {
		stored = func() bool { return true }
	}
	d, events := e.killUnderLoadN(t, rng, w, d, start, eosKills, false, stored)
	e.waitEvents(t, d, 500)
	stats := w.Stop()
	want := final()
	fold := e.foldCommitted(t, topic)
	got := fold.until(want, 3*time.Minute)
	events += e.eventsSeen(t)
	missing, stale, resurrected := stateDiff(got, want)
	t.Logf("%d kills, %d events handed to the sink, %d records read_committed; workload %v; %d rows at the end: %d missing, %d stale, %d resurrected; %d chain breaks (%v)",
		eosKills, int64(events), fold.records, stats, len(want), missing, stale, resurrected, fold.chain.breaks, time.Since(began).Round(time.Second))
	testenv.SameState(t, got, want)
	if fold.chain.breaks != 0 && snapshotStored == nil {
		t.Errorf("%d changes read twice or missing; the first: %s", fold.chain.breaks, strings.Join(fold.chain.first, "; "))
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// TestExactlyOnceZombie: a daemon paused with SIGSTOP while a successor
// (same pipeline, so the same transactional id) takes over cannot commit
// anything once resumed: it stops with the fencing error, and a
// read_committed consumer sees every change exactly once. sluice drop
// then removes the committed position.
func TestExactlyOnceZombie(t *testing.T) {
	table := fmt.Sprintf("e2e_myzombie_%d", time.Now().UnixNano()%1000000)
	e := newMyEnv(t, "DROP TABLE IF EXISTS "+table, "CREATE TABLE "+table+" (id bigint PRIMARY KEY, v bigint NOT NULL, pad text)")
	t.Cleanup(func() { e.db.Execute("DROP TABLE IF EXISTS " + table) })
	source := fmt.Sprintf(`type: mysql
dsn: %q
tables: [%s]
heartbeat: 1s
drain_timeout: 5s
snapshot: {mode: never}
offsets: {store: file, flush_interval: 100ms}`, e.dsn, table)
	e.admin = freeAddr(t)
	e.writeDaemon(source, eosSink(e.brokers, e.name))
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	old := e.start()
	insert := func(from, to int) {
		var rows []string
		for i := from; i <= to; i++ {
			rows = append(rows, fmt.Sprintf("(%d, 0, 'r')", i))
		}
		e.exec("INSERT INTO " + table + " (id, v, pad) VALUES " + strings.Join(rows, ", "))
	}
	topic := e.name + ".sluice." + table
	fold := e.foldCommitted(t, topic)
	insert(1, 1000)
	testenv.SameState(t, fold.until(e.myTableState(t, table), 2*time.Minute), e.myTableState(t, table))
	if err := old.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	cont := func() { old.cmd.Process.Signal(syscall.SIGCONT) }
	t.Cleanup(cont)
	// Changes the successor must write once, starting after what the
	// paused daemon committed.
	e.exec("UPDATE " + table + " SET v = v + 1 WHERE id <= 500")

	// The successor: its own admin port and offsets file, the same
	// transactional id.
	oldCfg := e.cfgPath
	e.admin = freeAddr(t)
	e.dir = filepath.Join(e.dir, "successor")
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeDaemon(source, eosSink(e.brokers, e.name))
	successor := e.start()
	insert(1001, 2000)
	want := e.myTableState(t, table)
	got := fold.until(want, 2*time.Minute)
	testenv.SameState(t, got, want)
	series := fmt.Sprintf(`sluice_kafka_sink_transactions_total{pipeline=%q,result="committed",sink="kafka"}`, e.name)
	if n := e.metric(t, series); n < 1 {
		t.Errorf("%s = %v, want the successor's commits counted", series, n)
	}

	cont()
	select {
	case <-old.done:
		if code := old.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(old.logs.String(), "fenced") {
			t.Errorf("the resumed daemon exited %d, want 1 with the fencing error:\n%s", code, old.logs.String())
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("the resumed daemon still runs 90s later:\n%s", old.logs.String())
	}
	e.exec("UPDATE " + table + " SET v = v + 1 WHERE id > 1500")
	want = e.myTableState(t, table)
	got = fold.until(want, 2*time.Minute)
	testenv.SameState(t, got, want)
	if fold.chain.breaks != 0 {
		t.Errorf("%d changes read twice or missing; the first: %s", fold.chain.breaks, strings.Join(fold.chain.first, "; "))
	}
	if code := successor.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("successor: exit code %d after SIGTERM", code)
	}

	// sluice drop removes the committed position, with the offsets file.
	out, err := exec.Command(binary, "drop", "--config", oldCfg, "--pipeline", e.name, "--yes").CombinedOutput()
	if err != nil {
		t.Fatalf("sluice drop: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("removed: exactly-once position Kafka topic %s.eos_offsets, key sluice-%s-kafka", e.name, e.name); !strings.Contains(string(out), want) {
		t.Errorf("sluice drop printed\n%s\nwant a line %q", out, want)
	}
	out, _ = exec.Command(binary, "drop", "--config", oldCfg, "--pipeline", e.name).CombinedOutput()
	if strings.Contains(string(out), "exactly-once position") {
		t.Errorf("the position is still there after sluice drop:\n%s", out)
	}
}
