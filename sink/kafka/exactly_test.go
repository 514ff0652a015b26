package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

// eosRig builds exactly-once sinks sharing one transactional id, offsets
// topic and topic prefix, and removes the topics afterwards.
type eosRig struct {
	t       *testing.T
	brokers []string
	prefix  string
	offsets string
	id      string
	enc     *codec.Encoder
	regs    map[*Sink]*prometheus.Registry // each sink's metrics
}

// txs is the sink's sluice_kafka_sink_transactions_total{result}.
func (r *eosRig) txs(s *Sink, result string) float64 {
	r.t.Helper()
	mfs, err := r.regs[s].Gather()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_kafka_sink_transactions_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func newEOSRig(t *testing.T) *eosRig {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	n := time.Now().UnixNano()
	r := &eosRig{t: t, brokers: brokers, prefix: fmt.Sprintf("sluiceeos%d", n),
		offsets: fmt.Sprintf("sluiceeos%d.offsets", n), id: fmt.Sprintf("sluice-test-%d", n)}
	var err error
	if r.enc, err = codec.New(codec.Options{Name: r.prefix, Connector: "postgresql", DB: "shop"}); err != nil {
		t.Fatal(err)
	}
	// The offsets topic is named under the prefix too.
	testenv.DeleteTopicsAtEnd(t, strings.Join(brokers, ","), r.prefix)
	return r
}

func (r *eosRig) topic() string { return r.prefix + ".public.orders" }

// commits collects a sink's NotifyCommits reports.
type commits struct {
	mu     sync.Mutex
	bounds []uint64
	errs   []error
	ch     chan struct{}
}

func (c *commits) notify(b uint64, err error) {
	c.mu.Lock()
	if err != nil {
		c.errs = append(c.errs, err)
	} else {
		c.bounds = append(c.bounds, b)
	}
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

// wait waits for the n-th report.
func (c *commits) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.bounds) + len(c.errs)
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("%d commit reports, want %d", got, n)
		}
	}
}

// open builds and opens a sink with the rig's id and tx settings.
func (r *eosRig) open(ctx context.Context, tx map[string]any) (*Sink, *commits) {
	r.t.Helper()
	tx["id"], tx["offsets_topic"] = r.id, r.offsets
	raw := map[string]any{"brokers": r.brokers, "linger": "1ms", "exactly_once": true, "transactions": tx}
	env := sink.Env{Pipeline: "it", Path: "pipelines.it.sinks.kafka", Encoder: r.enc,
		Logger: zaptest.NewLogger(r.t, zaptest.Level(zap.ErrorLevel))}
	s, err := sink.Build(New, raw, env)
	if err != nil {
		r.t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := s.RegisterMetrics(reg, prometheus.Labels{"sink": "kafka"}); err != nil {
		r.t.Fatal(err)
	}
	if r.regs == nil {
		r.regs = map[*Sink]*prometheus.Registry{}
	}
	r.regs[s] = reg
	if err := s.Open(ctx); err != nil {
		r.t.Fatal(err)
	}
	c := &commits{ch: make(chan struct{}, 1)}
	s.NotifyCommits(c.notify)
	return s, c
}

// write hands evs over as the runner does and returns the acks' errors.
func write(ctx context.Context, t *testing.T, s *Sink, evs ...*sluice.Event) []error {
	t.Helper()
	errs := make([]error, len(evs))
	var wg sync.WaitGroup
	for i, ev := range evs {
		wg.Add(1)
		ack := func(err error) { errs[i] = err; wg.Done() }
		if ev.Op == sluice.OpMark {
			_ = s.WriteMark(ctx, ev, ack)
		} else {
			_ = s.Write(ctx, ev, ack)
		}
	}
	wg.Wait()
	return errs
}

func mark(txLSN uint64) *sluice.Event {
	return &sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: txLSN, Resume: fmt.Sprint(txLSN), Epoch: "test"}}
}

// readCommitted reads the rig's table topic as a read_committed consumer.
func (r *eosRig) readCommitted(ctx context.Context, n int) []*kgo.Record {
	return consumeWith(ctx, r.t, r.brokers, n, []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}, r.topic())
}

// TestExactlyOnceCommitAbortResume: a transaction ending at a mark is
// committed with its position; events after the last mark are aborted at
// Close; a new instance reads the committed position back, and a
// read_committed consumer sees the committed events only.
func TestExactlyOnceCommitAbortResume(t *testing.T) {
	r := newEOSRig(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	s, c := r.open(ctx, map[string]any{"max_events": 3, "max_wait": "1m", "timeout": "5m"})
	if _, ok := s.Committed(); ok {
		t.Fatal("a new transactional id has a committed position")
	}
	for i, err := range write(ctx, t, s, insertEvent(1, "a"), insertEvent(2, "b"), insertEvent(3, "c"), mark(100)) {
		if err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
	}
	c.wait(t, 1) // max_events reached at the mark
	if got, _ := s.Committed(); got.TxLSN != 100 {
		t.Fatalf("committed %+v, want tx_lsn 100", got)
	}
	// A source transaction cut short: its events must never be seen.
	write(ctx, t, s, insertEvent(4, "d"), insertEvent(5, "e"))
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if c.bounds[0] != 1 || len(c.bounds) != 1 || len(c.errs) != 0 {
		t.Fatalf("commit reports %v %v, want one covering 1 boundary", c.bounds, c.errs)
	}
	if committed, aborted := r.txs(s, "committed"), r.txs(s, "aborted"); committed != 1 || aborted != 1 {
		t.Fatalf("transactions_total: %v committed, %v aborted; want 1 and 1", committed, aborted)
	}

	s2, _ := r.open(ctx, map[string]any{"max_events": 3, "max_wait": "1m", "timeout": "5m"})
	defer s2.Close(ctx)
	got, ok := s2.Committed()
	if want := (sluice.Position{TxLSN: 100, Resume: "100", Epoch: "test"}); !ok || got != want {
		t.Fatalf("a new instance reads %+v (%v), want %+v", got, ok, want)
	}
	recs := r.readCommitted(ctx, 3)
	for _, rec := range recs {
		if strings.Contains(string(rec.Value), `"d"`) || strings.Contains(string(rec.Value), `"e"`) {
			t.Errorf("aborted event visible: %s", rec.Value)
		}
	}
	// The aborted records are in the log: a read_uncommitted consumer
	// sees them, so the check above could fail.
	consumeWith(ctx, t, r.brokers, 5, nil, r.topic())
}

// TestExactlyOnceFenced: an instance whose transactional id a newer one
// claimed cannot commit, stops with a permanent error, and its events stay
// invisible; the newer one commits.
func TestExactlyOnceFenced(t *testing.T) {
	r := newEOSRig(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	tx := func() map[string]any { return map[string]any{"max_events": 1, "max_wait": "1m", "timeout": "5m"} }

	old, oc := r.open(ctx, tx())
	defer old.Close(ctx)
	write(ctx, t, old, insertEvent(1, "zombie"))
	newer, nc := r.open(ctx, tx())
	defer newer.Close(ctx)

	err := old.WriteMark(ctx, mark(200), func(error) {})
	if err == nil {
		t.Fatal("a fenced instance committed")
	}
	if !errors.Is(err, errFenced) || !sluice.IsPermanent(err) {
		t.Fatalf("fenced commit: %v, want permanent errFenced", err)
	}
	oc.wait(t, 1)
	if len(oc.errs) != 1 {
		t.Fatalf("fenced instance reported %v %v, want an error", oc.bounds, oc.errs)
	}
	if err := old.Write(ctx, insertEvent(2, "zombie"), func(error) {}); !errors.Is(err, errFenced) {
		t.Fatalf("write after fencing: %v, want errFenced", err)
	}

	for i, err := range write(ctx, t, newer, insertEvent(3, "new"), mark(300)) {
		if err != nil {
			t.Fatalf("ack %d: %v", i, err)
		}
	}
	nc.wait(t, 1)
	recs := r.readCommitted(ctx, 1)
	if !strings.Contains(string(recs[0].Value), `"new"`) {
		t.Fatalf("read_committed sees %s, want the newer instance's event", recs[0].Value)
	}
	if got, _ := newer.Committed(); got.TxLSN != 300 {
		t.Fatalf("committed %+v, want tx_lsn 300", got)
	}

	// The old instance restarting its pipeline (a reopen) must not claim
	// the id back: that would fence the newer one in turn.
	if err := old.Open(ctx); !errors.Is(err, errFenced) || !sluice.IsPermanent(err) {
		t.Fatalf("reopening the fenced instance: %v, want permanent errFenced", err)
	}
	for i, err := range write(ctx, t, newer, insertEvent(4, "new"), mark(400)) {
		if err != nil {
			t.Fatalf("ack %d after the old instance reopened: %v", i, err)
		}
	}
	nc.wait(t, 2)
	if len(nc.errs) != 0 {
		t.Fatalf("the newer instance failed after the old one reopened: %v", nc.errs)
	}

	// A new tenure (cluster mode gave the pipeline back to this process
	// after the newer instance stopped): the old instance takes the id
	// over again and starts after what the newer one committed.
	newer.Close(ctx)
	old.Reclaim()
	if err := old.Open(ctx); err != nil {
		t.Fatalf("open after Reclaim: %v", err)
	}
	if got, ok := old.Committed(); !ok || got.TxLSN != 400 {
		t.Fatalf("after Reclaim, committed %+v (%v), want the newer instance's tx_lsn 400", got, ok)
	}
	for i, err := range write(ctx, t, old, insertEvent(5, "again"), mark(500)) {
		if err != nil {
			t.Fatalf("ack %d after Reclaim: %v", i, err)
		}
	}
}

// TestExactlyOnceMaxWait: a transaction with fewer events than max_events
// commits once max_wait has passed, when it ends at a mark; one that ends
// inside a source transaction waits for the next mark.
func TestExactlyOnceMaxWait(t *testing.T) {
	r := newEOSRig(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	s, c := r.open(ctx, map[string]any{"max_events": 1000, "max_wait": "50ms"})
	defer s.Close(ctx)

	write(ctx, t, s, insertEvent(1, "a"), mark(100), insertEvent(2, "b"))
	// The timer finds events after the mark: no commit until the next.
	time.Sleep(200 * time.Millisecond)
	c.mu.Lock()
	early := len(c.bounds)
	c.mu.Unlock()
	if early != 0 {
		t.Fatalf("committed inside a source transaction")
	}
	write(ctx, t, s, mark(101))
	c.wait(t, 1)
	if c.bounds[0] != 2 {
		t.Fatalf("commit covers %d boundaries, want 2", c.bounds[0])
	}
	// An idle mark with no transaction open is covered at once.
	write(ctx, t, s, mark(102))
	c.wait(t, 2)
	if c.bounds[1] != 3 {
		t.Fatalf("idle mark: commit report %d, want 3", c.bounds[1])
	}
	r.readCommitted(ctx, 2)
}

func TestExactlyOnceConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]any
		want string // in the error; "" for valid
	}{
		{"on", map[string]any{"exactly_once": true}, ""},
		{"tuned", map[string]any{"exactly_once": true, "transactions": map[string]any{"max_events": 10, "max_wait": "1s", "timeout": "30s"}}, ""},
		{"without exactly_once", map[string]any{"transactions": map[string]any{"max_events": 10}}, "transactions: set only with exactly_once"},
		{"zero events", map[string]any{"exactly_once": true, "transactions": map[string]any{"max_events": 0}}, "transactions.max_events"},
		{"timeout below wait", map[string]any{"exactly_once": true, "transactions": map[string]any{"max_wait": "10s", "timeout": "5s"}}, "must exceed transactions.max_wait"},
		{"no offsets topic", map[string]any{"exactly_once": true, "transactions": map[string]any{"offsets_topic": " "}}, "transactions.offsets_topic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.raw["brokers"] = []any{"localhost:9092"}
			enc, err := codec.New(codec.Options{Name: "p", Connector: "postgresql", DB: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			s, err := sink.Build(New, tc.raw, sink.Env{Pipeline: "shop", Path: "pipelines.shop.sinks.events", Encoder: enc, Logger: zap.NewNop()})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !s.CommitsPositions() || s.eos.id != "sluice-shop-events" {
					t.Fatalf("exactly_once not on, or id %q", s.eos.id)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
