package codec

import (
	"time"

	"github.com/sluice-cdc/sluice"
)

// An event marked by the unwrap transform (sluice.Event.Unwrap) is
// written as Debezium's ExtractNewRecordState writes it, as recorded from
// Debezium Server 3.6.1 in testdata/golden/debezium-smt:
//
//   - c, u, r: the after row alone, columns in table order, same value
//     encodings; in rewrite mode followed by "__deleted":"false"; then
//     the add.fields.
//   - d: the 4 bytes null (tombstone mode), or the before row with
//     "__deleted":"true" and the add.fields (rewrite mode).
//   - schemas on: the row's struct named <prefix>.<schema>.<table>.Value,
//     "optional":false, the added fields appended as optional fields
//     without names; the null of a delete has the plain row schema with
//     "optional":true.
//
// The key is unchanged (AppendKey), and so are messages, which the
// transform does not mark.

// unwrapped reports whether ev is written unwrapped.
func unwrapped(ev *sluice.Event) bool {
	if ev.Unwrap == nil || ev.Table == nil {
		return false
	}
	switch ev.Op {
	case sluice.OpCreate, sluice.OpUpdate, sluice.OpRead, sluice.OpDelete:
		return true
	}
	return false
}

// appendUnwrapped writes the value of an unwrapped event.
func (e *Encoder) appendUnwrapped(dst []byte, ev *sluice.Event, now time.Time) []byte {
	u := ev.Unwrap
	row, deleted := ev.After, false
	if ev.Op == sluice.OpDelete {
		if !u.Deletes.Rewrites() {
			if !e.opt.Schemas {
				return append(dst, "null"...)
			}
			s := e.evSchemas(ev)
			dst = append(dst, `{"schema":{"type":"struct","fields":[`...)
			dst = append(dst, s.rowFields...)
			dst = append(dst, `],"optional":true,"name":`...)
			dst = append(dst, s.rowName...)
			return append(dst, `},"payload":null}`...)
		}
		row, deleted = ev.Before, true
	}
	if e.opt.Schemas {
		s := e.evSchemas(ev)
		dst = append(dst, `{"schema":{"type":"struct","fields":[`...)
		dst = append(dst, s.rowFields...)
		if u.Deletes.Rewrites() {
			dst = append(dst, `,{"type":"string","optional":true,"field":"__deleted"}`...)
		}
		for i := range u.Fields {
			f := &u.Fields[i]
			dst = append(dst, `,{"type":"`...)
			dst = append(dst, unwrapFieldType(f)...)
			dst = append(dst, `","optional":true,"field":`...)
			dst = appendStr(dst, f.Name)
			dst = append(dst, '}')
		}
		dst = append(dst, `],"optional":false,"name":`...)
		dst = append(dst, s.rowName...)
		dst = append(dst, `},"payload":`...)
	}
	if row == nil {
		row = sluice.Row{} // every column missing: nulls
	}
	dst = e.appendRow(dst, ev.Table, row, ev.Op == sluice.OpRead)
	dst = dst[:len(dst)-1] // reopen the object for the added fields
	comma := dst[len(dst)-1] != '{'
	if u.Deletes.Rewrites() {
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		if deleted {
			dst = append(dst, `"__deleted":"true"`...)
		} else {
			dst = append(dst, `"__deleted":"false"`...)
		}
	}
	for i := range u.Fields {
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = appendStr(dst, u.Fields[i].Name)
		dst = append(dst, ':')
		dst = e.appendUnwrapField(dst, ev, &u.Fields[i], now)
	}
	dst = append(dst, '}')
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}

// AppendUnwrapHeader appends the value of the add.headers header f of ev:
// Kafka Connect JSON with its schema, as Debezium's header converter
// writes it whatever the value converter's schemas setting:
// {"schema":{"type":"string","optional":true},"payload":"c"}.
func (e *Encoder) AppendUnwrapHeader(dst []byte, ev *sluice.Event, f *sluice.UnwrapField, now time.Time) []byte {
	if e.opt.Clock != nil {
		now = e.opt.Clock()
	}
	dst = append(dst, `{"schema":{"type":"`...)
	dst = append(dst, unwrapFieldType(f)...)
	dst = append(dst, `","optional":true},"payload":`...)
	dst = e.appendUnwrapField(dst, ev, f, now)
	return append(dst, '}')
}

// Unwrapped reports whether ev is written unwrapped: a row change the
// unwrap transform marked. The Kafka sink then writes no tombstone and
// adds the transform's headers.
func Unwrapped(ev *sluice.Event) bool { return unwrapped(ev) }

// unwrapFieldType is the Connect type of an added field, as in
// Debezium's envelope and source schemas.
func unwrapFieldType(f *sluice.UnwrapField) string {
	switch f.Field {
	case "ts_ms", "ts_us", "ts_ns", "txId", "lsn", "server_id", "pos", "thread":
		return "int64"
	case "row":
		return "int32"
	}
	return "string"
}

// appendUnwrapField writes the value of an added field: the envelope's
// (op; ts_* the processing time now) or the source block's, as
// appendSource writes it; null where the connector has no such field.
func (e *Encoder) appendUnwrapField(dst []byte, ev *sluice.Event, f *sluice.UnwrapField, now time.Time) []byte {
	if f.Struct == "" {
		switch f.Field {
		case "op":
			return append(dst, '"', byte(ev.Op), '"')
		case "ts_ms":
			return appendInt(dst, floorDiv(unixNanos(now), 1e6))
		case "ts_us":
			return appendInt(dst, floorDiv(unixNanos(now), 1e3))
		case "ts_ns":
			return appendInt(dst, unixNanos(now))
		}
		return append(dst, "null"...)
	}
	b := ev.Binlog
	switch f.Field {
	case "version":
		return appendStr(dst, Version)
	case "connector":
		return appendStr(dst, e.opt.Connector)
	case "name":
		return appendStr(dst, e.opt.Name)
	case "ts_ms":
		return appendInt(dst, floorDiv(unixNanos(ev.CommitTime), 1e6))
	case "ts_us":
		return appendInt(dst, floorDiv(unixNanos(ev.CommitTime), 1e3))
	case "ts_ns":
		return appendInt(dst, unixNanos(ev.CommitTime))
	case "snapshot":
		return appendStr(dst, ev.Snapshot.String())
	case "db":
		return append(dst, e.frags(ev.Table).db...)
	case "schema":
		if !e.mysql {
			return appendStr(dst, ev.Table.Schema)
		}
	case "table":
		return appendStr(dst, ev.Table.Name)
	case "sequence":
		if !e.mysql {
			return appendPgSequence(dst, ev)
		}
	case "txId":
		if !e.mysql && ev.TxID != 0 {
			return appendUint(dst, ev.TxID)
		}
	case "lsn":
		if !e.mysql && ev.Pos.LSN != 0 {
			return appendUint(dst, ev.Pos.LSN)
		}
	case "server_id":
		if e.mysql && b != nil {
			return appendUint(dst, uint64(b.ServerID))
		}
	case "gtid":
		if e.mysql && b != nil && b.GTID != "" {
			return appendStr(dst, b.GTID)
		}
	case "file":
		if e.mysql && b != nil {
			return appendStr(dst, b.File)
		}
	case "pos":
		if e.mysql {
			return appendUint(dst, ev.Pos.LSN&0xffffffff)
		}
	case "row":
		if e.mysql {
			return appendInt(dst, int64(ev.Row))
		}
	case "thread":
		if e.mysql && b != nil && b.Thread != 0 {
			return appendUint(dst, b.Thread)
		}
	}
	return append(dst, "null"...)
}
