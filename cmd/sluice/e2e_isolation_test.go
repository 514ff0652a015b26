package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestPipelinesAreIsolated: a pipeline that fails for good (its table does
// not exist) stops alone: /readyz names it, sluice_pipeline_failed is 1
// for it, and the other pipeline keeps delivering; SIGTERM then exits 1,
// as the run was not clean. With fail_fast the daemon exits 1 at once.
func TestPipelinesAreIsolated(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_iso; CREATE TABLE e2e_iso (id int PRIMARY KEY)`)
	t.Cleanup(func() { e.exec("DROP TABLE IF EXISTS e2e_iso") })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	broken := e.name + "broken"
	t.Cleanup(func() {
		e.reconnect()
		testenv.DropSlot(t, e.db, "sluice_"+broken)
		e.exec("DROP PUBLICATION IF EXISTS sluice_" + broken)
	})
	write := func(failFast bool) {
		e.admin = freeAddr(t)
		cfg := fmt.Sprintf(`log: {level: info, format: json}
http: {listen: %q}
state_dir: %q
fail_fast: %v
pipelines:
  %[4]s:
    source: {type: postgres, dsn: %[5]q, tables: [public.e2e_iso], status_interval: 1s, snapshot: {mode: never}}
    sinks: {kafka: {brokers: [%[6]s], linger: 1ms}}
  %[7]s:
    source: {type: postgres, dsn: %[5]q, tables: [public.e2e_no_such_table], snapshot: {mode: never}}
    sinks: {kafka: {brokers: [%[6]s]}}
`, e.admin, filepath.Join(e.dir, "state"), failFast, e.name, e.pgDSN, e.brokers, broken)
		e.cfgPath = filepath.Join(e.dir, "sluice.yaml")
		if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	write(false)
	d := e.start()
	body := e.waitReadyz(t, 503, time.Minute)
	if !strings.Contains(body, broken) || strings.Contains(body, "pipeline "+e.name+":") {
		t.Errorf("/readyz names %q, want only the broken pipeline", body)
	}
	e.waitUntil(t, "the broken pipeline to be reported failed", time.Minute, func() bool {
		return e.metric(t, `sluice_pipeline_failed{pipeline="`+broken+`"}`) == 1
	})
	if v := e.metric(t, `sluice_pipeline_failed{pipeline="`+e.name+`"}`); v != 0 {
		t.Errorf("the healthy pipeline is reported failed: %v", v)
	}
	e.exec(`INSERT INTO e2e_iso VALUES (1), (2)`)
	if recs := e.consume([]string{e.name + ".public.e2e_iso"}, 2, time.Minute); len(recs) != 2 {
		t.Fatalf("the healthy pipeline delivered %d of 2 events", len(recs))
	}
	if code := d.stop(t, syscall.SIGTERM); code != 1 {
		t.Errorf("exit code %d after SIGTERM with a failed pipeline, want 1", code)
	}
	if !strings.Contains(d.logs.String(), "the other pipelines go on") {
		t.Errorf("the failure was not logged as isolated:\n%s", d.logs.String())
	}

	write(true)
	out, err := exec.Command(binary, "run", "--config", e.cfgPath).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "fail_fast") {
		t.Fatalf("fail_fast run: %v\n%s", err, out)
	}
}

// TestExitCodes: 2 for usage and configuration errors, 1 for failures
// while running (TestPipelinesAreIsolated), 0 after a clean stop.
func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"validate", "--config", "../../testdata/config/invalid.yaml"}, 2},
		{[]string{"run", "--config", "../../testdata/config/invalid.yaml"}, 2},
		{[]string{"run", "--config", "../../testdata/config/no-such-file.yaml"}, 2},
		{[]string{"validate", "--no-such-flag"}, 2},
		{[]string{"no-such-command"}, 2},
		{[]string{"validate", "--config", "../../testdata/config/shop.yaml"}, 0},
	} {
		err := exec.Command(binary, c.args...).Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != c.code {
			t.Errorf("sluice %v: exit code %d, want %d", c.args, code, c.code)
		}
	}
}
