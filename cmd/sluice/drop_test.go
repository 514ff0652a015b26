package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// sluiceCLI runs the sluice binary with args and returns its stdout,
// stderr and exit code.
func sluiceCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("sluice %v: %v", args, err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// TestRetirePipelines: with a PostgreSQL pipeline, a MariaDB pipeline and
// a sluice_ slot no pipeline configures, the daemon warns at start about
// the unconfigured slot; `sluice slots` lists all three (table and JSON);
// `sluice drop` refuses while the daemon reads the slot, removes nothing
// without --yes, and with it leaves no slot, publication, state or offset
// behind, checked against the server and the state directory.
func TestRetirePipelines(t *testing.T) {
	e := newEnv(t, "DROP TABLE IF EXISTS e2e_retire; CREATE TABLE e2e_retire (id int PRIMARY KEY, v text)")
	my := newMyEnv(t, "DROP TABLE IF EXISTS e2e_retire", "CREATE TABLE e2e_retire (id int PRIMARY KEY, v varchar(20))")
	ctx := context.Background()
	t.Cleanup(func() {
		e.exec("DROP TABLE IF EXISTS e2e_retire")
		my.db.Execute("DROP TABLE IF EXISTS e2e_retire")
	})
	pgPipe, myPipe := e.name, "my"+e.name
	slot, unused := "sluice_"+pgPipe, "sluice_unused_"+e.name
	e.exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", unused)
	t.Cleanup(func() { testenv.DropSlot(t, e.db, unused) })
	stateDir := filepath.Join(e.dir, "state")
	cfg := fmt.Sprintf(`log: {level: info, format: json}
http: {listen: "127.0.0.1:0"}
state_dir: %q
pipelines:
  %s:
    source: {type: postgres, dsn: %q, tables: [public.e2e_retire], status_interval: 1s, drain_timeout: 5s}
    sinks: {out: {type: stdout}}
  %s:
    source: {type: mysql, dsn: %q, tables: [e2e_retire], heartbeat: 1s, drain_timeout: 5s, snapshot: {mode: never}, offsets: {flush_interval: 50ms}}
    sinks: {out: {type: stdout}}
`, stateDir, pgPipe, e.pgDSN, myPipe, my.dsn)
	e.cfgPath = filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	d := e.start()
	e.waitUntil(t, "the start-up warning about "+unused, time.Minute, func() bool {
		return regexp.MustCompile(`"level":"warn".*not used by any configured pipeline.*"slot":"` + unused + `"`).MatchString(d.logs.String())
	})
	if regexp.MustCompile(`not used by any configured pipeline.*"slot":"` + slot + `"`).MatchString(d.logs.String()) {
		t.Errorf("the daemon warns about its own slot %s:\n%s", slot, d.logs.String())
	}
	e.exec("INSERT INTO e2e_retire VALUES (1, 'a')")
	my.exec("INSERT INTO e2e_retire VALUES (1, 'a')")
	myOffset := filepath.Join(stateDir, myPipe+".mysql.json")
	e.waitUntil(t, "the MariaDB pipeline's offset", time.Minute, func() bool { _, err := os.Stat(myOffset); return err == nil })

	// sluice slots: a table …
	out, errOut, code := sluiceCLI(t, "slots", "--config", e.cfgPath)
	if code != 0 {
		t.Fatalf("sluice slots exited %d: %s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^PIPELINE\s+KIND\s+NAME\s+SERVER\s+DATABASE\s+RETAINED\s+ACTIVE\s+USED BY\s+NOTE$`).MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	for _, want := range []string{
		`^` + pgPipe + `\s+slot\s+` + slot + `\s+127\.0\.0\.1:\d+\s+sluice\s+\d+(\.\d)? (B|KiB|MiB|GiB) \(\d+\)\s+yes\s+pid \d+\s+-$`,
		`^\(unconfigured\)\s+slot\s+` + unused + `\s+127\.0\.0\.1:\d+\s+sluice\s+\d+(\.\d)? (B|KiB|MiB|GiB) \(\d+\)\s+no\s+-\s+-$`,
		`^` + myPipe + `\s+binlog\s+\S+-bin\.\d+:\d+\s+127\.0\.0\.1:\d+\s+sluice\s+\d+(\.\d)? (B|KiB|MiB|GiB) \(\d+\)\s+\?\s+-\s+-$`,
	} {
		n := 0
		for _, l := range lines[1:] {
			if regexp.MustCompile(want).MatchString(l) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines match %s:\n%s", n, want, out)
		}
	}
	// … and JSON.
	out, errOut, code = sluiceCLI(t, "slots", "--config", e.cfgPath, "--json")
	if code != 0 {
		t.Fatalf("sluice slots --json exited %d: %s%s", code, out, errOut)
	}
	var rows []struct {
		Pipelines     []string `json:"pipelines"`
		Kind          string   `json:"kind"`
		Name          string   `json:"name"`
		Server        string   `json:"server"`
		RetainedBytes int64    `json:"retained_bytes"`
		Active        *bool    `json:"active"`
		ActivePID     int32    `json:"active_pid"`
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("sluice slots --json: %v:\n%s", err, out)
	}
	found := map[string]bool{}
	for _, r := range rows {
		switch {
		case r.Name == slot:
			found["pg"] = len(r.Pipelines) == 1 && r.Pipelines[0] == pgPipe && r.Kind == "slot" && r.Active != nil && *r.Active && r.ActivePID > 0 && r.RetainedBytes >= 0
		case r.Name == unused:
			found["unused"] = len(r.Pipelines) == 0 && r.Pipelines != nil && r.Active != nil && !*r.Active && r.RetainedBytes > 0
		case r.Kind == "binlog" && len(r.Pipelines) == 1 && r.Pipelines[0] == myPipe:
			found["my"] = r.Active == nil && r.RetainedBytes >= 0 && strings.Contains(r.Name, ":")
		}
	}
	if !found["pg"] || !found["unused"] || !found["my"] {
		t.Errorf("sluice slots --json: matched %v:\n%s", found, out)
	}

	// sluice drop while the daemon reads the slot: refused, nothing removed.
	slotExists := func() bool {
		var n int
		if err := e.db.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	out, errOut, code = sluiceCLI(t, "drop", "--config", e.cfgPath, "--pipeline", pgPipe, "--yes")
	if code != 1 || !strings.Contains(errOut, "is active") || !strings.Contains(errOut, "stop the daemon") || !slotExists() {
		t.Errorf("drop of a running pipeline: exit %d, slot present %v, output:\n%s%s", code, slotExists(), out, errOut)
	}
	if c := d.stop(t, syscall.SIGTERM); c != 0 {
		t.Fatalf("sluice exited %d:\n%s", c, d.logs.String())
	}
	e.waitUntil(t, "the slot to be released", time.Minute, func() bool {
		ok, err := testenv.SlotStreaming(ctx, e.db, slot)
		return err == nil && !ok
	})

	// Without --yes: the plan, exit 2, nothing removed.
	pgState := filepath.Join(stateDir, pgPipe+".postgres.json")
	for _, p := range []string{pgPipe, myPipe} {
		out, errOut, code = sluiceCLI(t, "drop", "--config", e.cfgPath, "--pipeline", p)
		if code != 2 || !strings.Contains(out, "would remove: ") || !strings.Contains(errOut, "--yes") {
			t.Errorf("drop %s without --yes: exit %d, output:\n%s%s", p, code, out, errOut)
		}
	}
	if !slotExists() {
		t.Fatal("drop without --yes removed the slot")
	}
	for _, f := range []string{pgState, myOffset} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("drop without --yes: %v", err)
		}
	}

	// With --yes: nothing left.
	out, errOut, code = sluiceCLI(t, "drop", "--config", e.cfgPath, "--pipeline", pgPipe, "--yes")
	for _, want := range []string{"removed: replication slot " + slot, "removed: publication " + slot, "removed: snapshot state row of slot " + slot,
		"removed: snapshot state file " + pgState} {
		if code != 0 || !strings.Contains(out, want+" ") && !strings.Contains(out, want+"\n") {
			t.Errorf("drop %s --yes: exit %d, want %q in:\n%s%s", pgPipe, code, want, out, errOut)
		}
	}
	var slots, pubs, states int
	err := e.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1),
		(SELECT count(*) FROM pg_publication WHERE pubname = $1), (SELECT count(*) FROM public.sluice_state WHERE slot = $1)`, slot).Scan(&slots, &pubs, &states)
	if err != nil || slots+pubs+states != 0 {
		t.Errorf("after drop: %d slot(s), %d publication(s), %d state row(s) (%v), want none", slots, pubs, states, err)
	}
	out, errOut, code = sluiceCLI(t, "drop", "--config", e.cfgPath, "--pipeline", myPipe, "--yes")
	if code != 0 || !strings.Contains(out, "removed: offset file "+myOffset) {
		t.Errorf("drop %s --yes: exit %d:\n%s%s", myPipe, code, out, errOut)
	}
	for _, f := range []string{pgState, myOffset} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s after drop: %v, want it gone", f, err)
		}
	}
	// The unconfigured slot is not the drop's to remove.
	out, _, _ = sluiceCLI(t, "slots", "--config", e.cfgPath)
	if strings.Contains(out, slot+" ") || !strings.Contains(out, unused) || strings.Contains(out, myPipe) {
		t.Errorf("sluice slots after the drops:\n%s", out)
	}
}
