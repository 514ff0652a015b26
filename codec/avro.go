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

// AvroSchemas returns the Avro schemas of ev: a table's row events, a
// logical message or a schema change. Sinks write the Avro form of a key
// or value by transcoding the JSON AppendKey and AppendValueAt write with
// Options.Typed and without schemas.
func (e *Encoder) AvroSchemas(ev *sluice.Event) (*AvroSchemas, error) {
	switch {
	case Unwrapped(ev) || Outboxed(ev):
		return nil, errors.New("avro: unwrapped and outbox events are not supported yet")
	case ev.Op == sluice.OpMessage && ev.Message != nil:
		return e.constAvro(avroMessage, func(tw *Encoder) ([]byte, []byte) {
			k, _ := tw.AppendKey(nil, ev)
			return k, tw.AppendValue(nil, ev)
		})
	case ev.Op == sluice.OpSchemaChange && ev.DDL != nil:
		return e.constAvro(avroSchemaChange, func(tw *Encoder) ([]byte, []byte) {
			k, _ := tw.AppendKey(nil, ev)
			return k, tw.AppendValue(nil, ev)
		})
	case ev.Table == nil:
		return nil, fmt.Errorf("avro: %c events have no schema", ev.Op)
	}
	ts := e.evSchemas(ev)
	e.mu.Lock()
	defer e.mu.Unlock()
	if ts.avro != nil {
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
	ts.avro.plan = planEnvelope(ev.Table, ts.avro)
	return ts.avro, nil
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
// schemas are constant: write writes a sample key and value with schemas
// on, and their "schema" members are converted.
func (e *Encoder) constAvro(kind int, write func(twin *Encoder) (key, value []byte)) (*AvroSchemas, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.avroConst[kind]; s != nil {
		return s, nil
	}
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
		var env struct{ Schema json.RawMessage }
		if err := json.Unmarshal(part.doc, &env); err != nil || len(env.Schema) == 0 {
			return nil, fmt.Errorf("avro: no connect schema in %.200s", part.doc)
		}
		if *part.to, err = avro.Convert(env.Schema); err != nil {
			return nil, err
		}
	}
	e.avroConst[kind] = &out
	return &out, nil
}
