package codec

import (
	"strconv"

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
		dst = strconv.AppendUint(dst, ev.Pos.PrevTxLSN, 10)
		dst = append(dst, `\"`...)
	}
	dst = append(dst, `,\"`...)
	dst = strconv.AppendUint(dst, ev.Pos.LSN, 10)
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
	return strconv.AppendInt(buf, ns, 10)
}

// appendMs writes the milliseconds of ns (d: nsDigits of ns).
func appendMs(dst, d []byte, ns int64) []byte {
	if d != nil {
		return append(dst, d[:len(d)-6]...)
	}
	return strconv.AppendInt(dst, floorDiv(ns, 1e6), 10)
}

// appendUsNs writes `,"ts_us":…,"ts_ns":…` (d: nsDigits of ns).
func appendUsNs(dst, d []byte, ns int64) []byte {
	dst = append(dst, `,"ts_us":`...)
	if d != nil {
		dst = append(dst, d[:len(d)-3]...)
		dst = append(dst, `,"ts_ns":`...)
		return append(dst, d...)
	}
	dst = strconv.AppendInt(dst, floorDiv(ns, 1e3), 10)
	dst = append(dst, `,"ts_ns":`...)
	return strconv.AppendInt(dst, ns, 10)
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
