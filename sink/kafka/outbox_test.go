package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
)

// Outbox events go to the topic the transform chose (ev.Topic), created
// on first use, with the codec's key and value and the headers "id" and
// the placed columns before sluice's event id; an expanded payload with
// schemas is refused through the ack.
func TestOutboxRecords(t *testing.T) {
	brokers := kafkaBrokers(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	topic := fmt.Sprintf("sluicetest%d.outbox.event.order", time.Now().UnixNano())
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := kadm.NewClient(admCl).DeleteTopics(ctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
		admCl.Close()
	})
	m := &sluice.Outbox{ID: 0, Key: 1, Payload: 1, Headers: []sluice.OutboxHeader{{Column: 1, Name: "note"}}}
	ev := insertEvent(7, "order-7")
	ev.Outbox, ev.Topic = m, topic
	bad := insertEvent(8, "x")
	bad.Outbox, bad.Topic = &sluice.Outbox{ID: 0, Key: 1, Payload: 1, ExpandJSON: true}, topic

	run := runSink(ctx, t, brokers, deletePolicy(), clock.Tx(ev))
	if run.acks[0] != nil {
		t.Fatalf("acked with %v", run.acks[0])
	}
	recs := consumeAll(ctx, t, brokers, 1, topic)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	r := recs[0]
	if string(r.Key) != `"order-7"` || string(r.Value) != `"order-7"` {
		t.Errorf("key %s, value %s", r.Key, r.Value)
	}
	var names []string
	for _, h := range r.Headers {
		names = append(names, h.Key)
	}
	if want := []string{"id", "note", codec.EventIDHeader}; !slices.Equal(names, want) {
		t.Errorf("headers %v, want %v", names, want)
	}
	if h := header(r, "id"); string(h) != `{"schema":{"type":"int32","optional":false},"payload":7}` {
		t.Errorf("id header %s", h)
	}

	run = runSink(ctx, t, brokers, deletePolicy(), clock.Tx(bad), func(o *codec.Options) { o.Schemas = true })
	if run.acks[0] == nil || !strings.Contains(run.acks[0].Error(), "expand_json_payload") {
		t.Errorf("expanded payload with schemas acked with %v", run.acks[0])
	}
}
