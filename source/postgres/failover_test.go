package postgres

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
)

// pgPair is a primary and a streaming standby of its own, started by
// scripts/postgres.sh in a private scratch directory: a switch-over
// must not touch the server the other tests share.
type pgPair struct {
	t                *testing.T
	script           string
	env              []string
	primary, standby string // DSNs
}

// startPair starts a primary and its standby of the given major version.
func startPair(t *testing.T, version int) *pgPair {
	t.Helper()
	scripts := testenv.Get(t, "SLUICE_SCRIPTS")
	dir, err := os.MkdirTemp("", "sluice-pgpair-")
	if err != nil {
		t.Fatal(err)
	}
	// The servers run as user postgres when the tests run as root.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	main, standby := testenv.FreePort(t), testenv.FreePort(t)
	p := &pgPair{t: t, script: filepath.Join(scripts, "postgres.sh"),
		env: append(os.Environ(), "SLUICE_SCRATCH="+dir, "SLUICE_PG_VERSION="+strconv.Itoa(version),
			fmt.Sprintf("SLUICE_PG_PORT=%d", main), fmt.Sprintf("SLUICE_PG_STANDBY_PORT=%d", standby),
			fmt.Sprintf("SLUICE_PG_REPLICA_PORT=%d", testenv.FreePort(t))),
		primary: fmt.Sprintf("postgres://sluice:sluice@127.0.0.1:%d/sluice?sslmode=disable", main),
		standby: fmt.Sprintf("postgres://sluice:sluice@127.0.0.1:%d/sluice?sslmode=disable", standby)}
	t.Cleanup(func() {
		if t.Failed() {
			for _, log := range []string{"main.log", "standby.log"} {
				b, _ := os.ReadFile(filepath.Join(dir, "pg", log))
				t.Logf("%s:\n%s", log, b[max(0, len(b)-4000):])
			}
		}
		for _, cmd := range []string{"standby-stop", "stop"} {
			if out, err := p.script1(cmd); err != nil {
				t.Errorf("postgres.sh %s: %v\n%s", cmd, err, out)
			}
		}
		os.RemoveAll(dir)
	})
	p.run("restart") // the main cluster only
	p.run("standby-start")
	return p
}

func (p *pgPair) script1(arg string) ([]byte, error) {
	cmd := exec.Command(p.script, arg)
	cmd.Env = p.env
	return cmd.CombinedOutput()
}

func (p *pgPair) run(arg string) {
	p.t.Helper()
	if out, err := p.script1(arg); err != nil {
		p.t.Fatalf("postgres.sh %s: %v\n%s", arg, err, out)
	}
}

func (p *pgPair) connect(dsn string) *pgx.Conn {
	p.t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// source builds a source of the pair's tests: pipeline names its slot
// and publication, raw is its configuration.
func (p *pgPair) source(pipeline, stateDir string, raw map[string]any) *Source {
	p.t.Helper()
	s, err := source.Build(New, raw, source.Env{Pipeline: pipeline, Path: "source", Logger: zaptest.NewLogger(p.t), StateDir: stateDir})
	if err != nil {
		p.t.Fatal(err)
	}
	return s
}

// poll calls cond every interval until it reports true, and fails the
// test naming what when limit passes first.
func poll(t *testing.T, what string, limit, interval time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, limit)
		}
		time.Sleep(interval)
	}
}

// serverMajorOf is the major version of the server at dsn.
func serverMajorOf(t *testing.T, dsn string) int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	return serverMajor(c.PgConn())
}

// slotConfirmed is a slot's confirmed flush position on the server of db,
// 0 when the slot is missing; on a standby only a synchronized copy that
// is ready for use counts.
func slotConfirmed(t *testing.T, db *pgx.Conn, slot string) uint64 {
	t.Helper()
	var s *string
	err := db.QueryRow(context.Background(), `SELECT confirmed_flush_lsn::text FROM pg_replication_slots
		WHERE slot_name = $1 AND (NOT pg_is_in_recovery() OR synced AND NOT temporary)`, slot).Scan(&s)
	if err == pgx.ErrNoRows || s == nil {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	lsn, err := pglogrepl.ParseLSN(*s)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(lsn)
}

// TestFailoverSlotSwitchover: with failover: true the slot is copied to
// a standby (sync_replication_slots); after a switch-over to it the
// source, on a DSN naming both servers, resumes from the copy: the rows
// written after the switch-over arrive, none before it again, and
// nothing is snapshotted again. PostgreSQL 17+.
func TestFailoverSlotSwitchover(t *testing.T) {
	version := serverMajorOf(t, testenv.Get(t, "SLUICE_TEST_PG_DSN"))
	if version < 17 {
		t.Skipf("failover slots need PostgreSQL 17; the test server is %d", version)
	}
	pair := startPair(t, version)
	ctx := context.Background()
	primary := pair.connect(pair.primary)
	exec := func(db *pgx.Conn, sql string) {
		t.Helper()
		if _, err := db.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(primary, `CREATE TABLE failover_rows (id int PRIMARY KEY); INSERT INTO failover_rows SELECT generate_series(1, 10)`)
	// Logical walsenders send nothing the standby has not received.
	exec(primary, `ALTER SYSTEM SET synchronized_standby_slots = 'sluice_standby'`)
	exec(primary, `SELECT pg_reload_conf()`)

	both := fmt.Sprintf("postgres://sluice:sluice@%s,%s/sluice?sslmode=disable&target_session_attrs=read-write",
		hostPort(t, pair.primary), hostPort(t, pair.standby))
	stateDir := t.TempDir()
	newSource := func() *Source {
		return pair.source("failover", stateDir, map[string]any{"type": "postgres", "dsn": both, "tables": []string{"public.failover_rows"},
			"failover": true, "status_interval": "1s", "drain_timeout": "5s", "snapshot": map[string]any{"mode": "initial"}})
	}

	// Before: the snapshot and ten streamed rows, confirmed.
	c := testenv.Collect(t, newSource())
	c.WaitFor("the snapshot's 10 rows", func(evs []*sluice.Event) bool { return len(evs) >= 10 })
	for i := 11; i <= 20; i++ {
		exec(primary, fmt.Sprintf("INSERT INTO failover_rows VALUES (%d)", i))
	}
	c.WaitFor("20 rows", func(evs []*sluice.Event) bool { return len(evs) >= 20 })
	var failover bool
	if err := primary.QueryRow(ctx, "SELECT failover FROM pg_replication_slots WHERE slot_name = 'sluice_failover'").Scan(&failover); err != nil || !failover {
		t.Fatalf("slot failover flag %t (%v); want true", failover, err)
	}

	// The standby copies the slot once the slot no longer needs catalog
	// rows older than what the standby keeps: the slot's catalog xmin
	// moves on when the stream passes a running-transactions record,
	// which pg_log_standby_snapshot() writes (the server writes one
	// every 15 s by itself), and sluice confirms a transaction after it.
	standby := pair.connect(pair.standby)
	next := 21
	// Polled every 200 ms: the standby's sync worker naps 200 ms to 30 s.
	poll(t, "a usable copy of the slot on the standby", 2*time.Minute, 200*time.Millisecond, func() bool {
		if slotConfirmed(t, standby, "sluice_failover") > 0 {
			return true
		}
		exec(primary, "SELECT pg_log_standby_snapshot()")
		exec(primary, fmt.Sprintf("INSERT INTO failover_rows VALUES (%d)", next))
		c.WaitFor(fmt.Sprintf("row %d", next), func(evs []*sluice.Event) bool { return len(evs) >= next })
		next++
		return false
	})
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}

	// The copy catches up with the slot's final position; then the
	// switch-over.
	// The slot's final position is the one the stopped source confirmed
	// last; its walsender applies it before it exits.
	poll(t, "the primary's slot to be released", time.Minute, 10*time.Millisecond, func() bool {
		active, err := testenv.SlotStreaming(ctx, primary, "sluice_failover")
		if err != nil {
			t.Fatal(err)
		}
		return !active
	})
	want := slotConfirmed(t, primary, "sluice_failover")
	poll(t, fmt.Sprintf("the standby's copy of the slot at the primary's %X", want), 2*time.Minute, 100*time.Millisecond,
		func() bool { return slotConfirmed(t, standby, "sluice_failover") >= want })
	primary.Close(ctx)
	pair.run("stop")
	pair.run("standby-promote")
	promoted := pair.connect(pair.standby)
	var written []int64
	for i := next; i < next+10; i++ {
		exec(promoted, fmt.Sprintf("INSERT INTO failover_rows VALUES (%d)", i))
		written = append(written, int64(i))
	}

	// After: the same configuration reaches the promoted standby and
	// resumes from the copy.
	c = testenv.Collect(t, newSource())
	evs := c.WaitCaughtUp(10, func() uint64 { return walEndOf(t, promoted) })
	var ids []int64
	for _, ev := range evs {
		if ev.Op != sluice.OpCreate {
			t.Errorf("event %s after the switch-over; want only the new rows' inserts (no new snapshot)", ev.Op)
		}
		ids = append(ids, ev.After[0].Int)
	}
	if !slices.Equal(ids, written) {
		t.Errorf("after the switch-over: rows %v; want %v, the rows written since", ids, written)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

// hostPort is the host:port of a DSN.
func hostPort(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
}

// TestFailoverOption: before PostgreSQL 17, failover: true is refused
// for good, naming the version it needs; from 17 a new slot is made as
// configured and an existing one is altered at start to match.
func TestFailoverOption(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS failover_opt; CREATE TABLE failover_opt (id int PRIMARY KEY)`)
	tables := []string{"public.failover_opt"}
	if v := serverMajor(h.db.PgConn()); v < 17 {
		src := h.newSource(map[string]any{"tables": tables, "failover": true})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := src.Run(ctx, func(*sluice.Event) error { return nil })
		if !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "PostgreSQL 17") {
			t.Fatalf("failover: true on PostgreSQL %d: %v; want a permanent error naming PostgreSQL 17", v, err)
		}
		return
	}
	for _, want := range []bool{false, true, false} {
		h.startWith(map[string]any{"tables": tables, "failover": want})
		h.stop()
		var got bool
		if err := h.db.QueryRow(context.Background(), "SELECT failover FROM pg_replication_slots WHERE slot_name = $1",
			"sluice_"+h.name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("failover: %t: the slot's failover flag is %t", want, got)
		}
	}
}
