package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
)

// change is a Debezium JSON change event (no schemas) of row id at lsn.
func change(topic string, id, lsn int) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, `{"id":%d}`, id),
		Value: fmt.Appendf(nil, `{"before":null,"after":{"id":%d,"v":"x"},"source":{"connector":"postgresql","name":"t","db":"d","schema":"public","table":"t","lsn":%d,"ts_ms":1700000000000},"op":"c","ts_ms":1}`, id, lsn)}
}

// run runs a source of group on topic until want change events arrived
// (confirming each mark when confirm is set), then stops it and returns
// the ids read.
func run(t *testing.T, brokers, topic, group string, want int, confirm bool) []int64 {
	t.Helper()
	s, err := source.Build(New, map[string]any{"brokers": []string{brokers}, "topics": []string{topic}, "group": group,
		"commit_interval": "50ms", "drain_timeout": "2s", "dead_letter_topic": topic + ".dlq"},
		source.Env{Pipeline: "p", Path: "source", Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan int64, 1000)
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, func(ev *sluice.Event) error {
			switch {
			case ev.Op == sluice.OpMark && confirm:
				s.Confirm(ev.Pos)
			case ev.Op == sluice.OpCreate:
				got <- ev.After[0].Int
			}
			return nil
		})
	}()
	var ids []int64
	deadline := time.After(60 * time.Second)
	for len(ids) < want {
		select {
		case id := <-got:
			ids = append(ids, id)
		case err := <-done:
			t.Fatalf("source stopped after %d of %d events: %v", len(ids), want, err)
		case <-deadline:
			t.Fatalf("%d of %d events in 60s", len(ids), want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	select {
	case id := <-got:
		t.Fatalf("more events than %d: id %d", want, id)
	default:
	}
	return ids
}

// TestOffsetsFollowConfirmation: offsets are committed only for what the
// runner confirmed: unconfirmed records are read again by the next
// member of the group, confirmed ones never; unreadable records go to
// the dead-letter topic with the reason, and their offsets pass.
func TestOffsetsFollowConfirmation(t *testing.T) {
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	name := fmt.Sprintf("sluice_kafkasrc_%d", time.Now().UnixNano()%1000000)
	testenv.DeleteTopicsAtEnd(t, brokers, name)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { adm.DeleteGroups(context.Background(), name) })
	var recs []*kgo.Record
	for i := 1; i <= 20; i++ {
		recs = append(recs, change(name, i, 1000+i))
	}
	recs = append(recs, &kgo.Record{Topic: name, Key: []byte(`{"id":99}`), Value: []byte("not json")})
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	if ids := run(t, brokers, name, name, 20, false); len(ids) != 20 {
		t.Fatalf("first run: %d events", len(ids))
	}
	committed, err := adm.FetchOffsets(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(committed.Offsets()); n != 0 {
		t.Fatalf("nothing was confirmed, yet %d offsets were committed: %v", n, committed.Offsets())
	}

	if ids := run(t, brokers, name, name, 20, true); len(ids) != 20 {
		t.Fatalf("second run (the unconfirmed records again): %d events", len(ids))
	}
	ends, err := adm.ListEndOffsets(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	committed, err = adm.FetchOffsets(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(name, o.Partition)
		if !ok || c.At != o.Offset {
			t.Errorf("partition %d: committed %v (%v), end %d", o.Partition, c.At, ok, o.Offset)
		}
	})

	if err := cl.ProduceSync(ctx, change(name, 21, 2000), change(name, 22, 2001)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if ids := run(t, brokers, name, name, 2, true); ids[0] < 21 || ids[1] < 21 {
		t.Fatalf("third run read %v: confirmed records again", ids)
	}

	dead := readAll(t, brokers, name+".dlq", 1)
	h := map[string]string{}
	for _, x := range dead[0].Headers {
		h[x.Key] = string(x.Value)
	}
	if string(dead[0].Value) != "not json" || h["__connect.errors.topic"] != name || h["__connect.errors.offset"] == "" ||
		!strings.Contains(h["__connect.errors.exception.message"], "not JSON") || h["__connect.errors.connector.name"] != "p" {
		t.Fatalf("dead letter %q, headers %v", dead[0].Value, h)
	}
}

// readAll reads n records of topic from the start.
func readAll(t *testing.T, brokers, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d records of %s in 30s", len(out), n, topic)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// TestStopBeforeConsumingIsClean: a source stopped before it reached the
// brokers returns nil, a clean stop, not "connect …: context canceled",
// which the pipeline would count as a failure.
func TestStopBeforeConsumingIsClean(t *testing.T) {
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	s, err := source.Build(New, map[string]any{"brokers": []string{brokers}, "topics": []string{"sluice_test_stop_before"}, "group": "sluice_test_stop_before"},
		source.Env{Pipeline: "p", Path: "source", Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx, func(*sluice.Event) error { return nil }); err != nil {
		t.Fatalf("Run stopped before it started: %v; want a clean stop", err)
	}
}
