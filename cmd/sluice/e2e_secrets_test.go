package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestSecretsNeverShown: a canary secret given through ${VAR}, a
// *_file and the SLUICE_… override (the source's password, a hashing
// salt, the Elasticsearch password) appears nowhere: not in `sluice validate`'s
// errors, not in the daemon's logs, not on /metrics.
func TestSecretsNeverShown(t *testing.T) {
	const canary = "canary-s3cr3t-4711"
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_canary; CREATE TABLE e2e_canary (id int PRIMARY KEY, v text)`)
	t.Cleanup(func() { e.exec("DROP TABLE IF EXISTS e2e_canary") })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	es := testenv.NewES(t, e.name)
	pwFile := filepath.Join(e.dir, "es-password")
	if err := os.WriteFile(pwFile, []byte(canary+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CANARY_PG_PASSWORD", canary)
	t.Setenv("SLUICE_PIPELINES_"+strings.ToUpper(e.name)+"_SOURCE_PASSWORD", canary)
	e.admin = freeAddr(t)
	e.writeDaemon(fmt.Sprintf(`type: postgres
dsn: %q
password: ${CANARY_PG_PASSWORD}
tables: [public.e2e_canary]
status_interval: 1s
snapshot: {mode: never}`, e.pgDSN), fmt.Sprintf(`kafka:
  brokers: [%s]
  linger: 1ms
  transforms:
    - {type: columns, hash: [v], salt: "${CANARY_PG_PASSWORD}"}
search:
  type: elasticsearch
  urls: [%s]
  username: elastic
  password_file: %s
  state_index: %s-state`, e.brokers, es.URL, pwFile, e.name))

	// validate with a mistake beside the secrets: the errors name keys only.
	bad := filepath.Join(e.dir, "bad.yaml")
	cfg, err := os.ReadFile(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, append(cfg, "    capacity: ${CANARY_PG_PASSWORD}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "validate", "--config", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "capacity") {
		t.Fatalf("validate of a bad file: %v\n%s", err, out)
	}
	if strings.Contains(string(out), canary) {
		t.Errorf("validate shows the secret:\n%s", out)
	}

	d := e.start()
	e.exec(`INSERT INTO e2e_canary VALUES (1, 'x')`)
	e.caughtUp(t)
	resp, err := http.Get("http://" + e.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	if !strings.Contains(string(metrics), "sluice_events_total") {
		t.Fatalf("no metrics scraped:\n%s", metrics)
	}
	for what, text := range map[string]string{"/metrics": string(metrics), "the logs": d.logs.String()} {
		if strings.Contains(text, canary) {
			t.Errorf("%s show the secret:\n%s", what, text)
		}
	}
}
