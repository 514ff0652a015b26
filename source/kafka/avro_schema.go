package kafka

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hamba/avro/v2"

	"github.com/sluice-cdc/sluice"
)

// An Avro record's writer schema is parsed once per (topic, value schema
// id, key schema id) into a plan: the schema compiled into avroNodes the
// binary decoder walks, the row's columns (from the Connect properties
// AvroData leaves on the Avro types: connect.name, connect.parameters,
// connect.type) and the record key's column names. Registry ids are
// immutable, so a plan never goes stale.

// maxAvroDepth bounds how deeply schemas nest: Connect schemas are shallow,
// and a recursive Avro record (which no Connect schema makes) would
// otherwise expand forever.
const maxAvroDepth = 32

// avroNode is a compiled Avro schema. Named types are expanded at each use,
// so a node belongs to one place in one schema.
type avroNode struct {
	typ      avro.Type
	names    []string    // Record: field names
	fields   []*avroNode // Record: field types, in wire order
	items    *avroNode   // Array items, Map values
	branches []*avroNode // Union
	symbols  []string    // Enum
	size     int         // Fixed
}

// nonNull is the node a nullable union stands for (n itself otherwise).
func (n *avroNode) nonNull() *avroNode {
	if n.typ == avro.Union {
		for _, b := range n.branches {
			if b.typ != avro.Null {
				return b
			}
		}
	}
	return n
}

// field returns the node of the record field called name, or nil.
func (n *avroNode) field(name string) *avroNode {
	for i, f := range n.names {
		if f == name {
			return n.fields[i]
		}
	}
	return nil
}

func compileAvro(s avro.Schema, depth int) (*avroNode, error) {
	if depth > maxAvroDepth {
		return nil, errors.New("schema nests too deeply (a recursive record?)")
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	n := &avroNode{typ: s.Type()}
	var err error
	switch t := s.(type) {
	case *avro.RecordSchema:
		for _, f := range t.Fields() {
			fn, err := compileAvro(f.Type(), depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name(), err)
			}
			n.names, n.fields = append(n.names, f.Name()), append(n.fields, fn)
		}
	case *avro.ArraySchema:
		n.items, err = compileAvro(t.Items(), depth+1)
	case *avro.MapSchema:
		n.items, err = compileAvro(t.Values(), depth+1)
	case *avro.UnionSchema:
		for _, b := range t.Types() {
			bn, err := compileAvro(b, depth+1)
			if err != nil {
				return nil, err
			}
			n.branches = append(n.branches, bn)
		}
	case *avro.EnumSchema:
		n.symbols = t.Symbols()
	case *avro.FixedSchema:
		n.size = t.Size()
	}
	return n, err
}

// avroColumn maps the Avro schema of a row's field to a column: its
// Connect type from the Avro type (or connect.type, which AvroData writes
// for int8 and int16) and its Debezium logical name from connect.name.
func avroColumn(name string, s avro.Schema, depth int) (column, error) {
	if depth > maxAvroDepth {
		return column{}, fmt.Errorf("field %q: schema nests too deeply (a recursive record?)", name)
	}
	optional := false
	if u, ok := s.(*avro.UnionSchema); ok {
		var other []avro.Schema
		for _, b := range u.Types() {
			if b.Type() == avro.Null {
				optional = true
			} else {
				other = append(other, b)
			}
		}
		if len(other) != 1 {
			return column{}, fmt.Errorf("field %q: a union of %d non-null types is not a Connect schema", name, len(other))
		}
		s = other[0]
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	prop := func(string) any { return nil }
	if p, ok := s.(avro.PropertySchema); ok {
		prop = p.Prop
	}
	var typ string
	switch s.Type() {
	case avro.Int:
		typ = connInt32
		if ct, _ := prop("connect.type").(string); ct == connInt8 || ct == connInt16 {
			typ = ct
		}
	case avro.Long:
		typ = connInt64
	case avro.Float:
		typ = connFloat32
	case avro.Double:
		typ = connFloat64
	case avro.Boolean:
		typ = connBool
	case avro.String, avro.Enum:
		typ = connString
	case avro.Bytes, avro.Fixed:
		typ = connBytes
	case avro.Array:
		typ = connArray
	case avro.Map:
		typ = connMap
	case avro.Record:
		typ = connStruct
	default:
		return column{}, fmt.Errorf("field %q: Avro type %s has no Connect type", name, s.Type())
	}
	logical, _ := prop("connect.name").(string)
	params, _ := prop("connect.parameters").(map[string]any)
	c := connectColumn(name, typ, logical, func(k string) string {
		v, _ := params[k].(string)
		return v
	}, optional)
	switch t := s.(type) {
	case *avro.ArraySchema:
		e, err := avroColumn("", t.Items(), depth+1)
		if err != nil {
			return column{}, fmt.Errorf("field %q: %w", name, err)
		}
		c.setElem(e)
	case *avro.RecordSchema:
		fs, err := avroColumns(t, depth+1)
		if err != nil {
			return column{}, fmt.Errorf("field %q: %w", name, err)
		}
		c.setFields(fs)
	}
	return c, nil
}

func avroColumns(r *avro.RecordSchema, depth int) ([]column, error) {
	cols := make([]column, 0, len(r.Fields()))
	for _, f := range r.Fields() {
		c, err := avroColumn(f.Name(), f.Type(), depth)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// parseAvro parses a writer schema with a cache of its own: the registry's
// schemas of one record name differ between versions, and hamba's default
// cache is global.
func parseAvro(text string) (avro.Schema, error) {
	return avro.ParseWithCache(text, "", &avro.SchemaCache{})
}

// avroKey identifies a plan. key is -1 for records without a key.
type avroKey struct {
	topic      string
	value, key int
}

// avroPlan is what a record's schemas say, once per avroKey.
type avroPlan struct {
	topic string
	// skip, when set, is returned for every record of the schema: errSkip
	// for Debezium's other records, or why the schema is no change event.
	skip     error
	env      *avroNode // the envelope record
	cols     []column  // the before/after record's columns; nil without one
	key      *avroNode // nil: no key
	keyNames []string

	last   atomic.Pointer[cached] // the table of the last record
	mu     sync.Mutex
	byName map[[3]string]*cached
}

// table returns the plan's table for the source block's db, schema and
// table: several tables share a schema (and so a plan) when a router puts
// them on one topic.
func (p *avroPlan) table(src *sourceInfo) *cached {
	if c := p.last.Load(); c != nil && sameName(c.table, src) {
		return c
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	name := [3]string{src.db, src.schema, src.table}
	c := p.byName[name]
	if c == nil {
		c = newCached(p.topic, p.cols, src, p.keyNames)
		p.byName[name] = c
	}
	p.last.Store(c)
	return c
}

// avroPlans is the plan cache, shared by the decoders of one schema
// source (one per worker) so that a table's events share its
// *sluice.Table, as the JSON decoders' tableCache does.
type avroPlans struct {
	mu    sync.RWMutex
	plans map[avroKey]*avroPlan
}

func newAvroPlans() *avroPlans { return &avroPlans{plans: map[avroKey]*avroPlan{}} }

func (ps *avroPlans) get(k avroKey) *avroPlan {
	ps.mu.RLock()
	p := ps.plans[k]
	ps.mu.RUnlock()
	return p
}

// put stores p unless another decoder stored one first, and returns the
// one stored.
func (ps *avroPlans) put(k avroKey, p *avroPlan) *avroPlan {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if old := ps.plans[k]; old != nil {
		return old
	}
	ps.plans[k] = p
	return p
}

// sharedPlans gives a schema source the plan cache its decoders share;
// newAvroDecoder looks for it.
type sharedPlans struct {
	once  sync.Once
	plans *avroPlans
}

func (s *sharedPlans) avroPlans() *avroPlans {
	s.once.Do(func() { s.plans = newAvroPlans() })
	return s.plans
}

// newAvroPlan classifies a value schema as Debezium's decoders do its JSON
// payload, and compiles what decoding its records needs. keyText is ""
// for records without a key.
func newAvroPlan(topic, valueText, keyText string) (*avroPlan, error) {
	p := &avroPlan{topic: topic, byName: map[[3]string]*cached{}}
	vs, err := parseAvro(valueText)
	if err != nil {
		return nil, fmt.Errorf("value schema: %w", err)
	}
	rec, ok := vs.(*avro.RecordSchema)
	if !ok {
		p.skip = fmt.Errorf("value is Avro %s, not a Debezium change event", vs.Type())
		return p, nil
	}
	has := func(name string) bool {
		for _, f := range rec.Fields() {
			if f.Name() == name {
				return true
			}
		}
		return false
	}
	switch {
	case has("op") && has("source"):
	case has("op"):
		p.skip = errors.New("no source block")
	case has("status") && has("id") && has("event_count") || has("data_collections"):
		p.skip = errSkip("transaction metadata")
	case has("ddl") || has("tableChanges") || has("historyRecord") || has("databaseName"):
		p.skip = errSkip("schema change")
	case len(rec.Fields()) == 1 && has("ts_ms"):
		p.skip = errSkip("heartbeat")
	default:
		p.skip = errors.New("value has no op: not a Debezium change event (an unwrapped row or another format?)")
	}
	if p.skip != nil {
		return p, nil
	}
	if p.env, err = compileAvro(rec, 0); err != nil {
		return nil, fmt.Errorf("value schema: %w", err)
	}
	// The row's columns come from after (or before), as in the JSON
	// decoder's schemaTable.
	var row *avro.RecordSchema
	for _, f := range rec.Fields() {
		if f.Name() != "after" && (f.Name() != "before" || row != nil) {
			continue
		}
		if r, ok := unwrapRecord(f.Type()); ok {
			row = r
		} else {
			return nil, fmt.Errorf("value schema: %s is Avro %s, not a record", f.Name(), f.Type().Type())
		}
	}
	if row != nil {
		if p.cols, err = avroColumns(row, 0); err != nil {
			return nil, fmt.Errorf("value schema: %w", err)
		}
	}
	if keyText != "" {
		ks, err := parseAvro(keyText)
		if err != nil {
			return nil, fmt.Errorf("key schema: %w", err)
		}
		if p.key, err = compileAvro(ks, 0); err != nil {
			return nil, fmt.Errorf("key schema: %w", err)
		}
		if r, ok := unwrapRecord(ks); ok {
			for _, f := range r.Fields() {
				p.keyNames = append(p.keyNames, f.Name())
			}
		}
	}
	return p, nil
}

// unwrapRecord returns the record a (nullable) schema stands for.
func unwrapRecord(s avro.Schema) (*avro.RecordSchema, bool) {
	if u, ok := s.(*avro.UnionSchema); ok {
		var rec avro.Schema
		for _, b := range u.Types() {
			if b.Type() != avro.Null {
				if rec != nil {
					return nil, false
				}
				rec = b
			}
		}
		s = rec
	}
	if ref, ok := s.(*avro.RefSchema); ok {
		s = ref.Schema()
	}
	r, ok := s.(*avro.RecordSchema)
	return r, ok
}

// truncateTable is the table of a truncate, which carries no row: the
// names from the source block only, as the JSON decoder makes it.
func truncateTable(src *sourceInfo) *sluice.Table {
	return &sluice.Table{DB: src.db, Schema: src.schema, Name: src.table}
}
