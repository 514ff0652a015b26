package codec

import (
	"fmt"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec/avro"
)

// AvroSchemas are the Avro schemas of one table's change events (as
// routed): the key and the envelope, converted from the Connect schemas
// the encoder writes with schemas on. The pointer is the same for every
// event of the table, so a sink can keep what it learns (registry ids)
// by it.
type AvroSchemas struct {
	Key, Value *avro.Schema
}

// AvroSchemas returns the Avro schemas of ev's table, converting them on
// first use. Sinks write the Avro form of a key or value by transcoding
// the JSON AppendKey and AppendValueAt write without schemas
// (Options.Schemas false): AppendAvro.
func (e *Encoder) AvroSchemas(ev *sluice.Event) (*AvroSchemas, error) {
	if ev.Table == nil {
		return nil, fmt.Errorf("avro: %c events have no table schema", ev.Op)
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
	return ts.avro, nil
}
