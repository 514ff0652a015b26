package elasticsearch

import (
	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// Hand-built events on eventtest.OrdersWide (id int4 primary key, note
// text, qty int4, big text: the column an update may leave out as an
// unchanged TOAST value); an eventtest.TxClock stamps them as
// transactions.

func orderRow(id int64, note string, qty int64, big string) sluice.Row {
	return sluice.Row{eventtest.Int(id), eventtest.Text(note), eventtest.Int(qty), eventtest.Text(big)}
}

// partialRow is a row whose big column the update left out: an unchanged
// TOAST value.
func partialRow(id int64, note string, qty int64) sluice.Row {
	return sluice.Row{eventtest.Int(id), eventtest.Text(note), eventtest.Int(qty), eventtest.Unchanged}
}

func insertEvent(id int64, note string, qty int64, big string) *sluice.Event {
	return eventtest.Insert(eventtest.OrdersWide, orderRow(id, note, qty, big)...)
}

func updateEvent(after sluice.Row) *sluice.Event {
	return &sluice.Event{Op: sluice.OpUpdate, Table: eventtest.OrdersWide, After: after}
}

func deleteEvent(id int64) *sluice.Event {
	return eventtest.Delete(eventtest.OrdersWide, eventtest.Int(id))
}
