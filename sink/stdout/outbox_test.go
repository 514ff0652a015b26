package stdout

import (
	"bytes"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/sink"
)

// TestWriteOutbox: an outbox event's line has the transform's topic, the
// codec's outbox key and value, and the outbox headers after sluice's.
func TestWriteOutbox(t *testing.T) {
	s, err := sink.Build(New, map[string]any{}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s.Writer = &out
	ev := &sluice.Event{Op: sluice.OpCreate, Table: eventtest.Orders, After: sluice.Row{eventtest.Int(1), eventtest.Text("order")},
		Outbox: &sluice.Outbox{ID: 0, Key: 1, Payload: 1, Headers: []sluice.OutboxHeader{{Column: 1, Name: "kind"}}},
		Topic:  "outbox.event.order", Pos: sluice.Position{LSN: 0x100, TxLSN: 0x200}, TxOrder: 1}
	if err := s.Write(t.Context(), ev, func(err error) {
		if err != nil {
			t.Errorf("ack %v", err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	want := `{"topic":"outbox.event.order","key":"order","value":"order","headers":{"sluice.event.id":"0/200:1",` +
		`"id":{"schema":{"type":"int32","optional":false},"payload":1},"kind":{"schema":{"type":"string","optional":true},"payload":"order"}}}` + "\n"
	if out.String() != want {
		t.Fatalf("line\n%s\nwant\n%s", out.String(), want)
	}
}
