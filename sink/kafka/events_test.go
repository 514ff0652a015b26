package kafka

import (
	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// Hand-built events on eventtest.Orders (id int4 primary key, note
// text); clock stamps them as consecutive transactions.

var clock eventtest.TxClock

func insertEvent(id int64, note string) *sluice.Event {
	return eventtest.Insert(eventtest.Orders, eventtest.Int(id), eventtest.Text(note))
}

func updateEvent(id int64, note sluice.Value) *sluice.Event {
	return &sluice.Event{Op: sluice.OpUpdate, Table: eventtest.Orders,
		Before: eventtest.KeyRow(eventtest.Orders, eventtest.Int(id)), After: sluice.Row{eventtest.Int(id), note}}
}

func deleteEvent(id int64) *sluice.Event {
	return eventtest.Delete(eventtest.Orders, eventtest.Int(id))
}

// keyChange is a primary-key update from old to new, as a source emits it:
// a delete carrying the new key, then a create carrying the old key.
func keyChange(old, new int64, note string) (*sluice.Event, *sluice.Event) {
	del := deleteEvent(old)
	del.OtherKey = eventtest.KeyRow(eventtest.Orders, eventtest.Int(new))
	cre := insertEvent(new, note)
	cre.OtherKey = eventtest.KeyRow(eventtest.Orders, eventtest.Int(old))
	return del, cre
}
