package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// heartbeatValue is a heartbeat record's value, both sources' fields.
type heartbeatValue struct {
	TS   int64  `json:"ts_ms"`
	LSN  uint64 `json:"lsn"`
	File string `json:"file"`
	Pos  uint64 `json:"pos"`
}

// checkHeartbeats reads n heartbeat records of prefix and checks their
// key, ts_ms and that their position (pos) never goes back.
func checkHeartbeats(t *testing.T, e *env, prefix string, n int, pos func(heartbeatValue) uint64) []heartbeatValue {
	t.Helper()
	recs := e.consume([]string{prefix + ".heartbeat"}, n, 60*time.Second)
	if len(recs) < n {
		t.Fatalf("got %d heartbeat records in 60s, want %d", len(recs), n)
	}
	var out []heartbeatValue
	for i, r := range recs {
		if want := `{"serverName":"` + prefix + `"}`; string(r.key) != want {
			t.Fatalf("heartbeat %d key %s, want %s", i, r.key, want)
		}
		var v heartbeatValue
		if err := json.Unmarshal(r.value, &v); err != nil || v.TS == 0 || pos(v) == 0 {
			t.Fatalf("heartbeat %d value %s (%v): want ts_ms and a position", i, r.value, err)
		}
		if i > 0 && (pos(v) < pos(out[i-1]) || v.TS < out[i-1].TS) {
			t.Fatalf("heartbeat %d went back: %s after %+v", i, r.value, out[i-1])
		}
		out = append(out, v)
	}
	return out
}

// TestPostgresHeartbeatRecords: an idle PostgreSQL pipeline with
// heartbeat_records writes heartbeat records to <prefix>.heartbeat with
// the LSN it confirms; a change committed in between moves it on, and
// the slot's confirmed position follows the heartbeats.
func TestPostgresHeartbeatRecords(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_hb; CREATE TABLE e2e_hb (id int PRIMARY KEY)`)
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.writeConfig([]string{"public.e2e_hb"}, "snapshot: {mode: never}\n      heartbeat_interval: 300ms\n      heartbeat_records: true", "")
	d := e.start()
	lsn := func(v heartbeatValue) uint64 { return v.LSN }
	first := checkHeartbeats(t, e, e.name, 2, lsn)
	e.exec(`INSERT INTO e2e_hb VALUES (1)`)
	var after []heartbeatValue
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		after = checkHeartbeats(t, e, e.name, len(first)+2, lsn)
		if after[len(after)-1].LSN > first[len(first)-1].LSN {
			break
		}
		first = after
	}
	last := after[len(after)-1].LSN
	if last <= first[0].LSN {
		t.Fatalf("heartbeat LSNs %d … %d did not pass the insert", first[0].LSN, last)
	}
	// The slot confirms what the heartbeats carried.
	var confirmed uint64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := e.db.QueryRow(t.Context(), `SELECT (confirmed_flush_lsn - '0/0')::bigint FROM pg_replication_slots WHERE slot_name = $1`, "sluice_"+e.name).Scan(&confirmed); err != nil {
			t.Fatal(err)
		}
		if confirmed >= last {
			break
		}
	}
	if confirmed < last {
		t.Fatalf("slot confirmed %d, want at least the heartbeat's %d", confirmed, last)
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if n := len(e.consume([]string{e.name + ".public.e2e_hb"}, 1, 30*time.Second)); n != 1 {
		t.Fatalf("%d change records, want the insert's 1", n)
	}
}

// TestMySQLHeartbeatRecords: the same on MariaDB, with the binlog file
// and position.
func TestMySQLHeartbeatRecords(t *testing.T) {
	e := newMyEnv(t, "DROP TABLE IF EXISTS e2e_hb", "CREATE TABLE e2e_hb (id int PRIMARY KEY)")
	t.Cleanup(func() { e.db.Execute("DROP TABLE IF EXISTS e2e_hb") })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.writeConfig([]string{"e2e_hb"}, "snapshot: {mode: never}\n      heartbeat_interval: 300ms\n      heartbeat_records: true")
	d := e.start()
	pos := func(v heartbeatValue) uint64 { return fileSeqOf(v.File)<<32 | v.Pos }
	first := checkHeartbeats(t, e.env, e.name, 2, pos)
	e.exec("INSERT INTO e2e_hb VALUES (1)")
	var after []heartbeatValue
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		after = checkHeartbeats(t, e.env, e.name, len(first)+2, pos)
		if pos(after[len(after)-1]) > pos(first[len(first)-1]) {
			break
		}
		first = after
	}
	if pos(after[len(after)-1]) <= pos(first[0]) {
		t.Fatalf("heartbeat positions %+v … %+v did not pass the insert", first[0], after[len(after)-1])
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// fileSeqOf is a binlog file's sequence number (mysql-bin.000042: 42).
func fileSeqOf(file string) uint64 {
	n, _ := strconv.ParseUint(file[strings.LastIndexByte(file, '.')+1:], 10, 32)
	return n
}
