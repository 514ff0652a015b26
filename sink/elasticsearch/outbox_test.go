package elasticsearch

import (
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestOutboxEventIndexedAsRow: the outbox transform's mark and topic are
// for sinks that write Debezium's records; the Elasticsearch sink ignores
// both and indexes the outbox row itself, by its key, in the table's
// index, as any insert (the transform has already dropped updates and
// deletes).
func TestOutboxEventIndexedAsRow(t *testing.T) {
	f := newFakeES(t)
	s := f.sink(nil)
	ev := insertEvent(1, "OrderCreated", 2, `{"id": 1}`)
	ev.Outbox = &sluice.Outbox{ID: 0, Key: 1, Payload: 3, Headers: []sluice.OutboxHeader{{Column: 2, Name: "qty"}}}
	ev.Topic = "outbox.event.order"
	writeAll(t, s, []*sluice.Event{ev})
	d, ok := f.doc("orders", "1")
	if !ok {
		t.Fatal("no document orders/1")
	}
	want := `{"id":1,"note":"OrderCreated","qty":2,"big":"{\"id\": 1}"}`
	if !jsonEqual(d.source, []byte(want)) {
		t.Fatalf("document %s, want %s", d.source, want)
	}
}
