package codec

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec/avro"
)

// AvroSchemas are the Avro schemas of one kind of record: a table's
// change events (as routed), or one of the kinds whose schemas do not
// depend on a table. They are converted from the Connect schemas the
// encoder writes with schemas on. The pointer is the same for every record
// of the kind, so a sink can keep what it learns (registry ids) by it.
type AvroSchemas struct {
	Key, Value *avro.Schema
	// plan is where a table's envelope fields are, for AppendAvroValue
	// (avro_direct.go); nil for the other kinds.
	plan *envelopePlan
}

// The kinds of records whose schemas do not depend on a table.
const (
	avroMessage = iota
	avroSchemaChange
	avroHeartbeat
	avroTx
	avroKinds
)

// AvroSchemas returns the Avro schemas of ev: a table's row events
// (unwrapped or not), an outbox event, a logical message or a schema
// change. Sinks write a row event's key and value with AppendAvroKey and
// AppendAvroValue, anything else by transcoding the JSON AppendKey and
// AppendValueAt write with Options.Typed and without schemas.
func (e *Encoder) AvroSchemas(ev *sluice.Event) (*AvroSchemas, error) {
	switch {
	case Outboxed(ev):
		if ev.Outbox.ExpandJSON {
			return nil, errors.New("avro: an outbox with expand_json_payload is not supported: the payload's schema would have to be inferred from each event's JSON")
		}
		return e.derivedAvro(ev, derivedKey{o: ev.Outbox, t: ev.Table}, *ev)
	case Unwrapped(ev):
		sample := *ev // a row, for the schema of the unwrapped row
		if ev.Op == sluice.OpDelete {
			sample.Op, sample.After = sluice.OpCreate, ev.Before
		}
		return e.derivedAvro(ev, derivedKey{u: ev.Unwrap, ts: e.evSchemas(ev)}, sample)
	case ev.Op == sluice.OpMessage && ev.Message != nil, ev.Op == sluice.OpSchemaChange && ev.DDL != nil:
		kind := avroMessage
		if ev.Op == sluice.OpSchemaChange {
			kind = avroSchemaChange
		}
		return e.constAvro(kind, func(tw *Encoder) ([]byte, []byte) {
			k, _ := tw.AppendKey(nil, ev)
			return k, tw.AppendValue(nil, ev)
		})
	case ev.Table == nil:
		return nil, fmt.Errorf("avro: %c events have no schema", ev.Op)
	}
	// A run of events of one table finds its schemas without a lock, as
	// frags does.
	if l := e.lastAvro.Load(); l != nil && l.t == ev.Table && l.r == ev.Route {
		return l.s, nil
	}
	ts := e.evSchemas(ev)
	e.mu.Lock()
	defer e.mu.Unlock()
	if ts.avro != nil {
		e.lastAvro.Store(&lastAvro{ev.Table, ev.Route, ts.avro})
		return ts.avro, nil
	}
	k, err := avro.Convert(ts.key)
	if err != nil {
		return nil, fmt.Errorf("key of %s.%s: %w", ev.Table.Schema, ev.Table.Name, err)
	}
	v, err := avro.Convert(ts.value)
	if err != nil {
		return nil, fmt.Errorf("value of %s.%s: %w", ev.Table.Schema, ev.Table.Name, err)
	}
	ts.avro = &AvroSchemas{Key: k, Value: v}
	ts.avro.plan = planEnvelope(ev.Table, ts.avro, e.mysql)
	e.lastAvro.Store(&lastAvro{ev.Table, ev.Route, ts.avro})
	return ts.avro, nil
}

// lastAvro is the last table (as routed) AvroSchemas answered for.
type lastAvro struct {
	t *sluice.Table
	r *sluice.Route
	s *AvroSchemas
}

// AvroHeartbeatSchemas returns the Avro schemas of heartbeat records.
func (e *Encoder) AvroHeartbeatSchemas() (*AvroSchemas, error) {
	return e.constAvro(avroHeartbeat, func(tw *Encoder) ([]byte, []byte) {
		hb := &sluice.Event{Op: sluice.OpHeartbeat}
		return tw.AppendHeartbeatKey(nil), tw.AppendHeartbeatValue(nil, hb, time.Now())
	})
}

// AvroTxSchemas returns the Avro schemas of the transaction topic's
// records (BEGIN and END share them).
func (e *Encoder) AvroTxSchemas() (*AvroSchemas, error) {
	return e.constAvro(avroTx, func(tw *Encoder) ([]byte, []byte) {
		b := &TxBoundary{End: true, ID: "0"}
		return tw.AppendTxKey(nil, b), tw.AppendTxValue(nil, b, time.Now())
	})
}

// constAvro converts, once, the schemas of a kind of record whose Connect
// schemas are constant.
func (e *Encoder) constAvro(kind int, write func(twin *Encoder) (key, value []byte)) (*AvroSchemas, error) {
	e.mu.Lock()
	s := e.avroConst[kind]
	e.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := e.convertTwin(write)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.avroConst[kind] = s
	return s, nil
}

// convertTwin converts the Connect schemas of a sample key and value that
// write writes with an encoder like e but with schemas on (a key of nil
// has none).
func (e *Encoder) convertTwin(write func(twin *Encoder) (key, value []byte)) (*AvroSchemas, error) {
	o := e.opt
	o.Schemas, o.Typed, o.Clock = true, false, nil
	twin, err := New(o)
	if err != nil {
		return nil, err
	}
	k, v := write(twin)
	var out AvroSchemas
	for _, part := range []struct {
		doc []byte
		to  **avro.Schema
	}{{k, &out.Key}, {v, &out.Value}} {
		if part.doc == nil {
			continue
		}
		var env struct{ Schema json.RawMessage }
		if err := json.Unmarshal(part.doc, &env); err != nil || len(env.Schema) == 0 {
			return nil, fmt.Errorf("avro: no connect schema in %.200s", part.doc)
		}
		if *part.to, err = avro.Convert(env.Schema); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// AvroNullValue reports whether ev's value is null in Avro: an unwrapped
// delete in tombstone mode, which Debezium's converters turn into a Kafka
// tombstone (the JSON form is the bytes null).
func AvroNullValue(ev *sluice.Event) bool {
	return unwrapped(ev) && ev.Op == sluice.OpDelete && !ev.Unwrap.Deletes.Rewrites()
}

// derivedKey identifies the schemas of events a transform reshaped: per
// table (as routed) and unwrap options, or per outbox.
type derivedKey struct {
	ts *tableSchemas
	u  *sluice.Unwrap
	o  *sluice.Outbox
	t  *sluice.Table
}

// derivedAvro converts, once per key, the Connect schemas the encoder
// writes with schemas on for sample (an event of the kind of ev).
func (e *Encoder) derivedAvro(ev *sluice.Event, k derivedKey, sample sluice.Event) (*AvroSchemas, error) {
	e.mu.Lock()
	s, ok := e.avroDerived[k]
	e.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := e.convertTwin(func(tw *Encoder) ([]byte, []byte) {
		key, ok := tw.AppendKey(nil, &sample)
		if !ok {
			key = nil
		}
		return key, tw.AppendValue(nil, &sample)
	})
	if err != nil {
		return nil, fmt.Errorf("%s.%s: %w", ev.Table.Schema, ev.Table.Name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.avroDerived) >= maxCachedTables {
		clear(e.avroDerived)
	}
	e.avroDerived[k] = s
	return s, nil
}
