package mysql

import (
	"context"
	"flag"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// harness runs a Source against the real test server and collects what
// it emits, confirming marks the way the pipeline does once delivered.
type harness struct {
	t        *testing.T
	dsn      string
	db       *client.Conn
	name     string
	src      *Source
	mu       sync.Mutex
	events   []*sluice.Event
	cancel   context.CancelFunc
	done     chan error
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
	for k, v := range extra {
		raw[k] = v
	}
	s, err := source.Build(New, raw, source.Env{Pipeline: h.name, Path: "source", Logger: zaptest.NewLogger(h.t), StateDir: h.stateDir})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) start(extra map[string]any) {
	h.t.Helper()
	h.src = h.newSource(extra)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	src := h.src
	reads := 0
	go func() {
		h.done <- src.Run(ctx, func(ev *sluice.Event) error {
			if ev.Op == sluice.OpMark {
				src.Confirm(ev.Pos)
				return nil
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if ev.Op == sluice.OpRead {
				reads++
				if h.failAfter > 0 && reads > h.failAfter {
					return errCrash
				}
			}
			h.events = append(h.events, ev)
			return nil
		})
	}()
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
		case err := <-h.done:
			h.cancel = nil
			h.t.Fatalf("source stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	h.t.Fatal("the source never started streaming")
}

// stop cancels the source and waits for it; it returns Run's error.
func (h *harness) stop() error {
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	err := <-h.done
	h.cancel = nil
	return err
}

// wait returns the events once n have arrived.
func (h *harness) wait(n int) []*sluice.Event {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		got := len(h.events)
		h.mu.Unlock()
		if got >= n {
			time.Sleep(200 * time.Millisecond) // catch extras
			h.mu.Lock()
			defer h.mu.Unlock()
			return append([]*sluice.Event(nil), h.events...)
		}
		select {
		case err := <-h.done:
			h.cancel = nil
			h.t.Fatalf("source stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.t.Fatalf("timed out: %d of %d events", len(h.events), n)
	return nil
}

func (h *harness) reset() {
	h.mu.Lock()
	h.events = nil
	h.mu.Unlock()
}

func contextTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func connectPlain(d dsn) (*client.Conn, error) {
	return client.Connect(d.addr(), d.User, d.Password, d.DB)
}
