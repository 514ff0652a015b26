package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/sink"
)

// ackLog records acks per event and fails the test on a second ack.
type ackLog struct {
	t    *testing.T
	mu   sync.Mutex
	errs map[int][]error
	ch   chan int
}

func newAckLog(t *testing.T) *ackLog {
	return &ackLog{t: t, errs: map[int][]error{}, ch: make(chan int, 16)}
}

func (a *ackLog) ack(i int) func(error) {
	return func(err error) {
		a.mu.Lock()
		a.errs[i] = append(a.errs[i], err)
		n := len(a.errs[i])
		a.mu.Unlock()
		if n > 1 {
			a.t.Errorf("event %d acked %d times", i, n)
		}
		a.ch <- i
	}
}

func (a *ackLog) wait(i int, within time.Duration) error {
	a.t.Helper()
	deadline := time.After(within)
	for {
		a.mu.Lock()
		errs := a.errs[i]
		a.mu.Unlock()
		if len(errs) > 0 {
			return errs[0]
		}
		select {
		case <-a.ch:
		case <-deadline:
			a.t.Fatalf("event %d not acked within %s", i, within)
		}
	}
}

// With no reachable broker, records stay buffered: a Write blocked on the
// full buffer returns when its ctx ends, a Write with a cancelled ctx
// hands nothing over, and Close fails what is left; every event is acked
// exactly once, with an error.
func TestWriteFailurePaths(t *testing.T) {
	s, err := sink.Build(New, map[string]any{
		"brokers":              []any{"127.0.0.1:1"},
		"max_buffered_records": 1,
		"topic_creation":       map[string]any{"enabled": false},
	}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	opts, err := s.cfg.clientOpts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	s.conn.Store(&conn{cl: cl, adm: kadm.NewClient(cl)}) // Open without the ping
	s.known["shopserver.public.orders"] = topicInfo{}
	acks := newAckLog(t)
	ctx := t.Context()

	// 0 fills the buffer; it is never delivered.
	if err := s.Write(ctx, insertEvent(1, "a"), acks.ack(0)); err != nil {
		t.Fatalf("Write 0: %v", err)
	}

	// 1 blocks on the full buffer until its ctx ends.
	ctx1, cancel1 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel1()
	start := time.Now()
	_ = s.Write(ctx1, insertEvent(2, "b"), acks.ack(1))
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("blocked Write returned after %s", d)
	}
	if err := acks.wait(1, 5*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("blocked event acked with %v, want DeadlineExceeded", err)
	}

	// 2 (a delete: change + tombstone) with a cancelled ctx: nothing is
	// handed over, Write says so, one ack.
	ctx2, cancel2 := context.WithCancel(ctx)
	cancel2()
	if err := s.Write(ctx2, deleteEvent(3), acks.ack(2)); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with cancelled ctx = %v, want Canceled", err)
	}
	if err := acks.wait(2, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled event acked with %v, want Canceled", err)
	}

	// Close cannot flush 0; closing the client fails it.
	ctx3, cancel3 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel3()
	if err := s.Close(ctx3); err == nil {
		t.Error("Close flushed records to a broker that does not exist")
	}
	if err := acks.wait(0, time.Second); !errors.Is(err, kgo.ErrClientClosed) {
		t.Errorf("buffered event acked with %v, want ErrClientClosed", err)
	}
	if st := s.Stats(); st.Events != 0 || st.EventErrors != 3 || st.Records != 0 {
		t.Errorf("stats = %+v, want 3 failed events", st)
	}
	if err := s.Write(ctx, insertEvent(4, "d"), acks.ack(3)); !errors.Is(err, ErrNotOpen) {
		t.Errorf("Write after Close = %v, want ErrNotOpen", err)
	}
}

// On a compacted topic, a truncate is skipped (acked nil, no record) and a
// row without a key fails permanently, both before the producer; with
// skipped_operations none, else the encoder skips the truncate first.
func TestNullKeyCompacted(t *testing.T) {
	env := testEnv(t)
	enc, err := codec.New(codec.Options{Name: "shopserver", Connector: "postgresql", DB: "shop", SkippedOperations: "none"})
	if err != nil {
		t.Fatal(err)
	}
	env.Encoder = enc
	s, err := sink.Build(New, map[string]any{"brokers": []any{"127.0.0.1:1"}}, env)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	s.conn.Store(&conn{cl: cl, adm: kadm.NewClient(cl)})
	s.known["shopserver.public.orders"] = topicInfo{compacted: true}
	s.known["shopserver.public.log"] = topicInfo{compacted: true}
	acks := newAckLog(t)

	for i := range 2 {
		if err := s.Write(t.Context(), eventtest.Truncate(eventtest.Orders), acks.ack(i)); err != nil {
			t.Errorf("Write truncate = %v, want nil", err)
		}
		if err := acks.wait(i, time.Second); err != nil {
			t.Errorf("truncate acked with %v, want nil", err)
		}
	}

	keyless := &sluice.Table{DB: "shop", Schema: "public", Name: "log",
		Columns: []sluice.Column{{Name: "line", DBType: "text", Type: sluice.TypeText}}}
	ev := &sluice.Event{Op: sluice.OpCreate, Table: keyless, After: sluice.Row{eventtest.Text("x")}}
	if err := s.Write(t.Context(), ev, acks.ack(2)); !errors.Is(err, ErrNullKeyCompacted) {
		t.Errorf("Write keyless row = %v, want ErrNullKeyCompacted", err)
	}
	if err := acks.wait(2, time.Second); !errors.Is(err, ErrNullKeyCompacted) || !sluice.IsPermanent(err) {
		t.Errorf("ack = %v (permanent %v), want a permanent ErrNullKeyCompacted", err, sluice.IsPermanent(err))
	}
	if st := s.Stats(); st.TruncatesSkipped != 2 || st.Events != 2 || st.EventErrors != 1 || st.Records != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestUpdateHint(t *testing.T) {
	s := &Sink{bufHint: 512}
	s.updateHint(1000)
	if s.bufHint != 1250 {
		t.Errorf("grow: hint %d, want 1250", s.bufHint)
	}
	s.updateHint(10 << 20)
	if s.bufHint != maxBufHint {
		t.Errorf("huge event: hint %d, want the cap %d", s.bufHint, maxBufHint)
	}
	for range 200 {
		s.updateHint(300)
	}
	if s.bufHint > 400 {
		t.Errorf("shrink: hint %d after many small events", s.bufHint)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err       error
		permanent bool
	}{
		{nil, false},
		{fmt.Errorf("kafka sink: produce t: %w", kerr.MessageTooLarge), true},
		{fmt.Errorf("kafka sink: produce t: %w", kerr.InvalidRecord), true},
		{fmt.Errorf("kafka sink: create topic t: %w", kerr.PolicyViolation), true},
		{fmt.Errorf("kafka sink: produce t: x event: %w", ErrNullKeyCompacted), true},
		{fmt.Errorf("kafka sink: produce t: %w", kerr.TopicAuthorizationFailed), false}, // can be granted meanwhile
		{fmt.Errorf("kafka sink: produce t: %w", kerr.NotLeaderForPartition), false},
		{fmt.Errorf("kafka sink: produce t: %w", kgo.ErrClientClosed), false},
		{context.Canceled, false},
	}
	for _, tt := range tests {
		got := classify(tt.err)
		if sluice.IsPermanent(got) != tt.permanent {
			t.Errorf("classify(%v): permanent %v, want %v", tt.err, sluice.IsPermanent(got), tt.permanent)
		}
		if !errors.Is(got, tt.err) || (got != nil && got.Error() != tt.err.Error()) {
			t.Errorf("classify(%v) = %v: lost the error or its message", tt.err, got)
		}
	}
}
