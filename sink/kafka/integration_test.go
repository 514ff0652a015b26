package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

const itPartitions = 3

// itRun is one sink run against the real broker: fresh topics (a new
// prefix), every event written, the sink closed, the acks collected and
// the topics read back.
type itRun struct {
	prefix     string
	enc        *codec.Encoder
	adm        *kadm.Client
	tableTopic string
	msgTopic   string
	acks       []error // per event; every event acked exactly once
	stats      Stats
}

// runSink writes events through a kafka sink configured with raw (plus
// brokers, unless raw names its own, and a 1ms linger) and checks the ack
// contract: one call per event (marks among events go to WriteMark, as the
// runner hands them over). brokers (plaintext) also serve the topic
// clean-up. encoding, when given, changes the encoder's options.
func runSink(ctx context.Context, t *testing.T, brokers []string, raw map[string]any, events []*sluice.Event, encoding ...func(*codec.Options)) *itRun {
	t.Helper()
	r := &itRun{prefix: fmt.Sprintf("sluicetest%d", time.Now().UnixNano())}
	r.tableTopic = r.prefix + ".public.orders"
	r.msgTopic = r.prefix + ".message"
	opt := codec.Options{Name: r.prefix, Connector: "postgresql", DB: "shop"}
	for _, f := range encoding {
		f(&opt)
	}
	var err error
	r.enc, err = codec.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	r.adm = kadm.NewClient(admCl)
	t.Cleanup(func() {
		// Leave the shared broker as we found it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := r.adm.DeleteTopics(ctx, r.tableTopic, r.msgTopic, r.prefix+".transaction", r.prefix+".public."+keylessTable.Name); err != nil {
			t.Logf("delete topics: %v", err)
		}
		admCl.Close()
	})

	if _, ok := raw["brokers"]; !ok { // else brokers are for the checks only
		raw["brokers"] = brokers
	}
	raw["linger"] = "1ms"
	env := sink.Env{Pipeline: "it", Path: "pipelines.it.sinks.kafka", Encoder: r.enc,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}
	s, err := sink.Build(New, raw, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := make([]int, len(events))
	r.acks = make([]error, len(events))
	for i, ev := range events {
		ack := func(err error) {
			mu.Lock()
			defer mu.Unlock()
			calls[i]++
			r.acks[i] = err
		}
		var werr error
		if ev.Op == sluice.OpMark { // as the runner hands marks over
			werr = s.WriteMark(ctx, ev, ack)
		} else {
			werr = s.Write(ctx, ev, ack)
		}
		if werr != nil {
			t.Logf("Write event %d: %v", i, werr)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, n := range calls {
		if n != 1 {
			t.Errorf("event %d acked %d times, want once", i, n)
		}
	}
	r.stats = s.Stats()
	return r
}

// TestKafkaIntegration writes hand-built events through the sink to a real
// broker with compacted topics and 3 partitions, and
// reads them back with a plain consumer.
func TestKafkaIntegration(t *testing.T) {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// The events, in commit order.
	var events []*sluice.Event
	var inserts []*sluice.Event
	for id := int64(1); id <= 12; id++ {
		inserts = append(inserts, insertEvent(id, fmt.Sprintf("order %d", id)))
	}
	events = append(events, clock.Tx(inserts...)...)
	events = append(events, clock.Tx(updateEvent(1, eventtest.Text("changed")), updateEvent(2, eventtest.Unchanged))...)
	events = append(events, clock.Tx(deleteEvent(3))...)
	kcDel, kcCre := keyChange(4, 104, "moved")
	events = append(events, clock.Tx(kcDel, kcCre)...)
	truncate := len(events)
	events = append(events, clock.Tx(eventtest.Truncate(eventtest.Orders))...)
	events = append(events, clock.Tx(eventtest.Message("audit", `{"who":"me"}`), insertEvent(13, "after the truncate"))...)

	run := runSink(ctx, t, brokers, map[string]any{
		"topic_creation": map[string]any{
			"partitions":     itPartitions,
			"cleanup_policy": "compact",
			"configs":        map[string]any{"retention.ms": "3600000"},
		},
	}, events, func(o *codec.Options) { o.SkippedOperations = "none" })
	enc, adm, tableTopic, msgTopic := run.enc, run.adm, run.tableTopic, run.msgTopic

	// Every event is acknowledged with nil. The truncate is among them,
	// but without a record: a compacted topic cannot hold a keyless one.
	for i, err := range run.acks {
		if err != nil {
			t.Errorf("event %d acked with %v", i, err)
		}
	}
	if st := run.stats; st.Events != uint64(len(events)) || st.EventErrors != 0 || st.TopicsCreated != 2 || st.TruncatesSkipped != 1 {
		t.Errorf("stats = %+v, want %d events, 0 errors, 2 topics created, 1 truncate skipped", st, len(events))
	}

	// The topics exist with the configured partition count and policy.
	details, err := adm.ListTopics(ctx, tableTopic, msgTopic)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{tableTopic, msgTopic} {
		d, ok := details[topic]
		if !ok || d.Err != nil {
			t.Fatalf("topic %s not found: %v", topic, d.Err)
		}
		if got := len(d.Partitions); got != itPartitions {
			t.Errorf("topic %s has %d partitions, want %d", topic, got, itPartitions)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, tableTopic)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rcs {
		want := map[string]string{"cleanup.policy": "compact", "retention.ms": "3600000"}
		for _, c := range rc.Configs {
			if w, ok := want[c.Key]; ok {
				if c.MaybeValue() != w {
					t.Errorf("topic config %s = %q, want %q", c.Key, c.MaybeValue(), w)
				}
				delete(want, c.Key)
			}
		}
		if len(want) > 0 {
			t.Errorf("topic configs missing: %v", want)
		}
	}

	// Read everything back: each event but the truncate once, plus a
	// tombstone after each of the two deletes.
	_, keysOK := enc.AppendKey(nil, events[0])
	wantRecords := len(events) - 1
	if keysOK {
		wantRecords += 2
	} else {
		t.Log("codec yields no keys yet: tombstone and partition checks are vacuous")
	}
	recs := consumeAll(ctx, t, brokers, wantRecords, tableTopic, msgTopic)

	// Index records by event id; a tombstone follows its change.
	byID := map[string][]*kgo.Record{}
	for _, r := range recs {
		id := header(r, codec.EventIDHeader)
		if id == nil {
			t.Errorf("record %s/%d@%d has no %s header", r.Topic, r.Partition, r.Offset, codec.EventIDHeader)
			continue
		}
		byID[string(id)] = append(byID[string(id)], r)
	}

	partitionsUsed := map[int32]bool{}
	for i, ev := range events {
		if i == truncate {
			continue
		}
		id := string(codec.AppendEventID(nil, ev))
		got := byID[id]
		wantKey, hasKey := enc.AppendKey(nil, ev)
		if !hasKey {
			wantKey = nil
		}
		tombstone := ev.Op == sluice.OpDelete && hasKey
		wantN := 1
		if tombstone {
			wantN = 2
		}
		if len(got) != wantN {
			t.Errorf("event %d (%c, id %s): %d records, want %d", i, ev.Op, id, len(got), wantN)
			continue
		}
		r := got[0]
		wantTopic := tableTopic
		if ev.Op == sluice.OpMessage {
			wantTopic = msgTopic
		}
		if r.Topic != wantTopic {
			t.Errorf("event %d: topic %s, want %s", i, r.Topic, wantTopic)
		}
		if !bytes.Equal(r.Key, wantKey) || (r.Key == nil) != (wantKey == nil) {
			t.Errorf("event %d: key %q, want %q", i, r.Key, wantKey)
		}
		if !json.Valid(r.Value) {
			t.Errorf("event %d: value is not JSON: %q", i, r.Value)
		}
		if r.Key != nil {
			if want := testenv.JavaPartition(r.Key, itPartitions); r.Partition != want {
				t.Errorf("event %d: key %s in partition %d, Java's murmur2 says %d", i, r.Key, r.Partition, want)
			}
			if r.Topic == tableTopic {
				partitionsUsed[r.Partition] = true
			}
		}

		// Out-of-band headers.
		wantUnch, hasUnch := codec.AppendUnchanged(nil, ev)
		if h := header(r, codec.UnchangedHeader); hasUnch != (h != nil) || !bytes.Equal(h, wantUnch) {
			t.Errorf("event %d: %s header %q, want %q (present %v)", i, codec.UnchangedHeader, h, wantUnch, hasUnch)
		}
		var wantOther []byte
		otherName := ""
		if ev.OtherKey != nil {
			wantOther = enc.AppendKeyRow(nil, ev.Table, ev.OtherKey)
			otherName = map[sluice.Op]string{sluice.OpDelete: codec.NewKeyHeader, sluice.OpCreate: codec.OldKeyHeader}[ev.Op]
		}
		for _, name := range []string{codec.NewKeyHeader, codec.OldKeyHeader} {
			h := header(r, name)
			switch {
			case name == otherName && !bytes.Equal(h, wantOther):
				t.Errorf("event %d: %s header %q, want %q", i, name, h, wantOther)
			case name != otherName && h != nil:
				t.Errorf("event %d: unexpected %s header %q", i, name, h)
			}
		}

		if tombstone {
			ts := got[1]
			switch {
			case ts.Value != nil:
				t.Errorf("event %d: record after the delete has value %q, want a tombstone", i, ts.Value)
			case !bytes.Equal(ts.Key, r.Key):
				t.Errorf("event %d: tombstone key %q, delete key %q", i, ts.Key, r.Key)
			case ts.Topic != r.Topic || ts.Partition != r.Partition || ts.Offset != r.Offset+1:
				t.Errorf("event %d: tombstone at %s/%d@%d, delete at %s/%d@%d: want the next offset",
					i, ts.Topic, ts.Partition, ts.Offset, r.Topic, r.Partition, r.Offset)
			case !bytes.Equal(header(ts, codec.EventIDHeader), []byte(id)):
				t.Errorf("event %d: tombstone headers %v, want the event id", i, ts.Headers)
			case !bytes.Equal(header(ts, codec.NewKeyHeader), wantOther):
				t.Errorf("event %d: tombstone %s header %q, want the delete's %q", i, codec.NewKeyHeader, header(ts, codec.NewKeyHeader), wantOther)
			}
		}
	}
	if keysOK && len(partitionsUsed) < 2 {
		t.Errorf("13 keys all landed in partitions %v: keys are not being hashed", partitionsUsed)
	}

	// Per key, records are in commit order (offsets grow with event order).
	lastOffset := map[string]int64{}
	for _, ev := range events {
		for _, r := range byID[string(codec.AppendEventID(nil, ev))] {
			if r.Key == nil {
				continue
			}
			k := r.Topic + "|" + string(r.Key)
			if last, ok := lastOffset[k]; ok && r.Offset <= last {
				t.Errorf("key %s: offset %d after %d: out of commit order", r.Key, r.Offset, last)
			}
			lastOffset[k] = r.Offset
		}
	}
}

// With cleanup_policy delete, keyless records (truncate) are produced,
// with a nil key, and tombstones can be turned off.
func TestKafkaIntegrationDeletePolicy(t *testing.T) {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	events := clock.Tx(insertEvent(1, "a"), deleteEvent(1), eventtest.Truncate(eventtest.Orders))
	run := runSink(ctx, t, brokers, map[string]any{
		"tombstones_on_delete": false,
		"topic_creation":       map[string]any{"partitions": 2, "cleanup_policy": "delete"},
	}, events, func(o *codec.Options) { o.SkippedOperations = "none" })
	for i, err := range run.acks {
		if err != nil {
			t.Errorf("event %d acked with %v", i, err)
		}
	}
	recs := consumeAll(ctx, t, brokers, len(events), run.tableTopic)
	byID := map[string]*kgo.Record{}
	for _, r := range recs {
		byID[string(header(r, codec.EventIDHeader))] = r
	}
	for i, ev := range events {
		r := byID[string(codec.AppendEventID(nil, ev))]
		if r == nil {
			t.Errorf("event %d (%c) not found", i, ev.Op)
			continue
		}
		if ev.Op == sluice.OpTruncate && r.Key != nil {
			t.Errorf("truncate key = %q, want nil", r.Key)
		}
		if r.Value == nil {
			t.Errorf("event %d (%c) has a nil value; no tombstones expected", i, ev.Op)
		}
	}
}

// consumeAll reads topics from the start until it has n records.
func consumeAll(ctx context.Context, t *testing.T, brokers []string, n int, topics ...string) []*kgo.Record {
	t.Helper()
	return consumeWith(ctx, t, brokers, n, nil, topics...)
}

// consumeWith is consumeAll with further client options.
func consumeWith(ctx context.Context, t *testing.T, brokers []string, n int, opts []kgo.Opt, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records, want %d: %v", len(recs), n, ctx.Err())
		}
		for _, fe := range fs.Errors() {
			t.Fatalf("fetch %s/%d: %v", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	// Anything beyond n (e.g. a duplicate) shows up with a short extra poll.
	extra, cancelExtra := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelExtra()
	cl.PollFetches(extra).EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	if len(recs) != n {
		t.Errorf("consumed %d records, want exactly %d", len(recs), n)
	}
	return recs
}

func header(r *kgo.Record, key string) []byte {
	for _, h := range r.Headers {
		if h.Key == key {
			if h.Value == nil {
				return []byte{}
			}
			return h.Value
		}
	}
	return nil
}

// BenchmarkKafkaWrite measures Write against the real broker (acks=all,
// lz4, 3 partitions): allocations per event and events per second
// including the wait for every ack.
func BenchmarkKafkaWrite(b *testing.B) {
	brokers := strings.Split(testenv.Get(b, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	prefix := fmt.Sprintf("sluicebench%d", time.Now().UnixNano())
	enc, err := codec.New(codec.Options{Name: prefix, Connector: "postgresql", DB: "shop"})
	if err != nil {
		b.Fatal(err)
	}
	s, err := sink.Build(New, map[string]any{"brokers": brokers, "topic_creation": map[string]any{"partitions": itPartitions}},
		sink.Env{Path: "bench", Encoder: enc, Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	if err := s.Open(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			return
		}
		defer cl.Close()
		_, _ = kadm.NewClient(cl).DeleteTopics(context.Background(), prefix+".public.orders")
	})
	// Warm up: topic creation happens on the first Write.
	if err := s.Write(ctx, insertEvent(0, "warm-up"), func(error) {}); err != nil {
		b.Fatal(err)
	}
	evs := make([]*sluice.Event, 1024)
	for i := range evs {
		evs[i] = insertEvent(int64(i), "a note of about forty bytes in length...")
		evs[i].Pos = sluice.Position{TxLSN: uint64(i) + 1}
		evs[i].TxOrder = 1
	}
	var failed atomic.Int64
	ack := func(err error) {
		if err != nil {
			failed.Add(1)
		}
	}
	b.ReportAllocs()
	start := time.Now()
	i := 0
	for b.Loop() {
		if err := s.Write(ctx, evs[i%len(evs)], ack); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if err := s.Close(ctx); err != nil {
		b.Fatal(err)
	}
	// Until the last ack: Close flushes and waits for them.
	b.ReportMetric(float64(i)/time.Since(start).Seconds(), "acked-events/s")
	if failed.Load() > 0 {
		b.Fatalf("%d events failed", failed.Load())
	}
}

// TestSecureListener connects through the test broker's SASL_SSL listener
// (TLS with the test CA, SASL PLAIN): events arrive; a wrong password and
// an unknown CA are connection errors that say so.
func TestSecureListener(t *testing.T) {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	secure := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_SECURE_BROKERS"), ",")
	caFile := testenv.Get(t, "SLUICE_TEST_KAFKA_CA_FILE")
	user, password := testenv.Get(t, "SLUICE_TEST_KAFKA_SASL_USERNAME"), testenv.Get(t, "SLUICE_TEST_KAFKA_SASL_PASSWORD")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	secureRaw := func(tls map[string]any, pw string) map[string]any {
		return map[string]any{"brokers": secure, "tls": tls,
			"sasl": map[string]any{"mechanism": "PLAIN", "username": user, "password": pw}}
	}

	events := clock.Tx(insertEvent(1, "a"), insertEvent(2, "b"))
	run := runSink(ctx, t, brokers, secureRaw(map[string]any{"enabled": true, "ca_file": caFile}, password), events)
	for i, err := range run.acks {
		if err != nil {
			t.Errorf("event %d acked with %v", i, err)
		}
	}
	if recs := consumeAll(ctx, t, brokers, len(events), run.tableTopic); len(recs) != len(events) {
		t.Fatalf("%d records through the secure listener, want %d", len(recs), len(events))
	}

	for _, c := range []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"wrong password", secureRaw(map[string]any{"enabled": true, "ca_file": caFile}, "wrong"), "SASL"},
		{"unknown CA", secureRaw(map[string]any{"enabled": true}, password), "certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := sink.Env{Pipeline: "it", Path: "pipelines.it.sinks.kafka", Encoder: run.enc,
				Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))}
			s, err := sink.Build(New, c.raw, env)
			if err != nil {
				t.Fatal(err)
			}
			octx, ocancel := context.WithTimeout(ctx, 20*time.Second)
			defer ocancel()
			err = s.Open(octx)
			if err == nil {
				s.Close(ctx)
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), password) {
				t.Errorf("Open: %v; want an error about %s that does not show the password", err, c.want)
			}
		})
	}
}
