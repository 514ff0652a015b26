// Package eventtest holds hand-built events for the tests of what
// consumes them (sinks, codecs, transforms): a table in two widths,
// values, and changes stamped the way a source stamps a transaction. It
// is for tests only and imports nothing of sluice but the root package,
// so the tests of any package, codec's own included, can use it.
package eventtest

import (
	"sync"
	"time"

	"github.com/sluice-cdc/sluice"
)

// Orders is public.orders in database shop: id int4 (the primary key)
// and note text.
var Orders = &sluice.Table{
	ID: 16400, DB: "shop", Schema: "public", Name: "orders",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "note", DBType: "text", Type: sluice.TypeText, Optional: true},
	},
	Key: []int{0},
}

// OrdersWide is Orders with two more columns: qty int4, and big text, the
// column an update may leave out as an unchanged TOAST value.
var OrdersWide = &sluice.Table{
	ID: 16400, DB: "shop", Schema: "public", Name: "orders",
	Columns: []sluice.Column{
		{Name: "id", DBType: "int4", Type: sluice.TypeInt32, Key: true},
		{Name: "note", DBType: "text", Type: sluice.TypeText, Optional: true},
		{Name: "qty", DBType: "int4", Type: sluice.TypeInt32, Optional: true},
		{Name: "big", DBType: "text", Type: sluice.TypeText, Optional: true},
	},
	Key: []int{0},
}

// Outbox is an outbox table with Debezium's default column names and a
// tenant column, as the outbox fixtures create it
// (testdata/debezium/postgres-outbox/schema.sql, database dbzsmt).
var Outbox = &sluice.Table{
	DB: "dbzsmt", Schema: "public", Name: "outbox",
	Columns: []sluice.Column{
		{Name: "id", DBType: "uuid", Type: sluice.TypeUUID, Key: true},
		{Name: "aggregatetype", DBType: "varchar", Type: sluice.TypeText},
		{Name: "aggregateid", DBType: "varchar", Type: sluice.TypeText},
		{Name: "type", DBType: "varchar", Type: sluice.TypeText},
		{Name: "payload", DBType: "jsonb", Type: sluice.TypeJSON, Optional: true},
		{Name: "tenant", DBType: "text", Type: sluice.TypeText, Optional: true},
	},
	Key: []int{0},
}

// Int is an integer value.
func Int(i int64) sluice.Value { return sluice.Value{Kind: sluice.KindPresent, Int: i} }

// Text is a text value.
func Text(s string) sluice.Value { return sluice.Value{Kind: sluice.KindPresent, Bytes: []byte(s)} }

// The values that are not present.
var (
	Unchanged = sluice.Value{Kind: sluice.KindUnchanged} // an unchanged TOAST value
	Missing   = sluice.Value{Kind: sluice.KindMissing}   // not in the image (a non-key column under REPLICA IDENTITY DEFAULT)
	Null      = sluice.Value{Kind: sluice.KindNull}
)

// KeyRow is a row of table holding key in its key columns, in the order
// of table.Key, and Missing elsewhere: the old image of a row under
// REPLICA IDENTITY DEFAULT, or an Event.OtherKey.
func KeyRow(table *sluice.Table, key ...sluice.Value) sluice.Row {
	row := make(sluice.Row, len(table.Columns))
	for i := range row {
		row[i] = Missing
	}
	for i, col := range table.Key {
		row[col] = key[i]
	}
	return row
}

// Insert is the creation of the row after in table.
func Insert(table *sluice.Table, after ...sluice.Value) *sluice.Event {
	return &sluice.Event{Op: sluice.OpCreate, Table: table, After: after}
}

// Delete is the deletion of the row with key from table, with the old
// image a source has under REPLICA IDENTITY DEFAULT (KeyRow).
func Delete(table *sluice.Table, key ...sluice.Value) *sluice.Event {
	return &sluice.Event{Op: sluice.OpDelete, Table: table, Before: KeyRow(table, key...)}
}

// Truncate is the truncation of table.
func Truncate(table *sluice.Table) *sluice.Event {
	return &sluice.Event{Op: sluice.OpTruncate, Table: table}
}

// Message is a transactional logical decoding message.
func Message(prefix, content string) *sluice.Event {
	return &sluice.Event{Op: sluice.OpMessage,
		Message: &sluice.Message{Transactional: true, Prefix: prefix, Content: []byte(content)}}
}

// CommitTime is the commit time TxClock stamps on events.
var CommitTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// TxClock hands out increasing commit positions, as a source would. The
// zero value is ready; it is safe for concurrent use.
type TxClock struct {
	mu sync.Mutex
	n  uint64 // transactions stamped
}

// Tx stamps evs, in order, as the next transaction: its n-th one commits
// at 0x16B0000 + n*0x1000 with transaction id 700 + n, and its events
// get growing LSNs below that and their 1-based order.
func (c *TxClock) Tx(evs ...*sluice.Event) []*sluice.Event {
	c.mu.Lock()
	c.n++
	n := c.n
	c.mu.Unlock()
	lsn := 0x16B0000 + n*0x1000
	for i, ev := range evs {
		ev.Pos = sluice.Position{LSN: lsn - 0x800 + uint64(i)*8, TxLSN: lsn}
		ev.TxID = 700 + n
		ev.TxOrder = int64(i + 1)
		ev.TableOrder = int64(i + 1)
		ev.CommitTime = CommitTime
	}
	return evs
}
