package codec

import (
	"time"

	"github.com/sluice-cdc/sluice"
)

func (e *Encoder) appendKey(dst []byte, ev *sluice.Event) ([]byte, bool) {
	if ev.Outbox != nil && outboxed(ev) {
		return e.appendOutboxKey(dst, ev)
	}
	switch {
	case ev.Op == sluice.OpMessage && ev.Message != nil:
		if e.opt.Schemas {
			dst = append(dst, `{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"field":"prefix"}],"optional":false,"name":"io.debezium.connector.postgresql.MessageKey","version":1},"payload":`...)
		}
		dst = append(dst, `{"prefix":`...)
		dst = appendStr(dst, ev.Message.Prefix)
		dst = append(dst, '}')
		if e.opt.Schemas {
			dst = append(dst, '}')
		}
		return dst, true
	case ev.Op == sluice.OpSchemaChange && ev.DDL != nil:
		if e.opt.Schemas {
			dst = append(dst, `{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"databaseName"}],"optional":false,"name":"io.debezium.connector.`...)
			dst = append(dst, e.pkg...)
			dst = append(dst, `.SchemaChangeKey","version":1},"payload":`...)
		}
		dst = append(dst, `{"databaseName":`...)
		dst = appendStr(dst, ev.DDL.Database)
		dst = append(dst, '}')
		if e.opt.Schemas {
			dst = append(dst, '}')
		}
		return dst, true
	case ev.Op == sluice.OpTruncate || ev.Table == nil || len(ev.Table.Key) == 0:
		return dst, false
	}
	row := ev.After
	if row == nil {
		row = ev.Before
	}
	if row == nil {
		return dst, false
	}
	if ev.Route != nil && ev.Route.KeyField != "" {
		return e.appendRoutedKey(dst, ev, row), true
	}
	return e.appendKeyRow(dst, ev.Table, row, e.opt.Schemas, ev.Op == sluice.OpRead), true
}

// appendRoutedKey writes the key of a routed event: the key columns, then
// the route's key field, with the routed schema (Debezium's
// ByLogicalTableRouter with key.enforce.uniqueness).
func (e *Encoder) appendRoutedKey(dst []byte, ev *sluice.Event, row sluice.Row) []byte {
	if e.opt.Schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, e.evSchemas(ev).key...)
		dst = append(dst, `,"payload":`...)
	}
	dst = e.appendKeyRow(dst, ev.Table, row, false, ev.Op == sluice.OpRead)
	dst = append(dst[:len(dst)-1], ',') // the object's closing brace
	dst = appendStr(dst, ev.Route.KeyField)
	dst = append(dst, ':')
	dst = appendStr(dst, ev.Route.KeyValue)
	dst = append(dst, '}')
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}

// appendKeyRow writes the key columns of row, in key order, in Kafka
// Connect's schema/payload form when withSchema is set.
func (e *Encoder) appendKeyRow(dst []byte, t *sluice.Table, row sluice.Row, withSchema, snap bool) []byte {
	if withSchema {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, e.schemas(t).key...)
		dst = append(dst, `,"payload":`...)
	}
	f := e.frags(t)
	dst = append(dst, '{')
	for i, idx := range t.Key {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.names[idx]...)
		if idx < len(row) {
			dst = e.appendColumn(dst, &t.Columns[idx], &f.plans[idx], &row[idx], snap)
		} else {
			dst = append(dst, "null"...)
		}
	}
	dst = append(dst, '}')
	if withSchema {
		dst = append(dst, '}')
	}
	return dst
}

// appendRow writes a row object with every column of the table, as the
// envelope's before and after carry them: a column the source did not
// have (KindMissing: a key-only old row) is null, or its type's zero
// when NOT NULL; an unchanged TOAST column is the placeholder, or left
// out in ToastOmit mode (the sluice.unchanged header names it).
func (e *Encoder) appendRow(dst []byte, t *sluice.Table, row sluice.Row, snap bool) []byte {
	if row == nil {
		return append(dst, "null"...)
	}
	f := e.frags(t)
	return e.appendFields(dst, t.Columns, f.names, f.plans, row, snap)
}

// appendFields writes an object of cols whose values are vals, each
// column by its plan after its `"name":` — a row, or a struct's fields:
// a column past vals' end is KindMissing (its fallback), and an
// unchanged one is left out in ToastOmit mode.
func (e *Encoder) appendFields(dst []byte, cols []sluice.Column, names [][]byte, plans []colPlan, vals []sluice.Value, snap bool) []byte {
	dst = append(dst, '{')
	first := true
	for i := range cols {
		v := &missing
		if i < len(vals) {
			v = &vals[i]
		}
		if v.Kind == sluice.KindUnchanged && e.opt.Toast == ToastOmit {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, names[i]...)
		dst = e.appendColumn(dst, &cols[i], &plans[i], v, snap)
	}
	return append(dst, '}')
}

var missing = sluice.Value{Kind: sluice.KindMissing}

// appendRowPresent is AppendRow: the columns the row has, without the
// missing ones and (in ToastOmit mode) the unchanged ones.
func (e *Encoder) appendRowPresent(dst []byte, t *sluice.Table, row sluice.Row) []byte {
	if row == nil {
		return append(dst, "null"...)
	}
	f := e.frags(t)
	dst = append(dst, '{')
	first := true
	for i := range t.Columns {
		if i >= len(row) {
			break
		}
		v := &row[i]
		if v.Kind == sluice.KindMissing || (v.Kind == sluice.KindUnchanged && e.opt.Toast == ToastOmit) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, f.names[i]...)
		dst = e.appendColumn(dst, &t.Columns[i], &f.plans[i], v, false)
	}
	return append(dst, '}')
}

// appendValue writes the envelope, in Debezium's field order: before,
// after, source, transaction, op, ts_ms, ts_us, ts_ns. Logical messages
// have Debezium's message envelope: op, ts_ms, source, transaction,
// message (no ts_us, ts_ns).
func (e *Encoder) appendValue(dst []byte, ev *sluice.Event, now time.Time) []byte {
	if ev.Op == sluice.OpSchemaChange {
		return e.appendSchemaChange(dst, ev, now)
	}
	if ev.Outbox != nil && outboxed(ev) {
		return e.appendOutboxValue(dst, ev)
	}
	if ev.Unwrap != nil && unwrapped(ev) {
		return e.appendUnwrapped(dst, ev, now)
	}
	msg := ev.Op == sluice.OpMessage || ev.Table == nil
	if e.opt.Schemas {
		dst = append(dst, `{"schema":`...)
		if msg {
			dst = append(dst, e.messageSchema...)
		} else {
			dst = append(dst, e.evSchemas(ev).value...)
		}
		dst = append(dst, `,"payload":`...)
	}
	if msg {
		dst = append(dst, `{"op":"`...)
		dst = append(dst, byte(ev.Op))
		dst = append(dst, `","ts_ms":`...)
		dst = appendInt(dst, now.UnixMilli())
		dst = append(dst, `,"source":`...)
		dst = e.appendSource(dst, ev)
		dst = append(dst, `,"transaction":`...)
		dst = e.appendTransaction(dst, ev)
		dst = append(dst, `,"message":`...)
		if ev.Message != nil {
			dst = append(dst, `{"prefix":`...)
			dst = appendStr(dst, ev.Message.Prefix)
			dst = append(dst, `,"content":`...)
			dst = appendBase64(dst, ev.Message.Content)
			dst = append(dst, '}')
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, '}')
	} else {
		snap := ev.Op == sluice.OpRead
		dst = append(dst, `{"before":`...)
		dst = e.appendRow(dst, ev.Table, ev.Before, snap)
		dst = append(dst, `,"after":`...)
		dst = e.appendRow(dst, ev.Table, ev.After, snap)
		dst = append(dst, `,"source":`...)
		dst = e.appendSource(dst, ev)
		dst = append(dst, `,"transaction":`...)
		dst = e.appendTransaction(dst, ev)
		dst = append(dst, `,"op":"`...)
		dst = append(dst, byte(ev.Op))
		dst = append(dst, `",`...)
		dst = appendTimes(dst, now)
		dst = append(dst, '}')
	}
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}

func (e *Encoder) now() time.Time {
	if e.opt.Clock != nil {
		return e.opt.Clock()
	}
	return time.Now()
}

// unixNanos is t in nanoseconds since the epoch; 0 for the zero time.
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// appendTimes writes "ts_ms":…,"ts_us":…,"ts_ns":… for t. For instants
// after 1970-01-01T00:00:01Z the milli- and microseconds are the
// nanoseconds' leading digits, so the number is formatted once.
func appendTimes(dst []byte, t time.Time) []byte {
	ns := unixNanos(t)
	if ns >= 1e9 {
		var buf [20]byte
		d := appendInt(buf[:0], ns)
		dst = append(dst, `"ts_ms":`...)
		dst = append(dst, d[:len(d)-6]...)
		dst = append(dst, `,"ts_us":`...)
		dst = append(dst, d[:len(d)-3]...)
		dst = append(dst, `,"ts_ns":`...)
		return append(dst, d...)
	}
	dst = append(dst, `"ts_ms":`...)
	dst = appendInt(dst, ns/1e6)
	dst = append(dst, `,"ts_us":`...)
	dst = appendInt(dst, ns/1e3)
	dst = append(dst, `,"ts_ns":`...)
	return appendInt(dst, ns)
}

// appendSchemaChange writes Debezium's schema change event. tableChanges
// is what the source described (DDL.Changes), empty when it did not.
func (e *Encoder) appendSchemaChange(dst []byte, ev *sluice.Event, now time.Time) []byte {
	if e.opt.Schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, e.schemaChangeSchema...)
		dst = append(dst, `,"payload":`...)
	}
	dst = append(dst, `{"source":`...)
	dst = e.appendSource(dst, ev)
	dst = append(dst, `,"ts_ms":`...)
	dst = appendInt(dst, now.UnixMilli())
	var db, stmt string
	var changes []sluice.TableChange
	if ev.DDL != nil {
		db, stmt, changes = ev.DDL.Database, ev.DDL.Statement, ev.DDL.Changes
	}
	dst = append(dst, `,"databaseName":`...)
	dst = appendStr(dst, db)
	dst = append(dst, `,"schemaName":null,"ddl":`...)
	dst = appendStr(dst, stmt)
	dst = append(dst, `,"tableChanges":`...)
	dst = appendTableChanges(dst, changes)
	dst = append(dst, '}')
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}

// appendTransaction writes Debezium's transaction block: null unless
// transaction metadata is on (provide_transaction_metadata), and null for
// events outside a transaction (snapshot reads, non-transactional
// messages).
func (e *Encoder) appendTransaction(dst []byte, ev *sluice.Event) []byte {
	if !e.opt.TransactionMetadata || !inTx(ev) { // the test the transaction topic uses: snapshot rows have no block
		return append(dst, "null"...)
	}
	dst = append(dst, `{"id":`...)
	if ev.Binlog != nil {
		dst = appendStr(dst, ev.Binlog.TxID)
	} else {
		dst = appendPgTxID(dst, ev)
	}
	dst = append(dst, `,"total_order":`...)
	dst = appendInt(dst, ev.TxOrder)
	dst = append(dst, `,"data_collection_order":`...)
	order := ev.TableOrder
	if order == 0 && ev.Op == sluice.OpMessage {
		order = 1 // Debezium counts each message as a collection of its own
	}
	dst = appendInt(dst, order)
	return append(dst, '}')
}

// appendPgTxID writes PostgreSQL's transaction id "<txId>:<commit LSN>"
// as a JSON string.
func appendPgTxID(dst []byte, ev *sluice.Event) []byte {
	dst = append(dst, '"')
	dst = appendUint(dst, ev.TxID)
	dst = append(dst, ':')
	dst = appendUint(dst, ev.Pos.TxLSN)
	return append(dst, '"')
}

func appendUnchanged(dst []byte, ev *sluice.Event) ([]byte, bool) {
	if ev.Table == nil {
		return dst, false
	}
	n := 0
	for i := range ev.After {
		if ev.After[i].Kind != sluice.KindUnchanged || i >= len(ev.Table.Columns) {
			continue
		}
		if n == 0 {
			dst = append(dst, '[')
		} else {
			dst = append(dst, ',')
		}
		dst = appendStr(dst, ev.Table.Columns[i].Name)
		n++
	}
	if n == 0 {
		return dst, false
	}
	return append(dst, ']'), true
}

// appendEventID writes "<txlsn X/X>:<order>", the transaction's commit
// LSN in PostgreSQL's notation and the event's 1-based index in it.
func appendEventID(dst []byte, ev *sluice.Event) []byte {
	dst = AppendLSN(dst, ev.Pos.TxLSN)
	dst = append(dst, ':')
	return appendInt(dst, ev.TxOrder)
}

// AppendLSN appends lsn in PostgreSQL's notation, e.g. "16/B374D848".
func AppendLSN(dst []byte, lsn uint64) []byte {
	dst = appendHexUpper(dst, lsn>>32)
	dst = append(dst, '/')
	return appendHexUpper(dst, lsn&0xffffffff)
}

func appendHexUpper(dst []byte, v uint64) []byte {
	const digits = "0123456789ABCDEF"
	var buf [16]byte
	i := len(buf)
	for {
		i--
		buf[i] = digits[v&0xf]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}
