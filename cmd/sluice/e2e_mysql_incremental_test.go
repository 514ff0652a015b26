package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// myIncState is what the MySQL source's offset file says about its
// incremental snapshot jobs.
type myIncState struct {
	Incremental *struct {
		Jobs []struct {
			Table   string `json:"table"`
			LastKey []struct {
				T string `json:"t"`
			} `json:"last_key"`
			Rows   int64  `json:"rows"`
			Done   bool   `json:"done"`
			Failed bool   `json:"failed"`
			Error  string `json:"error"`
		} `json:"jobs"`
	} `json:"incremental"`
}

// incJob reads the first incremental job from the offset file; ok is
// false while there is none.
func (e *myEnv) incJob(t *testing.T) (rows, lastKey int64, done, ok bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "state", e.name+".mysql.json"))
	if err != nil {
		return 0, 0, false, false
	}
	var st myIncState
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, 0, false, false // written by rename: a torn read cannot happen, an old one can
	}
	if st.Incremental == nil || len(st.Incremental.Jobs) == 0 {
		return 0, 0, false, false
	}
	j := st.Incremental.Jobs[0]
	if j.Failed {
		t.Fatalf("the incremental snapshot failed: %s", j.Error)
	}
	if len(j.LastKey) == 1 {
		lastKey, _ = strconv.ParseInt(j.LastKey[0].T, 10, 64)
	}
	return j.Rows, lastKey, j.Done, true
}

// TestMySQLIncrementalSnapshotKill: the daemon streams a MariaDB table of
// 200,000 rows under a concurrent write workload; `sluice snapshot`
// (through the source's signal table: the daemon's admin endpoint is
// off) starts an incremental snapshot of it; the daemon is killed with
// kill -9 in the middle of the snapshot and restarted. The snapshot
// resumes after its last acknowledged chunk (no key up to the saved one
// is read twice), and once the workload stopped and the daemon caught
// up, the topic folded by key equals the table, with no "r" record older
// than a change of its key before it.
func TestMySQLIncrementalSnapshotKill(t *testing.T) {
	const seeded = 200_000
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	suffix := time.Now().UnixNano() % 1000000
	table := fmt.Sprintf("e2e_myinc_%d", suffix)
	sig := fmt.Sprintf("e2e_myincsig_%d", suffix)
	e := newMyEnv(t, "DROP TABLE IF EXISTS "+table,
		"CREATE TABLE "+table+" (id bigint PRIMARY KEY, v bigint NOT NULL, pad text)",
		fmt.Sprintf("INSERT INTO %s (id, v, pad) SELECT seq, 0, 'seed' FROM seq_1_to_%d", table, seeded))
	t.Cleanup(func() { e.db.Execute("DROP TABLE IF EXISTS " + table + ", " + sig) })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	// No admin endpoint (port 0 is not one `sluice snapshot` can find):
	// the request goes through the signal table.
	e.writeDaemon(fmt.Sprintf(`type: mysql
dsn: %q
tables: [%s]
signal_table: %s
heartbeat: 1s
drain_timeout: 20s
snapshot: {mode: never, chunk_size: 2000}
offsets: {store: file, flush_interval: 100ms}`, e.dsn, table, sig), fmt.Sprintf(`kafka:
  brokers: [%s]
  linger: 1ms
  topic_creation: {partitions: 3}`, e.brokers))
	start := time.Now()
	d := e.start()
	w := testenv.StartWorkload(t, table, seeded, 2, seed, e.myConnect)
	w.WaitTxs(50)

	out, err := exec.Command(binary, "snapshot", "--config", e.cfgPath, "--table", "sluice."+table).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "signal table") {
		t.Fatalf("sluice snapshot: %v\n%s", err, out)
	}
	// Kill once the sinks acknowledged a part of the table.
	killAt := int64(20_000 + rand.IntN(100_000))
	var keyAtKill int64
	e.waitUntil(t, "a part of the snapshot acknowledged", 3*time.Minute, func() bool {
		rows, _, done, ok := e.incJob(t)
		if done {
			t.Fatalf("the snapshot finished before the kill")
		}
		return ok && rows >= killAt
	})
	d.stop(t, syscall.SIGKILL)
	rowsAtKill, keyAtKill, _, _ := e.incJob(t)
	t.Logf("killed with %d rows acknowledged, up to id %d", rowsAtKill, keyAtKill)

	d = e.start()
	e.waitUntil(t, "the resumed snapshot to finish", 5*time.Minute, func() bool {
		_, _, done, _ := e.incJob(t)
		return done
	})
	stats := w.Stop()
	want := e.myTableState(t, table)
	topic := e.name + ".sluice." + table
	fold := e.foldTopics(t, topic)
	got := fold.until(want, 3*time.Minute)
	missing, stale, resurrected := stateDiff(got, want)
	t.Logf("workload %v; %d records; %d rows at the end: %d missing, %d stale, %d resurrected (%v)",
		stats, fold.records, len(want), missing, stale, resurrected, time.Since(start).Round(time.Second))
	testenv.SameState(t, got, want)
	if t.Failed() {
		e.explainKeys(t, topic, diffKeys(got, want))
	}

	// Per key, in the order the topic holds its records: a row's v only
	// grows until it is deleted, so an "r" record with a v below one
	// written before it is a read older than a change it follows.
	type keySeen struct {
		maxV  int64
		reads int
	}
	seen := map[int64]*keySeen{}
	bad := 0
	for _, r := range e.consumeAll([]string{topic}) {
		var k struct{ ID int64 }
		if err := json.Unmarshal(r.key, &k); err != nil {
			t.Fatalf("key %s: %v", r.key, err)
		}
		s := seen[k.ID]
		if s == nil {
			s = &keySeen{maxV: -1}
			seen[k.ID] = s
		}
		if r.value == nil {
			s.maxV = -1 // tombstone
			continue
		}
		var v struct {
			Op     string `json:"op"`
			After  *struct{ V int64 }
			Source struct {
				Snapshot string `json:"snapshot"`
			} `json:"source"`
		}
		if err := json.Unmarshal(r.value, &v); err != nil {
			t.Fatalf("%s: %v", r.value, err)
		}
		switch v.Op {
		case "d":
			s.maxV = -1
		case "c", "u":
			s.maxV = max(s.maxV, v.After.V)
		case "r":
			s.reads++
			if v.Source.Snapshot != "incremental" {
				t.Errorf("key %d: r record with source.snapshot %q, want incremental", k.ID, v.Source.Snapshot)
			}
			if v.After.V < s.maxV {
				if bad++; bad <= 5 {
					t.Errorf("key %d: stale r record (v %d) after a change to v %d (partition %d offset %d)", k.ID, v.After.V, s.maxV, r.partition, r.offset)
				}
			}
			s.maxV = max(s.maxV, v.After.V)
		}
	}
	twice := 0
	for id, s := range seen {
		if id <= keyAtKill && s.reads > 1 {
			twice++
		}
	}
	if bad > 0 || twice > 0 {
		t.Errorf("%d stale r records; %d keys up to the acknowledged id %d read twice (the restart must resume after it)", bad, twice, keyAtKill)
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}
