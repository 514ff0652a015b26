package signalchan

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// fakeReceiver records the signals offered to it. While not running it
// answers ErrNotRunning; it refuses the types in refuse.
type fakeReceiver struct {
	mu       sync.Mutex
	running  bool
	refuse   map[string]bool
	accepted []sluice.Signal
	refused  []sluice.Signal
	offers   int // every call, ErrNotRunning included
	changed  chan struct{}
}

func newReceiver(running bool, refuse ...string) *fakeReceiver {
	r := &fakeReceiver{running: running, refuse: map[string]bool{}, changed: make(chan struct{}, 1)}
	for _, t := range refuse {
		r.refuse[t] = true
	}
	return r
}

func (r *fakeReceiver) Signal(_ context.Context, s sluice.Signal) error {
	r.mu.Lock()
	defer func() {
		r.mu.Unlock()
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}()
	r.offers++
	switch {
	case !r.running:
		return sluice.ErrNotRunning
	case r.refuse[s.Type]:
		r.refused = append(r.refused, s)
		return sluice.Refused(fmt.Errorf("%s is not welcome here", s.Type))
	}
	r.accepted = append(r.accepted, s)
	return nil
}

func (r *fakeReceiver) setRunning(b bool) {
	r.mu.Lock()
	r.running = b
	r.mu.Unlock()
}

// waitFor waits until cond holds on the receiver's state.
func (r *fakeReceiver) waitFor(t *testing.T, what string, cond func(r *fakeReceiver) bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s: accepted %v, refused %v, %d offers", what, ids(r.accepted), ids(r.refused), r.offers)
		}
	}
}

func ids(ss []sluice.Signal) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

// kenv is one test's topic and group on the real broker.
type kenv struct {
	t       *testing.T
	brokers string
	topic   string
	cl      *kgo.Client
	adm     *kadm.Client
}

// newKenv makes a test's topic name, and the topic (one partition) when
// create is set; the topic is deleted at the end.
func newKenv(t *testing.T, create bool) *kenv {
	t.Helper()
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	name := fmt.Sprintf("sluice-signals-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano()%1000000)
	testenv.DeleteTopicsAtEnd(t, brokers, name)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	e := &kenv{t: t, brokers: brokers, topic: name, cl: cl, adm: kadm.NewClient(cl)}
	if !create {
		return e
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.adm.CreateTopic(ctx, 1, -1, nil, name); err != nil {
		t.Fatal(err)
	}
	return e
}

// channel builds the Kafka channel of pipeline "shop" (topic prefix
// "shopdb") reading e's topic with group; it deletes the group at the end.
func (e *kenv) channel(group string, counter *sluice.SignalCounter) *Kafka {
	e.t.Helper()
	return e.channelWith(group, counter, map[string]any{"brokers": strings.Split(e.brokers, ",")})
}

// channelWith is channel with the connection settings of block.
func (e *kenv) channelWith(group string, counter *sluice.SignalCounter, block map[string]any) *Kafka {
	e.t.Helper()
	block["topic"], block["group"] = e.topic, group
	k, err := New(map[string]any{"kafka": block},
		Env{Pipeline: "shop", TopicPrefix: "shopdb", Path: "pipelines.shop.signals", Logger: zaptest.NewLogger(e.t), Signals: counter})
	if err != nil || k == nil {
		e.t.Fatalf("New: %v, %v", k, err)
	}
	k.minWait, k.maxWait = 20*time.Millisecond, 600*time.Millisecond
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.adm.DeleteGroups(ctx, group)
	})
	return k
}

// run runs k until the returned stop is called (or the test ends).
func (e *kenv) run(k *Kafka, recv sluice.SignalReceiver) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx, recv) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// committed is the group's committed offset of the topic's partition 0,
// or -1.
func (e *kenv) committed(group string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := e.adm.FetchOffsets(ctx, group)
	if err != nil {
		return -1
	}
	if o, ok := offs.Lookup(e.topic, 0); ok && o.Err == nil {
		return o.At
	}
	return -1
}

// waitCommitted waits until the group committed at least offset.
func (e *kenv) waitCommitted(group string, offset int64) {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for e.committed(group) < offset {
		if time.Now().After(deadline) {
			e.t.Fatalf("group %s committed %d, waiting for %d", group, e.committed(group), offset)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// produce writes records (key, value) and returns the offset of the last.
func (e *kenv) produce(recs ...[2]string) int64 {
	e.t.Helper()
	var last int64
	for _, kv := range recs {
		r := &kgo.Record{Topic: e.topic, Key: []byte(kv[0]), Value: []byte(kv[1])}
		if err := e.cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			e.t.Fatal(err)
		}
		last = r.Offset
	}
	return last
}

func sig(id, typ, data string) string {
	return string(sluice.EncodeSignal(sluice.Signal{ID: id, Type: typ, Data: data}))
}

// TestKafkaChannelDelivers: the records keyed for the pipeline (by name
// or topic prefix) reach the source in topic order; others are skipped; a
// refused and a malformed signal are counted, committed and never stop
// the channel.
func TestKafkaChannelDelivers(t *testing.T) {
	e := newKenv(t, false) // the channel creates it
	counter := &sluice.SignalCounter{}
	k := e.channel(e.topic, counter)
	recv := newReceiver(true, sluice.SignalStopSnapshot)
	e.run(k, recv)
	e.waitCommitted(e.topic, 0) // started: the new group is at the topic's end
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if td, err := e.adm.ListTopics(ctx, e.topic); err != nil || len(td[e.topic].Partitions) != 1 {
		t.Fatalf("the channel created the topic with %d partitions (%v), want 1", len(td[e.topic].Partitions), err)
	}
	last := e.produce(
		[2]string{"shop", sig("a", sluice.SignalLog, `{"message":"hello"}`)},
		[2]string{"other", sig("b", sluice.SignalLog, `{"message":"not for shop"}`)},
		[2]string{"shopdb", `{"id":"c","type":"execute-snapshot","data":{"data-collections": ["public.t"], "type": "incremental"}}`},
		[2]string{"shop", `{"id":"d","type":"log","data":`},
		[2]string{"shop", sig("e", sluice.SignalStopSnapshot, "")},
		[2]string{"shop", `{"id":"f","type":"log","data":"{\"message\":\"as a string\"}"}`},
		[2]string{"shop", `{"type":"pause-snapshot"}`},
		[2]string{"shop", `{"id":"h","data":{}}`},
		[2]string{"", sig("i", sluice.SignalLog, `{"message":"no key"}`)},
	)
	recv.waitFor(t, "the signals", func(r *fakeReceiver) bool { return len(r.accepted) >= 4 && len(r.refused) >= 1 })
	e.waitCommitted(e.topic, last+1)

	recv.mu.Lock()
	got := ids(recv.accepted)
	data := map[string]string{}
	for _, s := range recv.accepted {
		data[s.ID] = s.Data
	}
	refused := ids(recv.refused)
	recv.mu.Unlock()
	paused := fmt.Sprintf("kafka-%s-0-6", e.topic)
	if want := []string{"a", "c", "f", paused}; !slices.Equal(got, want) {
		t.Errorf("accepted %v, want %v", got, want)
	}
	if want := []string{"e"}; !slices.Equal(refused, want) {
		t.Errorf("refused %v, want %v", refused, want)
	}
	for id, want := range map[string]string{"a": `{"message":"hello"}`, "c": `{"data-collections":["public.t"],"type":"incremental"}`,
		"f": `{"message":"as a string"}`, paused: ""} {
		if data[id] != want {
			t.Errorf("signal %s: data %q, want %q", id, data[id], want)
		}
	}
	wantCounts := map[sluice.SignalCount]int64{
		{Channel: sluice.ChannelKafka, Type: sluice.SignalLog, Result: "accepted"}:             2,
		{Channel: sluice.ChannelKafka, Type: sluice.SignalExecuteSnapshot, Result: "accepted"}: 1,
		{Channel: sluice.ChannelKafka, Type: sluice.SignalPauseSnapshot, Result: "accepted"}:   1,
		{Channel: sluice.ChannelKafka, Type: sluice.SignalStopSnapshot, Result: "refused"}:     1,
		{Channel: sluice.ChannelKafka, Type: "unknown", Result: "refused"}:                     2, // d: not JSON; h: no type
	}
	if got := counter.Counts(); !maps(got, wantCounts) {
		t.Errorf("counts %v, want %v", got, wantCounts)
	}
}

func maps(a, b map[sluice.SignalCount]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestKafkaChannelWaitsForTheSource: while the source is not running, the
// signal is kept (not committed, not skipped, the next one not offered)
// and offered again with backoff; once it runs, both arrive in order,
// once each.
func TestKafkaChannelWaitsForTheSource(t *testing.T) {
	e := newKenv(t, true)
	counter := &sluice.SignalCounter{}
	k := e.channel(e.topic, counter)
	recv := newReceiver(false)
	e.run(k, recv)
	e.waitCommitted(e.topic, 0)
	first := e.produce([2]string{"shop", sig("a", sluice.SignalLog, `{"message":"one"}`)}, [2]string{"shop", sig("b", sluice.SignalLog, `{"message":"two"}`)}) - 1
	start := time.Now()
	recv.waitFor(t, "the signal offered again", func(r *fakeReceiver) bool { return r.offers >= 4 })
	// Backoff, not a spin: 4 offers with waits from 20ms doubling.
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("4 offers in %v: no backoff", took)
	}
	if c := e.committed(e.topic); c != first {
		t.Errorf("committed %d while the source was not running, want %d", c, first)
	}
	if n := len(counter.Counts()); n != 0 {
		t.Errorf("counted %v before the source took the signal", counter.Counts())
	}
	recv.setRunning(true)
	recv.waitFor(t, "both signals", func(r *fakeReceiver) bool { return len(r.accepted) >= 2 })
	e.waitCommitted(e.topic, first+2)
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if got := ids(recv.accepted); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("accepted %v, want [a b]", got)
	}
}

// TestKafkaChannelRestart: a new group starts at the topic's end (a
// signal written before the pipeline ever ran is not replayed); after a
// restart with the same group, a committed signal is not offered again
// and one written while the channel was down is.
func TestKafkaChannelRestart(t *testing.T) {
	e := newKenv(t, true)
	before := e.produce([2]string{"shop", sig("old", sluice.SignalLog, `{"message":"before the pipeline existed"}`)})
	group := e.topic
	recv := newReceiver(true)
	stop := e.run(e.channel(group, nil), recv)
	e.waitCommitted(group, before+1)
	a := e.produce([2]string{"shop", sig("a", sluice.SignalLog, `{"message":"one"}`)})
	recv.waitFor(t, "signal a", func(r *fakeReceiver) bool { return len(r.accepted) >= 1 })
	e.waitCommitted(group, a+1)
	stop()
	recv.mu.Lock()
	if got := ids(recv.accepted); !slices.Equal(got, []string{"a"}) {
		t.Errorf("first run accepted %v, want [a]", got)
	}
	recv.mu.Unlock()

	b := e.produce([2]string{"shop", sig("b", sluice.SignalLog, `{"message":"while down"}`)})
	recv2 := newReceiver(true)
	e.run(e.channel(group, nil), recv2)
	recv2.waitFor(t, "signal b", func(r *fakeReceiver) bool { return len(r.accepted) >= 1 })
	e.waitCommitted(group, b+1)
	recv2.mu.Lock()
	defer recv2.mu.Unlock()
	// Offered in topic order: a redelivered a would come before b.
	if got := ids(recv2.accepted); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after the restart accepted %v, want [b]", got)
	}
}

// TestKafkaChannelSecure: the channel connects as the kafka sink does,
// here through the broker's SASL_SSL listener (TLS with the test CA,
// SASL PLAIN).
func TestKafkaChannelSecure(t *testing.T) {
	e := newKenv(t, true)
	secure := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_SECURE_BROKERS"), ",")
	caFile := testenv.Get(t, "SLUICE_TEST_KAFKA_CA_FILE")
	user, password := testenv.Get(t, "SLUICE_TEST_KAFKA_SASL_USERNAME"), testenv.Get(t, "SLUICE_TEST_KAFKA_SASL_PASSWORD")
	recv := newReceiver(true)
	e.run(e.channelWith(e.topic, nil, map[string]any{"brokers": secure, "tls": map[string]any{"enabled": true, "ca_file": caFile},
		"sasl": map[string]any{"mechanism": "PLAIN", "username": user, "password": password}}), recv)
	e.waitCommitted(e.topic, 0)
	a := e.produce([2]string{"shop", sig("a", sluice.SignalLog, `{"message":"over TLS"}`)})
	recv.waitFor(t, "signal a", func(r *fakeReceiver) bool { return len(r.accepted) == 1 })
	e.waitCommitted(e.topic, a+1)
}

// TestKafkaChannelConfig: the block's errors name their keys.
func TestKafkaChannelConfig(t *testing.T) {
	for _, c := range []struct {
		raw  map[string]any
		want []string
	}{
		{map[string]any{"kafka": map[string]any{}}, []string{"pipelines.shop.signals.kafka.brokers: required", "pipelines.shop.signals.kafka.topic: required"}},
		{map[string]any{"kafka": map[string]any{"brokers": []any{"b:9092"}, "topic": "s", "sasl": map[string]any{"mechanism": "NOPE"}}}, []string{"pipelines.shop.signals.kafka.sasl.mechanism"}},
		{map[string]any{"kafka": map[string]any{"brokers": []any{"b:9092"}, "topic": "s", "topics": "x"}}, []string{"pipelines.shop.signals.kafka.topics: unknown key"}},
		{map[string]any{"kafka": map[string]any{"brokers": []any{"b:9092"}, "tpoic": "s"}}, []string{"pipelines.shop.signals.kafka.tpoic: unknown key", "pipelines.shop.signals.kafka.topic: required"}},
		{map[string]any{"file": map[string]any{}}, []string{"pipelines.shop.signals.file: unknown key"}},
	} {
		_, err := New(c.raw, Env{Pipeline: "shop", Path: "pipelines.shop.signals"})
		testenv.WantError(t, err, c.want)
	}
	k, err := New(map[string]any{"kafka": map[string]any{"brokers": []any{"b:9092"}, "topic": "s"}}, Env{Pipeline: "shop", Path: "p"})
	if err != nil || k.Group() != "sluice-signals-shop" {
		t.Errorf("defaults: %v, group %q", err, k.Group())
	}
	if k, err := New(nil, Env{Pipeline: "shop"}); k != nil || err != nil {
		t.Errorf("no block: %v, %v", k, err)
	}
}
