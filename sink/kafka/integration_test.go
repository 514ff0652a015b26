package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

const itPartitions = 3

// TestKafkaIntegration writes hand-built events through the sink to a real
// broker and reads them back with a plain consumer.
func TestKafkaIntegration(t *testing.T) {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// A fresh prefix per run, so topics are new and created by the sink.
	prefix := fmt.Sprintf("sluicetest%d", time.Now().UnixNano())
	enc, err := codec.New(codec.Options{Name: prefix, Connector: "postgresql", DB: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	env := sink.Env{Pipeline: "it", Path: "pipelines.it.sinks.kafka", Encoder: enc,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}
	raw := map[string]any{
		"type":    "kafka",
		"brokers": brokers,
		"linger":  "1ms",
		"topic_creation": map[string]any{
			"partitions": itPartitions,
			"configs":    map[string]any{"retention.ms": "3600000"},
		},
	}
	s, err := NewSink(raw, env)
	if err != nil {
		t.Fatal(err)
	}
	tableTopic := prefix + ".public.orders"
	msgTopic := prefix + ".message"

	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	t.Cleanup(func() {
		// Leave the shared broker as we found it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, tableTopic, msgTopic); err != nil {
			t.Logf("delete topics: %v", err)
		}
	})

	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}

	// The events, in commit order.
	var events []*sluice.Event
	var inserts []*sluice.Event
	for id := int64(1); id <= 12; id++ {
		inserts = append(inserts, insertEvent(id, fmt.Sprintf("order %d", id)))
	}
	events = append(events, tx(inserts...)...)
	events = append(events, tx(updateEvent(1, textVal("changed")), updateEvent(2, unchanged))...)
	events = append(events, tx(deleteEvent(3))...)
	kcDel, kcCre := keyChange(4, 104, "moved")
	events = append(events, tx(kcDel, kcCre)...)
	events = append(events, tx(truncateEvent())...)
	events = append(events, tx(messageEvent("audit", `{"who":"me"}`))...)

	// Write them all, then Close (flush); every ack must have been called
	// once, with nil.
	var mu sync.Mutex
	acks := make([]int, len(events))
	var ackErrs []error
	for i, ev := range events {
		i := i
		if err := s.Write(ctx, ev, func(err error) {
			mu.Lock()
			defer mu.Unlock()
			acks[i]++
			if err != nil {
				ackErrs = append(ackErrs, fmt.Errorf("event %d: %w", i, err))
			}
		}); err != nil {
			t.Fatalf("Write event %d: %v", i, err)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	mu.Lock()
	for i, n := range acks {
		if n != 1 {
			t.Errorf("event %d acked %d times, want once", i, n)
		}
	}
	for _, err := range ackErrs {
		t.Errorf("ack error: %v", err)
	}
	mu.Unlock()
	if st := s.Stats(); st.Events != uint64(len(events)) || st.EventErrors != 0 || st.TopicsCreated != 2 {
		t.Errorf("stats = %+v, want %d events, 0 errors, 2 topics created", st, len(events))
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

	// Read everything back. Two deletes with keys add two tombstones.
	_, keysOK := enc.AppendKey(nil, events[0])
	wantRecords := len(events)
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
			if want := javaPartition(r.Key, itPartitions); r.Partition != want {
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
			case len(ts.Headers) != 1:
				t.Errorf("event %d: tombstone headers %v, want only the event id", i, ts.Headers)
			}
		}
	}
	if keysOK && len(partitionsUsed) < 2 {
		t.Errorf("12+ keys all landed in partitions %v: keys are not being hashed", partitionsUsed)
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

// consumeAll reads topics from the start until it has n records.
func consumeAll(ctx context.Context, t *testing.T, brokers []string, n int, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
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
