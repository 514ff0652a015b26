package kafka

import (
	"time"

	"github.com/sluice-cdc/sluice"
)

// Hand-built events on public.orders (id int4 primary key, note text).

var ordersTable = &sluice.Table{
	ID: 16400, DB: "shop", Schema: "public", Name: "orders",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "note", DBType: "text", Type: sluice.TypeText, Optional: true},
	},
	Key: []int{0},
}

func intVal(i int64) sluice.Value   { return sluice.Value{Kind: sluice.KindPresent, Int: i} }
func textVal(s string) sluice.Value { return sluice.Value{Kind: sluice.KindPresent, Bytes: []byte(s)} }

var (
	unchanged = sluice.Value{Kind: sluice.KindUnchanged}
	missing   = sluice.Value{Kind: sluice.KindMissing}
	commitAt  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	txCounter uint64
)

// tx stamps events as one transaction, in order.
func tx(evs ...*sluice.Event) []*sluice.Event {
	txCounter++
	lsn := 0x16B0000 + txCounter*0x1000
	for i, ev := range evs {
		ev.Pos = sluice.Position{LSN: lsn - 0x800 + uint64(i)*8, TxLSN: lsn}
		ev.TxID = 700 + txCounter
		ev.TxOrder = int64(i + 1)
		ev.TableOrder = int64(i + 1)
		ev.CommitTime = commitAt
	}
	return evs
}

func insertEvent(id int64, note string) *sluice.Event {
	return &sluice.Event{Op: sluice.OpCreate, Table: ordersTable, After: sluice.Row{intVal(id), textVal(note)}}
}

func updateEvent(id int64, note sluice.Value) *sluice.Event {
	return &sluice.Event{Op: sluice.OpUpdate, Table: ordersTable,
		Before: sluice.Row{intVal(id), missing}, After: sluice.Row{intVal(id), note}}
}

func deleteEvent(id int64) *sluice.Event {
	return &sluice.Event{Op: sluice.OpDelete, Table: ordersTable, Before: sluice.Row{intVal(id), missing}}
}

// keyChange is a primary-key update from old to new, as a source emits it:
// a delete carrying the new key, then a create carrying the old key.
func keyChange(old, new int64, note string) (*sluice.Event, *sluice.Event) {
	del := deleteEvent(old)
	del.OtherKey = sluice.Row{intVal(new), missing}
	cre := insertEvent(new, note)
	cre.OtherKey = sluice.Row{intVal(old), missing}
	return del, cre
}

func truncateEvent() *sluice.Event {
	return &sluice.Event{Op: sluice.OpTruncate, Table: ordersTable}
}

func messageEvent(prefix, content string) *sluice.Event {
	return &sluice.Event{Op: sluice.OpMessage,
		Message: &sluice.Message{Transactional: true, Prefix: prefix, Content: []byte(content)}}
}
