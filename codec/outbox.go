package codec

import (
	"github.com/sluice-cdc/sluice"
)

// An event marked by the outbox transform (sluice.Event.Outbox) is
// written as Debezium's outbox EventRouter writes it, as recorded from
// Debezium Server 3.6.1 in testdata/golden/debezium-smt/postgres/outbox*:
//
//   - key: the event key column's value alone, as the column's values are
//     written ("1" for a varchar); with schemas
//     {"schema":<the column's schema>,"payload":…}. A NULL key is no key
//     (schemas off).
//   - value: the payload column's value alone: a jsonb column is its text
//     as a JSON string, NULL is the 4 bytes null (not a tombstone); with
//     schemas {"schema":<the column's schema, io.debezium.data.Json>,
//     "payload":…}. With ExpandJSON the text is written as compact JSON,
//     members whose value is null and empty arrays left out (Debezium's
//     table.json.payload.null.behavior=ignore); recorded without schemas
//     only, and refused with schemas (OutboxUnsupported).
//   - headers: "id" (the event id column), then the placed columns, each
//     in Kafka Connect JSON with the column's schema whatever the
//     schemas setting: {"schema":{"type":"string","optional":true},"payload":"acme"}.

// outboxSchemas are the Connect schemas of one Outbox's columns, built
// once per mark (a mark belongs to one *Table).
type outboxSchemas struct {
	key, value []byte
	headers    [][]byte // "id", then the placed columns
}

// outboxed reports whether ev is written as an outbox event.
func outboxed(ev *sluice.Event) bool {
	return ev.Outbox != nil && ev.Table != nil && ev.After != nil &&
		(ev.Op == sluice.OpCreate || ev.Op == sluice.OpRead)
}

// Outboxed reports whether ev is written as an outbox event: an insert or
// snapshot read the outbox transform marked. The Kafka sink then writes
// the headers OutboxHeaderName names instead of Debezium's connector
// headers, and sends it to ev.Topic.
func Outboxed(ev *sluice.Event) bool { return outboxed(ev) }

// OutboxUnsupported is an error for an outbox event the encoder cannot
// write as Debezium does: an expanded payload with schemas (not pinned
// down against Debezium's records). nil otherwise.
func (e *Encoder) OutboxUnsupported(ev *sluice.Event) error {
	if outboxed(ev) && ev.Outbox.ExpandJSON && e.opt.Schemas {
		return errOutboxExpandSchemas
	}
	return nil
}

type codecError string

func (e codecError) Error() string { return string(e) }

const errOutboxExpandSchemas = codecError("outbox: expand_json_payload with encoding schemas is not supported: Debezium's schema of an expanded payload is not pinned down; turn one of them off")

// OutboxHeaders is the number of headers of an outbox event: "id" and
// the placed columns.
func OutboxHeaders(ev *sluice.Event) int { return 1 + len(ev.Outbox.Headers) }

// OutboxHeaderName is the name of header i of an outbox event.
func OutboxHeaderName(ev *sluice.Event, i int) string {
	if i == 0 {
		return "id"
	}
	return ev.Outbox.Headers[i-1].Name
}

// AppendOutboxHeader appends the value of header i of an outbox event:
// the column's value in Connect JSON with its schema.
func (e *Encoder) AppendOutboxHeader(dst []byte, ev *sluice.Event, i int) []byte {
	col := ev.Outbox.ID
	if i > 0 {
		col = ev.Outbox.Headers[i-1].Column
	}
	dst = append(dst, `{"schema":`...)
	dst = append(dst, e.outboxSchemas(ev).headers[i]...)
	dst = append(dst, `,"payload":`...)
	dst = e.appendOutboxColumn(dst, ev, col)
	return append(dst, '}')
}

func (e *Encoder) appendOutboxKey(dst []byte, ev *sluice.Event) ([]byte, bool) {
	m := ev.Outbox
	if !e.opt.Schemas {
		if v := outboxValue(ev, m.Key); v.Kind != sluice.KindPresent {
			return dst, false
		}
		return e.appendOutboxColumn(dst, ev, m.Key), true
	}
	dst = append(dst, `{"schema":`...)
	dst = append(dst, e.outboxSchemas(ev).key...)
	dst = append(dst, `,"payload":`...)
	dst = e.appendOutboxColumn(dst, ev, m.Key)
	return append(dst, '}'), true
}

func (e *Encoder) appendOutboxValue(dst []byte, ev *sluice.Event) []byte {
	m := ev.Outbox
	if e.opt.Schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, e.outboxSchemas(ev).value...)
		dst = append(dst, `,"payload":`...)
	}
	v := outboxValue(ev, m.Payload)
	if m.ExpandJSON && v.Kind == sluice.KindPresent {
		dst = appendExpandedJSON(dst, v.Bytes)
	} else {
		dst = e.appendOutboxColumn(dst, ev, m.Payload)
	}
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}

func outboxValue(ev *sluice.Event, col int) *sluice.Value {
	if col < len(ev.After) {
		return &ev.After[col]
	}
	return &missing
}

// appendOutboxColumn writes column col of the after row as the envelope
// writes it.
func (e *Encoder) appendOutboxColumn(dst []byte, ev *sluice.Event, col int) []byte {
	f := e.frags(ev.Table)
	return e.appendColumn(dst, &ev.Table.Columns[col], &f.plans[col], outboxValue(ev, col), ev.Op == sluice.OpRead)
}

// outboxSchemas returns the schemas of ev's outbox columns.
func (e *Encoder) outboxSchemas(ev *sluice.Event) *outboxSchemas {
	m := ev.Outbox
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.outboxC[m]; ok {
		return s
	}
	t := ev.Table
	s := &outboxSchemas{
		key:     e.appendColumnSchema(nil, &t.Columns[m.Key]),
		value:   e.appendColumnSchema(nil, &t.Columns[m.Payload]),
		headers: [][]byte{e.appendColumnSchema(nil, &t.Columns[m.ID])},
	}
	for _, h := range m.Headers {
		s.headers = append(s.headers, e.appendColumnSchema(nil, &t.Columns[h.Column]))
	}
	if len(e.outboxC) >= maxCachedTables {
		clear(e.outboxC)
	}
	e.outboxC[m] = s
	return s
}

// appendColumnSchema is appendFieldSchema without the field name: the
// schema of one column's values on their own.
func (e *Encoder) appendColumnSchema(dst []byte, c *sluice.Column) []byte {
	p := e.planFor(c)
	dst = e.appendTypeSchema(dst, p.kind, p.elem, c, c.Optional)
	if c.Default.Kind == sluice.KindPresent {
		dst = dst[:len(dst)-1]
		dst = append(dst, `,"default":`...)
		dst = e.appendColumn(dst, c, &p, &c.Default, false)
		dst = append(dst, '}')
	}
	return dst
}
