package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/avrotest"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestAvroIntegration writes inserts, an update, a NULL and a delete with
// its tombstone through a sink with format avro to a real broker and a
// real registry (Apicurio). A plain consumer then reads every record's
// schema id from Confluent's wire format, fetches the schema by id from
// the registry, decodes the body with an independent Avro implementation
// and finds the values of the JSON the same events give with format json.
// The subjects are TopicNameStrategy's, and the test deletes them.
func TestAvroIntegration(t *testing.T) {
	brokers := []string{testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")}
	regURL := testenv.Get(t, "SLUICE_TEST_REGISTRY_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := avrotest.AdminClient(t, regURL)

	var events []*sluice.Event
	events = append(events, clock.Tx(insertEvent(1, "first"), insertEvent(2, "second"))...)
	events = append(events, clock.Tx(updateEvent(1, sluice.Value{Kind: sluice.KindNull}))...)
	events = append(events, clock.Tx(deleteEvent(2))...)
	raw := map[string]any{"format": "avro", "registry": map[string]any{"url": regURL}}
	r := runSink(ctx, t, brokers, raw, events)
	avrotest.DeleteSubjectsAtEnd(t, admin, r.tableTopic+"-key", r.tableTopic+"-value")
	for i, err := range r.acks {
		if err != nil {
			t.Fatalf("event %d acked with %v", i, err)
		}
	}
	recs := consumeAll(ctx, t, brokers, 5, r.tableTopic)

	// The same events as JSON: the values every Avro body must hold.
	opt := r.enc.Options()
	opt.Typed = true
	jenc, err := codec.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := map[string]int{}
	var wantVals [][]byte
	for _, ev := range events {
		k, _ := jenc.AppendKey(nil, ev)
		wantKeys[string(k)]++
		wantVals = append(wantVals, jenc.AppendValue(nil, ev))
	}
	wantKeys[`{"id":2}`]++ // the tombstone's

	schemas := map[int]string{}
	decode := func(what string, b []byte, want [][]byte) {
		t.Helper()
		id, body, err := avrotest.Wire(b)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		s, ok := schemas[id]
		if !ok {
			if s, err = avrotest.SchemaByID(ctx, admin, id); err != nil {
				t.Fatalf("%s: schema %d: %v", what, id, err)
			}
			schemas[id] = s
		}
		for _, js := range want {
			// The envelope's own ts_ms/us/ns are when it was written.
			if diff, err := avrotest.Compare(s, body, js, ".ts_ms", ".ts_us", ".ts_ns"); err == nil && diff == "" {
				return
			}
		}
		t.Errorf("%s: schema %d: no JSON event has these values", what, id)
	}
	tombstones := 0
	for _, rec := range recs {
		var keys [][]byte
		for k := range wantKeys {
			keys = append(keys, []byte(k))
		}
		decode("key", rec.Key, keys)
		if rec.Value == nil {
			tombstones++
			continue
		}
		decode(fmt.Sprintf("value at offset %d", rec.Offset), rec.Value, wantVals)
	}
	if tombstones != 1 {
		t.Errorf("%d tombstones, want 1", tombstones)
	}
	subjects, err := admin.Subjects(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{r.tableTopic + "-key", r.tableTopic + "-value"} {
		if !slices.Contains(subjects, s) {
			t.Errorf("subject %s not registered; have %v", s, subjects)
		}
	}
	if len(schemas) != 2 {
		t.Errorf("%d schema ids used, want 2 (key and value)", len(schemas))
	}
}

// TestAvroTransactionAndMessages: with format avro, the transaction
// topic's BEGIN and END and a logical message are Avro too, each under
// its topic's subjects, and decode to what they say.
func TestAvroTransactionAndMessages(t *testing.T) {
	brokers := []string{testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")}
	regURL := testenv.Get(t, "SLUICE_TEST_REGISTRY_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := avrotest.AdminClient(t, regURL)

	tx := clock.Tx(insertEvent(1, "first"), eventtest.Message("audit", `{"who":"me"}`))
	events := append(tx, txMark(tx[0]))
	raw := map[string]any{"format": "avro", "registry": map[string]any{"url": regURL}}
	r := runSink(ctx, t, brokers, raw, events, func(o *codec.Options) { o.TransactionMetadata = true })
	txTopic := r.prefix + ".transaction"
	var subjects []string
	for _, topic := range []string{r.tableTopic, r.msgTopic, txTopic} {
		subjects = append(subjects, topic+"-key", topic+"-value")
	}
	avrotest.DeleteSubjectsAtEnd(t, admin, subjects...)
	for i, err := range r.acks {
		if err != nil {
			t.Fatalf("event %d acked with %v", i, err)
		}
	}
	recs := consumeAll(ctx, t, brokers, 4, r.tableTopic, r.msgTopic, txTopic)
	decode := func(b []byte) map[string]any {
		t.Helper()
		_, v, err := avrotest.DecodeWire(ctx, admin, b)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := v.(map[string]any)
		return m
	}
	var statuses []string
	for _, rec := range recs {
		k, v := decode(rec.Key), decode(rec.Value)
		switch rec.Topic {
		case txTopic:
			statuses = append(statuses, fmt.Sprint(v["status"]))
			if k["id"] != v["id"] {
				t.Errorf("transaction record key %v, value id %v", k, v["id"])
			}
			if v["status"] == "END" && fmt.Sprint(v["event_count"]) != "map[long:2]" && fmt.Sprint(v["event_count"]) != "2" {
				t.Errorf("END counts %v events, want 2", v["event_count"])
			}
		case r.msgTopic:
			msg, _ := v["message"].(map[string]any)
			if fmt.Sprint(k["prefix"]) != "map[string:audit]" && k["prefix"] != "audit" || msg == nil {
				t.Errorf("message record %v => %v", k, v)
			}
		case r.tableTopic:
			if v["op"] != "c" {
				t.Errorf("change record op %v", v["op"])
			}
		}
	}
	slices.Sort(statuses)
	if !slices.Equal(statuses, []string{"BEGIN", "END"}) {
		t.Errorf("transaction records %v, want BEGIN and END", statuses)
	}
}

// TestAvroUnwrapAndOutbox: with format avro, an unwrapped row is its
// Value record (with the added fields), an unwrapped delete in tombstone
// mode is a Kafka tombstone, and an outbox event's key and value are its
// columns' Avro.
func TestAvroUnwrapAndOutbox(t *testing.T) {
	brokers := []string{testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")}
	regURL := testenv.Get(t, "SLUICE_TEST_REGISTRY_URL")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := avrotest.AdminClient(t, regURL)

	rewrite := &sluice.Unwrap{Deletes: sluice.DeleteRewrite, Fields: []sluice.UnwrapField{{Field: "op", Name: "__op"}}}
	tombstone := &sluice.Unwrap{}
	ins, del := insertEvent(1, "first"), deleteEvent(1)
	ins.Unwrap, del.Unwrap = rewrite, rewrite
	del2 := deleteEvent(2)
	del2.Unwrap = tombstone
	outboxTopic := fmt.Sprintf("sluicetestoutbox%d", time.Now().UnixNano())
	box := &sluice.Event{Op: sluice.OpCreate, Table: eventtest.Outbox, Topic: outboxTopic,
		Outbox: &sluice.Outbox{ID: 0, Key: 2, Payload: 4},
		After:  sluice.Row{eventtest.Text("00000000-0000-4000-8000-000000000001"), eventtest.Text("order"), eventtest.Text("o-1"), eventtest.Text("Event"), eventtest.Text(`{"id": 1}`), eventtest.Text("acme")}}
	var events []*sluice.Event
	events = append(events, clock.Tx(ins)...)
	events = append(events, clock.Tx(del)...)
	events = append(events, clock.Tx(del2)...)
	events = append(events, clock.Tx(box)...)
	raw := map[string]any{"format": "avro", "registry": map[string]any{"url": regURL}}
	r := runSink(ctx, t, brokers, raw, events)
	avrotest.DeleteSubjectsAtEnd(t, admin, r.tableTopic+"-key", r.tableTopic+"-value", outboxTopic+"-key", outboxTopic+"-value")
	testenv.DeleteTopicsAtEnd(t, brokers[0], outboxTopic)
	for i, err := range r.acks {
		if err != nil {
			t.Fatalf("event %d acked with %v", i, err)
		}
	}
	recs := consumeAll(ctx, t, brokers, 4, r.tableTopic, outboxTopic) // insert, rewritten delete, tombstone, outbox
	decode := func(b []byte) any {
		t.Helper()
		_, v, err := avrotest.DecodeWire(ctx, admin, b)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var got []string
	for _, rec := range recs {
		if rec.Value == nil {
			got = append(got, fmt.Sprintf("tombstone %v", avrotest.Plain(decode(rec.Key))))
			continue
		}
		got = append(got, fmt.Sprintf("%v => %v", avrotest.Plain(decode(rec.Key)), avrotest.Plain(decode(rec.Value))))
	}
	slices.Sort(got)
	want := []string{
		"map[id:1] => map[__deleted:false __op:c id:1 note:first]",
		"map[id:1] => map[__deleted:true __op:d id:1 note:<nil>]",
		`o-1 => {"id": 1}`,
		"tombstone map[id:2]",
	}
	if !slices.Equal(got, want) {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
