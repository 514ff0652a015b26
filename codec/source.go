package codec

import (
	"github.com/sluice-cdc/sluice"
)

// appendSource writes the connector's source block in Debezium's field
// order. PostgreSQL: version, connector, name, ts_ms, snapshot, db,
// sequence, ts_us, ts_ns, schema, table, txId, lsn, xmin, origin,
// origin_lsn. ts_* are the commit time (the snapshot's for snapshot
// reads).
func (e *Encoder) appendSource(dst []byte, ev *sluice.Event) []byte {
	if e.mysql {
		return e.appendMySQLSource(dst, ev)
	}
	var buf [20]byte
	dst, d, ns := e.appendSourceHead(dst, buf[:0], ev)
	var f *tableFrags
	if ev.Table != nil {
		f = e.frags(ev.Table)
		dst = append(dst, f.db...)
	} else {
		dst = appendStr(dst, e.opt.DB)
	}
	dst = append(dst, `,"sequence":`...)
	dst = appendPgSequence(dst, ev)
	dst = appendUsNs(dst, d, ns)
	if f != nil {
		dst = append(dst, f.schemaTable...)
	} else {
		dst = append(dst, `,"schema":"","table":""`...)
	}
	dst = append(dst, `,"txId":`...)
	if ev.TxID != 0 {
		dst = appendUint(dst, ev.TxID)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"lsn":`...)
	if ev.Pos.LSN != 0 {
		dst = appendUint(dst, ev.Pos.LSN)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, `,"xmin":null,"origin":null,"origin_lsn":null}`...)
}

// appendPgSequence writes PostgreSQL's source.sequence, the JSON string
// ["<last commit LSN>","<LSN>"]; the last commit is null in a snapshot
// read (and when unknown).
func appendPgSequence(dst []byte, ev *sluice.Event) []byte {
	dst = append(dst, `"[`...)
	if ev.Op == sluice.OpRead || ev.Pos.PrevTxLSN == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, `\"`...)
		dst = appendUint(dst, ev.Pos.PrevTxLSN)
		dst = append(dst, `\"`...)
	}
	dst = append(dst, `,\"`...)
	dst = appendUint(dst, ev.Pos.LSN)
	return append(dst, `\"]"`...)
}

// The source block's commit time is split: ts_ms before snapshot, db and
// sequence, ts_us and ts_ns after them. For instants after
// 1970-01-01T00:00:01Z the milli- and microseconds are the nanoseconds'
// leading digits, so the number is formatted once (nsDigits) and sliced.

// nsDigits formats ns into buf when ns >= 1e9; nil otherwise.
func nsDigits(buf []byte, ns int64) []byte {
	if ns < 1e9 {
		return nil
	}
	return appendInt(buf, ns)
}

// appendMs writes the milliseconds of ns (d: nsDigits of ns).
func appendMs(dst, d []byte, ns int64) []byte {
	if d != nil {
		return append(dst, d[:len(d)-6]...)
	}
	return appendInt(dst, floorDiv(ns, 1e6))
}

// appendUsNs writes `,"ts_us":…,"ts_ns":…` (d: nsDigits of ns).
func appendUsNs(dst, d []byte, ns int64) []byte {
	dst = append(dst, `,"ts_us":`...)
	if d != nil {
		dst = append(dst, d[:len(d)-3]...)
		dst = append(dst, `,"ts_ns":`...)
		return append(dst, d...)
	}
	dst = appendInt(dst, floorDiv(ns, 1e3))
	dst = append(dst, `,"ts_ns":`...)
	return appendInt(dst, ns)
}

// appendMySQLSource writes Debezium's MySQL/MariaDB source block:
// version, connector, name, ts_ms, snapshot, db, sequence, ts_us, ts_ns,
// table, server_id, gtid, file, pos, row, thread, query.
func (e *Encoder) appendMySQLSource(dst []byte, ev *sluice.Event) []byte {
	var buf [20]byte
	dst, d, ns := e.appendSourceHead(dst, buf[:0], ev)
	var f *tableFrags
	switch {
	case ev.Table != nil:
		f = e.frags(ev.Table)
		dst = append(dst, f.db...)
	case ev.DDL != nil:
		dst = appendStr(dst, ev.DDL.Database)
	default:
		dst = appendStr(dst, e.opt.DB)
	}
	dst = append(dst, `,"sequence":null`...)
	dst = appendUsNs(dst, d, ns)
	switch {
	case f != nil:
		dst = append(dst, f.schemaTable...)
	case ev.DDL != nil && ev.DDL.Table != "": // the table a schema change changes
		dst = append(dst, `,"table":`...)
		dst = appendStr(dst, ev.DDL.Table)
	default:
		dst = append(dst, `,"table":null`...)
	}
	b := ev.Binlog
	if b == nil {
		b = &noBinlog
	}
	dst = append(dst, `,"server_id":`...)
	dst = appendUint(dst, uint64(b.ServerID))
	dst = append(dst, `,"gtid":`...)
	if b.GTID != "" {
		dst = appendStr(dst, b.GTID)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"file":`...)
	dst = appendStr(dst, b.File)
	dst = append(dst, `,"pos":`...)
	dst = appendUint(dst, ev.Pos.LSN&0xffffffff)
	dst = append(dst, `,"row":`...)
	dst = appendInt(dst, int64(ev.Row))
	dst = append(dst, `,"thread":`...)
	if b.Thread != 0 {
		dst = appendUint(dst, b.Thread)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, `,"query":null}`...)
}

// noBinlog stands in for events without binlog coordinates (snapshot
// reads carry the snapshot's; this is only a guard).
var noBinlog sluice.Binlog

// appendSourceHead writes the start both source blocks share: version,
// connector, name, ts_ms, snapshot, and "db": (the value is the caller's).
// It returns the commit time's nanoseconds and their digits for the
// ts_us and ts_ns the caller writes later; the digits go into buf, the
// caller's, so that they stay on its stack.
func (e *Encoder) appendSourceHead(dst, buf []byte, ev *sluice.Event) ([]byte, []byte, int64) {
	ns := unixNanos(ev.CommitTime)
	d := nsDigits(buf, ns)
	dst = append(dst, e.srcHead...)
	dst = appendMs(dst, d, ns)
	dst = append(dst, `,"snapshot":"`...)
	dst = append(dst, ev.Snapshot.String()...)
	return append(dst, `","db":`...), d, ns
}
