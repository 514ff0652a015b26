package codec

import (
	"time"

	"github.com/sluice-cdc/sluice"
)

// Heartbeat records (sluice.OpHeartbeat), as Debezium's heartbeat writes
// them (heartbeat.interval.ms), keyed by the logical server name:
//
//	key   {"serverName":"<topic.prefix>"}
//	value {"ts_ms":…}
//
// Debezium keeps the position in the record's Connect source offset,
// which a Kafka consumer never sees; sluice adds it to the value, under
// the names of Debezium's offsets, so that a consumer can tell how far
// the source has read: "lsn" for PostgreSQL, "file", "pos" and "gtids"
// for MySQL and MariaDB. With schemas, the value schema keeps Debezium's
// name and ts_ms field and declares the position fields optional.
// Heartbeats are rare (one per interval): this path is not tuned.

const (
	hbKeySchema        = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"serverName"}],"optional":false,"name":"io.debezium.connector.common.ServerNameKey"}`
	hbValueSchemaStart = `{"type":"struct","fields":[{"type":"int64","optional":false,"field":"ts_ms"},`
	hbValueSchemaEnd   = `],"optional":false,"name":"io.debezium.connector.common.Heartbeat"}`
	hbPGFields         = `{"type":"int64","optional":true,"field":"lsn"}`
	hbMySQLFields      = `{"type":"string","optional":true,"field":"file"},{"type":"int64","optional":true,"field":"pos"},{"type":"string","optional":true,"field":"gtids"}`
)

// AppendHeartbeatKey appends the key of a heartbeat record.
func (e *Encoder) AppendHeartbeatKey(dst []byte) []byte {
	if e.opt.Schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, hbKeySchema...)
		dst = append(dst, `,"payload":`...)
	}
	dst = append(dst, `{"serverName":`...)
	dst = appendStr(dst, e.opt.Name)
	dst = append(dst, '}')
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}

// AppendHeartbeatValue appends the value of the heartbeat record of ev;
// now is its ts_ms (the processing time, as Debezium's).
func (e *Encoder) AppendHeartbeatValue(dst []byte, ev *sluice.Event, now time.Time) []byte {
	if e.opt.Clock != nil {
		now = e.opt.Clock()
	}
	hb := ev.Heartbeat
	if hb == nil {
		hb = &sluice.Heartbeat{}
	}
	if e.opt.Schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, hbValueSchemaStart...)
		if e.mysql {
			dst = append(dst, hbMySQLFields...)
		} else {
			dst = append(dst, hbPGFields...)
		}
		dst = append(dst, hbValueSchemaEnd...)
		dst = append(dst, `,"payload":`...)
	}
	dst = append(dst, `{"ts_ms":`...)
	dst = appendInt(dst, now.UnixMilli())
	if e.mysql {
		dst = append(dst, `,"file":`...)
		dst = appendStr(dst, hb.File)
		dst = append(dst, `,"pos":`...)
		dst = appendUint(dst, hb.Pos)
		dst = append(dst, `,"gtids":`...)
		if hb.GTIDs == "" {
			dst = append(dst, "null"...)
		} else {
			dst = appendStr(dst, hb.GTIDs)
		}
	} else {
		dst = append(dst, `,"lsn":`...)
		dst = appendUint(dst, hb.LSN)
	}
	dst = append(dst, '}')
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}
