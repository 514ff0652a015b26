package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

// Records as Debezium Server writes them (testdata/golden/debezium):
// skipped operations, tombstones and the transaction topic.

// keylessTable has no primary key: its records have a null key.
var keylessTable = &sluice.Table{DB: "shop", Schema: "public", Name: "log",
	Columns: []sluice.Column{{Name: "line", DBType: "text", Type: sluice.TypeText}}}

// deletePolicy is a sink block whose topics take records without a key.
func deletePolicy() map[string]any {
	return map[string]any{"topic_creation": map[string]any{"partitions": 1, "cleanup_policy": "delete"}}
}

func kafkaBrokers(t *testing.T) []string {
	return strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
}

// skipped_operations (default "t", as Debezium's skipped.operations): a
// truncate is acknowledged without a record, and its topic is not made.
func TestSkippedOperationsNotWritten(t *testing.T) {
	brokers := kafkaBrokers(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	events := clock.Tx(insertEvent(1, "a"), eventtest.Truncate(eventtest.Orders), eventtest.Truncate(keylessTable), insertEvent(2, "b"))
	run := runSink(ctx, t, brokers, deletePolicy(), events)
	for i, err := range run.acks {
		if err != nil {
			t.Errorf("event %d acked with %v", i, err)
		}
	}
	recs := consumeAll(ctx, t, brokers, 2, run.tableTopic)
	for _, r := range recs {
		if r.Key == nil {
			t.Errorf("a record without key was written: %s", r.Value)
		}
	}
	if st := run.stats; st.Skipped != 2 || st.Events != 4 || st.TopicsCreated != 1 {
		t.Errorf("stats = %+v, want 2 skipped of 4 events and 1 topic created", st)
	}
}

// The tombstone after the delete half of a primary-key change carries the
// delete's __debezium.newkey header; the create after it carries
// __debezium.oldkey.
func TestKeyChangeTombstoneHeaders(t *testing.T) {
	brokers := kafkaBrokers(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	del, cre := keyChange(4, 104, "moved")
	run := runSink(ctx, t, brokers, deletePolicy(), clock.Tx(del, cre))
	recs := consumeAll(ctx, t, brokers, 3, run.tableTopic)
	newKey := run.enc.AppendKeyRow(nil, eventtest.Orders, del.OtherKey)
	oldKey := run.enc.AppendKeyRow(nil, eventtest.Orders, cre.OtherKey)
	for i, want := range []struct {
		tombstone      bool
		newKey, oldKey []byte
	}{{false, newKey, nil}, {true, newKey, nil}, {false, nil, oldKey}} {
		r := recs[i]
		if (r.Value == nil) != want.tombstone {
			t.Errorf("record %d: value %q, tombstone wanted: %v", i, r.Value, want.tombstone)
		}
		if h := header(r, codec.NewKeyHeader); !bytes.Equal(h, want.newKey) {
			t.Errorf("record %d: %s = %q, want %q", i, codec.NewKeyHeader, h, want.newKey)
		}
		if h := header(r, codec.OldKeyHeader); !bytes.Equal(h, want.oldKey) {
			t.Errorf("record %d: %s = %q, want %q", i, codec.OldKeyHeader, h, want.oldKey)
		}
	}
}

// A delete of a row of a table without key is followed by a tombstone
// with null key and null value, as Debezium writes it.
func TestKeylessDeleteTombstone(t *testing.T) {
	brokers := kafkaBrokers(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ins := eventtest.Insert(keylessTable, eventtest.Text("x"))
	del := &sluice.Event{Op: sluice.OpDelete, Table: keylessTable, Before: sluice.Row{eventtest.Text("x")}}
	run := runSink(ctx, t, brokers, deletePolicy(), clock.Tx(ins, del))
	recs := consumeAll(ctx, t, brokers, 3, run.prefix+".public.log")
	for i, r := range recs {
		if r.Key != nil {
			t.Errorf("record %d: key %q, want null", i, r.Key)
		}
	}
	if ts := recs[2]; ts.Value != nil || !bytes.Equal(header(ts, codec.EventIDHeader), codec.AppendEventID(nil, del)) {
		t.Errorf("record after the delete: value %q, headers %v; want the delete's tombstone", ts.Value, ts.Headers)
	}
}

// txRecord is a transaction topic record's value.
type txRecord struct {
	Status      string
	ID          string
	EventCount  *int64 `json:"event_count"`
	Collections []struct {
		Name   string `json:"data_collection"`
		Events int64  `json:"event_count"`
	} `json:"data_collections"`
}

func txMark(ev *sluice.Event) *sluice.Event {
	return &sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: ev.Pos.TxLSN}}
}

// With provide_transaction_metadata, BEGIN goes before a transaction's
// first event and END, with its counts, after its last: at its commit
// mark, or with the next transaction's first event when no mark came in
// between. A skipped truncate opens a transaction but is not counted.
func TestTransactionTopic(t *testing.T) {
	brokers := kafkaBrokers(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var events []*sluice.Event
	tx1 := clock.Tx(insertEvent(1, "a"), insertEvent(2, "b"))
	tx2 := clock.Tx(insertEvent(3, "c"), eventtest.Truncate(eventtest.Orders))
	tx3 := clock.Tx(eventtest.Truncate(eventtest.Orders))
	tx4 := clock.Tx(insertEvent(4, "d"))
	tx5 := clock.Tx(insertEvent(5, "e"))
	events = append(events, tx1...)
	events = append(events, txMark(tx1[0]))
	events = append(events, tx2...)
	events = append(events, txMark(tx2[0]))
	events = append(events, tx3...)
	events = append(events, txMark(tx3[0]))
	events = append(events, tx4...) // no mark: tx5 ends it
	events = append(events, tx5...)
	events = append(events, txMark(tx5[0]), txMark(tx5[0])) // the second: nothing open
	run := runSink(ctx, t, brokers, deletePolicy(), events, func(o *codec.Options) { o.TransactionMetadata = true })
	for i, err := range run.acks {
		if err != nil {
			t.Errorf("event %d acked with %v", i, err)
		}
	}
	if st := run.stats; st.Events != uint64(len(events)-5) || st.Skipped != 2 {
		t.Errorf("stats = %+v, want %d events (marks are not events), 2 skipped", st, len(events)-5)
	}
	recs := consumeAll(ctx, t, brokers, 10, run.prefix+".transaction")
	var got []string
	for _, r := range recs {
		var v txRecord
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("value %s: %v", r.Value, err)
		}
		if want := `{"id":"` + v.ID + `"}`; string(r.Key) != want {
			t.Errorf("key %s, want %s", r.Key, want)
		}
		s := v.Status + " " + v.ID
		if v.EventCount != nil {
			s += " " + strings.TrimSpace(strings.Repeat("x", int(*v.EventCount)))
			for _, c := range v.Collections {
				s += " " + c.Name + "=" + strings.Repeat("x", int(c.Events))
			}
		}
		got = append(got, s)
	}
	id := func(tx []*sluice.Event) string {
		_, begin := (&codec.TxTracker{}).Observe(run.enc, tx[0])
		return begin.ID
	}
	want := []string{
		"BEGIN " + id(tx1), "END " + id(tx1) + " xx public.orders=xx",
		"BEGIN " + id(tx2), "END " + id(tx2) + " x public.orders=x",
		"BEGIN " + id(tx3), "END " + id(tx3) + " ",
		"BEGIN " + id(tx4), "END " + id(tx4) + " x public.orders=x",
		"BEGIN " + id(tx5), "END " + id(tx5) + " x public.orders=x",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("transaction topic:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The change records have the transaction block; truncates are skipped.
	changes := consumeAll(ctx, t, brokers, 5, run.tableTopic)
	for _, r := range changes {
		if !bytes.Contains(r.Value, []byte(`"transaction":{"id":`)) {
			t.Errorf("change without transaction block: %s", r.Value)
		}
	}
}

// An END record that cannot be written fails its mark, so the runner
// does not confirm the transaction: it is read again, END included.
func TestTransactionEndFailureFailsTheMark(t *testing.T) {
	brokers := kafkaBrokers(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	tx := clock.Tx(insertEvent(1, "a"))
	// The first run makes the topics; then a sink that does not create
	// topics writes the BEGIN, loses the topic, and fails the END.
	raw := deletePolicy()
	raw["topic_creation"].(map[string]any)["enabled"] = false
	enc := func(o *codec.Options) { o.TransactionMetadata = true }
	first := runSink(ctx, t, brokers, deletePolicy(), append(tx, txMark(tx[0])), enc)
	s, acks := openSink(ctx, t, brokers, first, raw, enc)
	if err := s.Write(ctx, tx[0], acks.ack(0)); err != nil {
		t.Fatal(err)
	}
	if err := acks.wait(0, 30*time.Second); err != nil {
		t.Fatalf("event acked with %v", err)
	}
	if _, err := first.adm.DeleteTopics(ctx, first.prefix+".transaction"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteMark(ctx, txMark(tx[0]), acks.ack(1)); err != nil {
		t.Fatal(err)
	}
	if err := acks.wait(1, time.Minute); err == nil {
		t.Error("the mark was acknowledged although its END record was not written")
	}
	closeCtx, cancelClose := context.WithTimeout(ctx, 5*time.Second)
	defer cancelClose()
	_ = s.Close(closeCtx)
}

// openSink opens a sink over run's topics (same prefix and encoder
// options) for a test that drives Write and WriteMark itself.
func openSink(ctx context.Context, t *testing.T, brokers []string, run *itRun, raw map[string]any, encoding ...func(*codec.Options)) (*Sink, *ackLog) {
	t.Helper()
	opt := codec.Options{Name: run.prefix, Connector: "postgresql", DB: "shop"}
	for _, f := range encoding {
		f(&opt)
	}
	enc, err := codec.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv(t)
	env.Encoder = enc
	raw["brokers"] = brokers
	raw["linger"] = "1ms"
	s, err := sink.Build(New, raw, env)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	return s, newAckLog(t)
}
