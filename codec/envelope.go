package codec

import (
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice"
)

func (e *Encoder) appendKey(dst []byte, ev *sluice.Event) ([]byte, bool) {
	switch {
	case ev.Op == sluice.OpMessage && ev.Message != nil:
		if e.opt.Schemas {
			dst = append(dst, `{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"field":"prefix"}],"optional":false,"name":"io.debezium.connector.postgresql.MessageKey"},"payload":`...)
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
			dst = append(dst, `{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"databaseName"}],"optional":false,"name":"io.debezium.connector.mysql.SchemaChangeKey","version":1},"payload":`...)
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
	return e.appendKeyRow(dst, ev.Table, row), true
}

func (e *Encoder) appendKeyRow(dst []byte, t *sluice.Table, row sluice.Row) []byte {
	if e.opt.Schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, e.schemas(t).key...)
		dst = append(dst, `,"payload":`...)
	}
	names := e.frags(t).names
	dst = append(dst, '{')
	for i, idx := range t.Key {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, names[idx]...)
		if idx < len(row) {
			dst = e.appendColumn(dst, &t.Columns[idx], &row[idx])
		} else {
			dst = append(dst, "null"...)
		}
	}
	dst = append(dst, '}')
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}

// appendRow writes a row object. Missing columns (not in a key-only old
// row) are left out; unchanged TOAST columns are left out in ToastOmit
// mode and written as the placeholder otherwise.
func (e *Encoder) appendRow(dst []byte, t *sluice.Table, row sluice.Row) []byte {
	if row == nil {
		return append(dst, "null"...)
	}
	names := e.frags(t).names
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
		dst = append(dst, names[i]...)
		dst = e.appendColumn(dst, &t.Columns[i], v)
	}
	return append(dst, '}')
}

func (e *Encoder) appendValue(dst []byte, ev *sluice.Event, now time.Time) []byte {
	if ev.Op == sluice.OpSchemaChange {
		return e.appendSchemaChange(dst, ev, now)
	}
	if e.opt.Schemas {
		dst = append(dst, `{"schema":`...)
		if ev.Op == sluice.OpMessage || ev.Table == nil {
			dst = append(dst, e.messageSchema()...)
		} else {
			dst = append(dst, e.schemas(ev.Table).value...)
		}
		dst = append(dst, `,"payload":`...)
	}
	dst = append(dst, '{')
	if ev.Op != sluice.OpMessage {
		dst = append(dst, `"before":`...)
		if ev.Table != nil {
			dst = e.appendRow(dst, ev.Table, ev.Before)
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, `,"after":`...)
		if ev.Table != nil {
			dst = e.appendRow(dst, ev.Table, ev.After)
		} else {
			dst = append(dst, "null"...)
		}
		dst = append(dst, ',')
	}
	dst = append(dst, `"source":`...)
	dst = e.appendSource(dst, ev)
	dst = append(dst, `,"op":"`...)
	dst = append(dst, byte(ev.Op))
	dst = append(dst, `",`...)
	dst = appendTimes(dst, now)
	if ev.Op == sluice.OpMessage && ev.Message != nil {
		dst = append(dst, `,"message":{"prefix":`...)
		dst = appendStr(dst, ev.Message.Prefix)
		dst = append(dst, `,"content":`...)
		dst = e.appendBase64(dst, ev.Message.Content)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"transaction":`...)
	dst = appendTransaction(dst, ev)
	dst = append(dst, '}')
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

// appendTimes writes "ts_ms":…,"ts_us":…,"ts_ns":… for t. For instants
// after 1970-01-01T00:00:01Z the milli- and microseconds are the
// nanoseconds' leading digits, so the number is formatted once.
func appendTimes(dst []byte, t time.Time) []byte {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	if ns >= 1e9 {
		var buf [20]byte
		d := strconv.AppendInt(buf[:0], ns, 10)
		dst = append(dst, `"ts_ms":`...)
		dst = append(dst, d[:len(d)-6]...)
		dst = append(dst, `,"ts_us":`...)
		dst = append(dst, d[:len(d)-3]...)
		dst = append(dst, `,"ts_ns":`...)
		return append(dst, d...)
	}
	dst = append(dst, `"ts_ms":`...)
	dst = strconv.AppendInt(dst, ns/1e6, 10)
	dst = append(dst, `,"ts_us":`...)
	dst = strconv.AppendInt(dst, ns/1e3, 10)
	dst = append(dst, `,"ts_ns":`...)
	return strconv.AppendInt(dst, ns, 10)
}

// appendSource writes Debezium's PostgreSQL source block.
func (e *Encoder) appendSource(dst []byte, ev *sluice.Event) []byte {
	if e.mysql {
		return e.appendMySQLSource(dst, ev)
	}
	dst = append(dst, e.srcHead...)
	dst = appendTimes(dst, ev.CommitTime)
	dst = append(dst, `,"snapshot":"`...)
	dst = append(dst, ev.Snapshot.String()...)
	dst = append(dst, `","db":`...)
	var f *tableFrags
	if ev.Table != nil {
		f = e.frags(ev.Table)
		dst = append(dst, f.db...)
	} else {
		dst = appendStr(dst, e.opt.DB)
	}
	dst = append(dst, `,"sequence":"[\"`...)
	dst = strconv.AppendUint(dst, ev.Pos.PrevTxLSN, 10)
	dst = append(dst, `\",\"`...)
	dst = strconv.AppendUint(dst, ev.Pos.LSN, 10)
	dst = append(dst, `\"]"`...)
	if f != nil {
		dst = append(dst, f.schemaTable...)
	} else {
		dst = append(dst, `,"schema":"","table":""`...)
	}
	dst = append(dst, `,"txId":`...)
	if ev.TxID != 0 {
		dst = strconv.AppendUint(dst, ev.TxID, 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"lsn":`...)
	if ev.Pos.LSN != 0 {
		dst = strconv.AppendUint(dst, ev.Pos.LSN, 10)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, `,"xmin":null}`...)
}

// appendMySQLSource writes Debezium's MySQL source block.
func (e *Encoder) appendMySQLSource(dst []byte, ev *sluice.Event) []byte {
	dst = append(dst, e.srcHead...)
	dst = appendTimes(dst, ev.CommitTime)
	dst = append(dst, `,"snapshot":"`...)
	dst = append(dst, ev.Snapshot.String()...)
	dst = append(dst, `","db":`...)
	var f *tableFrags
	switch {
	case ev.Table != nil:
		f = e.frags(ev.Table)
		dst = append(dst, f.db...)
	case ev.DDL != nil && ev.DDL.Database != "":
		dst = appendStr(dst, ev.DDL.Database)
	default:
		dst = appendStr(dst, e.opt.DB)
	}
	dst = append(dst, `,"sequence":null`...)
	if f != nil {
		dst = append(dst, f.schemaTable...)
	} else {
		dst = append(dst, `,"table":null`...)
	}
	b := ev.Binlog
	if b == nil {
		b = &noBinlog
	}
	dst = append(dst, `,"server_id":`...)
	dst = strconv.AppendUint(dst, uint64(b.ServerID), 10)
	dst = append(dst, `,"gtid":`...)
	if b.GTID != "" {
		dst = appendStr(dst, b.GTID)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"file":`...)
	dst = appendStr(dst, b.File)
	dst = append(dst, `,"pos":`...)
	dst = strconv.AppendUint(dst, ev.Pos.LSN&0xffffffff, 10)
	dst = append(dst, `,"row":`...)
	dst = strconv.AppendInt(dst, int64(ev.Row), 10)
	dst = append(dst, `,"thread":`...)
	if b.Thread != 0 {
		dst = strconv.AppendUint(dst, b.Thread, 10)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, `,"query":null}`...)
}

// appendSchemaChange writes Debezium's schema change event. tableChanges
// is always empty: sluice takes table structure from the binlog, not from
// parsing DDL.
func (e *Encoder) appendSchemaChange(dst []byte, ev *sluice.Event, now time.Time) []byte {
	if e.opt.Schemas {
		dst = append(dst, `{"schema":{"type":"struct","fields":[`...)
		dst = append(dst, e.sourceSchema()...)
		dst = append(dst, `,{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"field":"databaseName"},{"type":"string","optional":true,"field":"schemaName"},{"type":"string","optional":true,"field":"ddl"},`...)
		dst = append(dst, `{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"type"},{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.schema.Change","version":1},"optional":false,"field":"tableChanges"}`...)
		dst = append(dst, `],"optional":false,"name":"io.debezium.connector.mysql.SchemaChangeValue","version":1},"payload":`...)
	}
	dst = append(dst, `{"source":`...)
	dst = e.appendSource(dst, ev)
	dst = append(dst, `,"ts_ms":`...)
	dst = strconv.AppendInt(dst, now.UnixMilli(), 10)
	var db, stmt string
	if ev.DDL != nil {
		db, stmt = ev.DDL.Database, ev.DDL.Statement
	}
	dst = append(dst, `,"databaseName":`...)
	dst = appendStr(dst, db)
	dst = append(dst, `,"schemaName":null,"ddl":`...)
	dst = appendStr(dst, stmt)
	dst = append(dst, `,"tableChanges":[]}`...)
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}

// noBinlog stands in for events without binlog coordinates (snapshot
// reads carry the snapshot's; this is only a guard).
var noBinlog sluice.Binlog

// appendTransaction writes Debezium's transaction block, or null for
// events outside a transaction (snapshot reads, non-transactional
// messages).
func appendTransaction(dst []byte, ev *sluice.Event) []byte {
	if ev.Binlog != nil {
		if ev.Binlog.TxID == "" || ev.TxOrder == 0 {
			return append(dst, "null"...)
		}
		dst = append(dst, `{"id":`...)
		dst = appendStr(dst, ev.Binlog.TxID)
		dst = append(dst, `,"total_order":`...)
		dst = strconv.AppendInt(dst, ev.TxOrder, 10)
		dst = append(dst, `,"data_collection_order":`...)
		dst = strconv.AppendInt(dst, ev.TableOrder, 10)
		return append(dst, '}')
	}
	if ev.TxID == 0 || ev.TxOrder == 0 {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"id":"`...)
	dst = strconv.AppendUint(dst, ev.TxID, 10)
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, ev.Pos.TxLSN, 10)
	dst = append(dst, `","total_order":`...)
	dst = strconv.AppendInt(dst, ev.TxOrder, 10)
	dst = append(dst, `,"data_collection_order":`...)
	dst = strconv.AppendInt(dst, ev.TableOrder, 10)
	return append(dst, '}')
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
	return strconv.AppendInt(dst, ev.TxOrder, 10)
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
