package elasticsearch

import (
	"sync"
	"time"

	"github.com/sluice-cdc/sluice"
)

// Hand-built events on public.orders (id int4 primary key, note text,
// qty int4, big text: the column an update may leave out as an unchanged
// TOAST value).

var ordersTable = &sluice.Table{
	ID: 16400, DB: "shop", Schema: "public", Name: "orders",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "note", DBType: "text", Type: sluice.TypeText, Optional: true},
		{Name: "qty", DBType: "int4", Type: sluice.TypeInt32, Optional: true},
		{Name: "big", DBType: "text", Type: sluice.TypeText, Optional: true},
	},
	Key: []int{0},
}

func intVal(i int64) sluice.Value   { return sluice.Value{Kind: sluice.KindPresent, Int: i} }
func textVal(s string) sluice.Value { return sluice.Value{Kind: sluice.KindPresent, Bytes: []byte(s)} }

var (
	unchanged = sluice.Value{Kind: sluice.KindUnchanged}
	missing   = sluice.Value{Kind: sluice.KindMissing}
	null      = sluice.Value{Kind: sluice.KindNull}
	commitAt  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

// txClock hands out increasing commit LSNs, as a source would.
type txClock struct {
	mu  sync.Mutex
	lsn uint64
}

// tx stamps events as one transaction, in order.
func (c *txClock) tx(evs ...*sluice.Event) []*sluice.Event {
	c.mu.Lock()
	c.lsn += 0x1000
	lsn := 0x16B0000 + c.lsn
	c.mu.Unlock()
	for i, ev := range evs {
		ev.Pos = sluice.Position{LSN: lsn - 0x800 + uint64(i)*8, TxLSN: lsn}
		ev.TxID = 700 + lsn/0x1000
		ev.TxOrder = int64(i + 1)
		ev.TableOrder = int64(i + 1)
		ev.CommitTime = commitAt
	}
	return evs
}

func orderRow(id int64, note string, qty int64, big string) sluice.Row {
	return sluice.Row{intVal(id), textVal(note), intVal(qty), textVal(big)}
}

func insertEvent(id int64, note string, qty int64, big string) *sluice.Event {
	return &sluice.Event{Op: sluice.OpCreate, Table: ordersTable, After: orderRow(id, note, qty, big)}
}

func updateEvent(after sluice.Row) *sluice.Event {
	return &sluice.Event{Op: sluice.OpUpdate, Table: ordersTable, After: after}
}

func deleteEvent(id int64) *sluice.Event {
	return &sluice.Event{Op: sluice.OpDelete, Table: ordersTable, Before: sluice.Row{intVal(id), missing, missing, missing}}
}

func truncateEvent() *sluice.Event {
	return &sluice.Event{Op: sluice.OpTruncate, Table: ordersTable}
}

func messageEvent(prefix, content string) *sluice.Event {
	return &sluice.Event{Op: sluice.OpMessage,
		Message: &sluice.Message{Transactional: true, Prefix: prefix, Content: []byte(content)}}
}
