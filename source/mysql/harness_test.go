package mysql

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// harness runs a Source against the real test server under a
// testenv.Collector, which confirms marks the way the pipeline does once
// delivered. Offsets go to a file in the test's temporary directory.
type harness struct {
	t        *testing.T
	dsn      string
	db       *client.Conn
	name     string
	src      *Source
	c        *testenv.Collector // collects what src emits
	stateDir string
	// failAfter, when > 0, makes the emit callback fail once that many
	// reads arrived (a crash in the middle of a snapshot).
	failAfter int
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dsn := testenv.Get(t, "SLUICE_TEST_MYSQL_DSN")
	d, err := parseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := client.Connect(d.addr(), d.User, d.Password, d.DB)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	name := strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	h := &harness{t: t, dsn: dsn, db: db, name: name, stateDir: t.TempDir()}
	t.Cleanup(func() {
		h.stop()
		db.Close()
	})
	return h
}

// exec runs statements one by one.
func (h *harness) exec(stmts ...string) {
	h.t.Helper()
	for _, s := range stmts {
		if _, err := h.db.Execute(s); err != nil {
			h.t.Fatalf("%s: %v", s, err)
		}
	}
}

func (h *harness) newSource(extra map[string]any) *Source {
	h.t.Helper()
	raw := map[string]any{"type": "mysql", "dsn": h.dsn, "drain_timeout": "5s", "heartbeat": "1s",
		"offsets": map[string]any{"flush_interval": "20ms"}, "snapshot": map[string]any{"mode": "never"}}
	if _, snap := extra["snapshot"]; snap {
		// A snapshot's schema change events (SET, DROP, CREATE …) only
		// where a test asks for them: they would shift its counts.
		raw["schema_changes"] = false
	}
	for k, v := range extra {
		raw[k] = v
	}
	s, err := source.Build(New, raw, source.Env{Pipeline: h.name, Path: "source", Logger: zaptest.NewLogger(h.t), StateDir: h.stateDir})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// start runs a new source with extra config under a new collector.
func (h *harness) start(extra map[string]any, opts ...testenv.CollectOption) {
	h.t.Helper()
	h.src = h.newSource(extra)
	if h.failAfter > 0 {
		reads, failAfter := 0, h.failAfter
		opts = append(opts, testenv.Reject(func(ev *sluice.Event) error {
			if ev.Op == sluice.OpRead {
				if reads++; reads > failAfter {
					return errCrash
				}
			}
			return nil
		}))
	}
	h.c = testenv.Collect(h.t, h.src, opts...)
}

type crash struct{}

func (crash) Error() string { return "simulated crash" }

var errCrash error = crash{}

// streaming waits until the source follows the binlog.
func (h *harness) streaming() {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if h.src.streaming.Load() {
			return
		}
		select {
		case <-h.c.Done():
			h.t.Fatalf("source stopped: %v", h.c.Stop())
		case <-time.After(20 * time.Millisecond):
		}
	}
	h.t.Fatal("the source never started streaming")
}

// stop cancels the source and waits for it; it returns Run's error.
func (h *harness) stop() error {
	if h.c == nil {
		return nil
	}
	return h.c.Stop()
}

// wait returns the events once n have arrived and the source has read
// the binlog up to its end at the time of the call, so that an event
// beyond the n expected would be among them.
func (h *harness) wait(n int) []*sluice.Event {
	h.t.Helper()
	return h.c.WaitCaughtUp(n, h.binlogEnd)
}

// binlogEnd is the server's binlog position, numbered like the marks
// (a commit's or a heartbeat's) the stream emits when it reaches it.
func (h *harness) binlogEnd() uint64 {
	h.t.Helper()
	r, err := h.db.Execute("SHOW MASTER STATUS")
	if err != nil {
		h.t.Fatal(err)
	}
	file, err := r.GetString(0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	pos, err := r.GetUint(0, 1)
	if err != nil {
		h.t.Fatal(err)
	}
	return lsn(file, uint32(pos))
}

func contextTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func connectPlain(d dsn) (*client.Conn, error) {
	return client.Connect(d.addr(), d.User, d.Password, d.DB)
}

// signalSnapshot requests an incremental snapshot of tables (filter
// optional) through the signal table, as `sluice snapshot` does without
// a daemon.
func signalSnapshot(ctx context.Context, src *Source, tables []string, filter string) error {
	return src.WriteSignal(ctx, sluice.Signal{Type: sluice.SignalExecuteSnapshot,
		Data: sluice.SnapshotSignalData(sluice.SnapshotKindIncremental, tables, filter)})
}
