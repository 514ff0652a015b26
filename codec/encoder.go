package codec

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice"
)

// Encoder writes events as Debezium JSON. It is safe for concurrent use:
// it holds only its options, constant pieces of JSON, and a cache of
// per-table pieces guarded by a mutex.
type Encoder struct {
	opt Options

	// srcHead is the constant start of the source block:
	// {"version":…,"connector":…,"name":…,"ts_ms":
	srcHead []byte
	mysql   bool   // MySQL/MariaDB source block and schemas
	pkg     string // the connector's package in schema names: postgresql, mysql, mariadb

	// The Connect schemas that do not depend on a table.
	sourceSchema, messageSchema, schemaChangeSchema []byte

	mu        sync.Mutex
	schemaC   map[schemaKey]*tableSchemas
	outboxC   map[*sluice.Outbox]*outboxSchemas
	fragC     map[*sluice.Table]*tableFrags
	lastFrags atomic.Pointer[tableFrags]
	// avroConst are the Avro schemas of the records whose schemas do not
	// depend on a table (avro.go), made on first use.
	avroConst [avroKinds]*AvroSchemas
	// avroDerived are the Avro schemas of unwrapped and outbox events.
	avroDerived map[derivedKey]*AvroSchemas
	lastAvro    atomic.Pointer[lastAvro]
}

// New checks the options and returns an Encoder.
func New(opt Options) (*Encoder, error) {
	o, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Encoder{opt: o, mysql: o.mysqlFamily(), pkg: o.Connector, schemaC: map[schemaKey]*tableSchemas{}, outboxC: map[*sluice.Outbox]*outboxSchemas{}, fragC: map[*sluice.Table]*tableFrags{}, avroDerived: map[derivedKey]*AvroSchemas{}}
	if e.pkg == "" {
		e.pkg = ConnectorPostgres
	}
	e.srcHead = append(e.srcHead, `{"version":`...)
	e.srcHead = appendStr(e.srcHead, Version)
	e.srcHead = append(e.srcHead, `,"connector":`...)
	e.srcHead = appendStr(e.srcHead, o.Connector)
	e.srcHead = append(e.srcHead, `,"name":`...)
	e.srcHead = appendStr(e.srcHead, o.Name)
	e.srcHead = append(e.srcHead, `,"ts_ms":`...)
	e.buildConstSchemas()
	return e, nil
}

// Options returns the encoder's options with defaults filled in.
func (e *Encoder) Options() Options { return e.opt }

// Skips reports whether events of op are not to be written at all
// (Options.SkippedOperations, Debezium's skipped.operations). Sinks that
// write Debezium's stream check it first.
func (e *Encoder) Skips(op sluice.Op) bool { return e.opt.skip[op] }

// AppendKey appends the record key of ev to dst. ok is false when the
// event has a null key (truncate, or a table with neither primary key nor
// replica identity): the record's key must then be nil.
func (e *Encoder) AppendKey(dst []byte, ev *sluice.Event) (out []byte, ok bool) {
	return e.appendKey(dst, ev)
}

// AppendKeyRow appends a key built from row's key columns, in Kafka
// Connect's {"schema","payload"} form whatever Options.Schemas says: the
// form of Debezium's __debezium.oldkey/newkey headers of a primary-key
// change.
func (e *Encoder) AppendKeyRow(dst []byte, t *sluice.Table, row sluice.Row) []byte {
	return e.appendKeyRow(dst, t, row, true, false)
}

// AppendRow appends row as a JSON object of its columns with the
// configured type encodings (missing columns, and unchanged TOAST columns
// in ToastOmit mode, are left out). Sinks that store rows rather than
// envelopes (a search index) use it.
func (e *Encoder) AppendRow(dst []byte, t *sluice.Table, row sluice.Row) []byte {
	return e.appendRowPresent(dst, t, row)
}

// AppendValue appends the record value (the envelope) of ev to dst, with
// the current time as the processing time (ts_ms, ts_us, ts_ns).
func (e *Encoder) AppendValue(dst []byte, ev *sluice.Event) []byte {
	return e.appendValue(dst, ev, e.now())
}

// AppendValueAt is AppendValue with the processing time given, so that a
// sink can stamp its record with the same instant without reading the
// clock twice. An encoder built with Options.Clock uses its clock instead.
func (e *Encoder) AppendValueAt(dst []byte, ev *sluice.Event, now time.Time) []byte {
	if e.opt.Clock != nil {
		now = e.opt.Clock()
	}
	return e.appendValue(dst, ev, now)
}

// AppendUnchanged appends a JSON array of the names of ev's columns that
// the source did not send (unchanged TOAST values) and reports whether
// there were any. Sinks put it in the out-of-band header UnchangedHeader.
func AppendUnchanged(dst []byte, ev *sluice.Event) ([]byte, bool) {
	return appendUnchanged(dst, ev)
}

// AppendEventID appends the deterministic id of ev: the transaction's
// commit LSN in hexadecimal and the event's index in the transaction,
// "<txlsn>/<order>", e.g. "16B3748/3". A replayed event has the same id.
func AppendEventID(dst []byte, ev *sluice.Event) []byte {
	return appendEventID(dst, ev)
}

// OtherKeyHeader is the header that carries ev.OtherKey, the other key of
// a primary-key change's half: NewKeyHeader on the delete, OldKeyHeader
// on the create; "" for other events.
func OtherKeyHeader(ev *sluice.Event) string {
	if ev.OtherKey == nil || ev.Table == nil {
		return ""
	}
	switch ev.Op {
	case sluice.OpDelete:
		return NewKeyHeader
	case sluice.OpCreate:
		return OldKeyHeader
	}
	return ""
}

// Header names sinks attach to records.
const (
	EventIDHeader   = "sluice.event.id"
	UnchangedHeader = "sluice.unchanged"
	OldKeyHeader    = "__debezium.oldkey"
	NewKeyHeader    = "__debezium.newkey"
)
