package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

// TestSnapshotCommandRefusesBadRequests: `sluice snapshot` checks the
// request before it writes the signal: only captured tables, and a
// --where of the restricted filter grammar whose columns and literals fit
// the table. A refused request exits non-zero with the reason and writes
// nothing.
func TestSnapshotCommandRefusesBadRequests(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS cli_ok; CREATE TABLE cli_ok (id int PRIMARY KEY, v bigint);
		DROP TABLE IF EXISTS cli_other; CREATE TABLE cli_other (id int PRIMARY KEY);
		DROP TABLE IF EXISTS cli_signal; CREATE TABLE cli_signal (id text PRIMARY KEY, type text NOT NULL, data text)`)
	t.Cleanup(func() { e.exec(`DROP TABLE IF EXISTS cli_ok, cli_other, cli_signal`) })
	e.writeConfig([]string{"public.cli_ok"}, "snapshot: {mode: never}\n      signal_table: public.cli_signal", "")
	signals := func() int {
		var n int
		e.reconnect()
		if err := e.db.QueryRow(context.Background(), "SELECT count(*) FROM cli_signal").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--table", "pg_catalog.pg_authid"}, "not captured"},
		{[]string{"--table", "public.cli_other"}, "not captured"},
		{[]string{"--table", "public.cli_ok", "--table", "public.cli_typo"}, "public.cli_typo"},
		{[]string{"--table", "public.cli_ok", "--where", "1=1; DROP TABLE cli_other"}, "';'"},
		{[]string{"--table", "public.cli_ok", "--where", "id > 0 OR pg_sleep(10) IS NULL"}, "function"},
		{[]string{"--table", "public.cli_ok", "--where", "id IN (SELECT 1)"}, "sub-select"},
		{[]string{"--table", "public.cli_ok", "--where", "idd > 1"}, `no column "idd"`},
		{[]string{"--table", "public.cli_ok", "--where", "v > 'many'"}, "invalid input"},
	} {
		out, err := exec.Command(binary, append([]string{"snapshot", "--config", e.cfgPath}, c.args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("sluice snapshot %s: %v\n%s\nwant a refusal saying %s", strings.Join(c.args, " "), err, out, c.want)
		}
	}
	if n := signals(); n != 0 {
		t.Fatalf("refused requests wrote %d signals", n)
	}
	out, err := exec.Command(binary, "snapshot", "--config", e.cfgPath, "--table", "public.cli_ok", "--where", "id <= 10 AND v IS NOT NULL").CombinedOutput()
	if err != nil {
		t.Fatalf("a valid request: %v\n%s", err, out)
	}
	if n := signals(); n != 1 {
		t.Fatalf("a valid request wrote %d signals, want 1", n)
	}
}
