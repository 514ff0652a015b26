package kafka

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"

	"github.com/sluice-cdc/sluice"
)

// errSkip marks records that are not change events but belong on a
// change topic's neighbours: tombstones, transaction metadata, heartbeats
// and schema changes. They are counted and passed over, not dead-lettered.
type errSkip string

func (e errSkip) Error() string { return string(e) }

// jsonDecoder reads Debezium's JSON change events, with Connect schemas
// (schemas.enable=true) or without. One decoder serves one goroutine (its
// parsers reuse their memory); the table cache is shared.
type jsonDecoder struct {
	vp, kp, sp  fastjson.Parser
	placeholder []byte // unavailable.value.placeholder: an unchanged TOASTed value
	tables      *tableCache
	keyNames    []string
	src         sourceReader
}

// tableCache keeps one *sluice.Table per topic and schema, so the events
// of a table share it as the database sources' events do.
type tableCache struct {
	mu   sync.Mutex
	seed maphash.Seed
	// bySchema holds tables made from a Connect schema, by the hash of
	// the schema's text; byTopic the last table guessed for a topic's
	// records without schemas.
	bySchema map[uint64]*cached
	byTopic  map[string]*cached
}

type cached struct {
	topic string
	table *sluice.Table
	cols  []column
}

func newTableCache() *tableCache {
	return &tableCache{seed: maphash.MakeSeed(), bySchema: map[uint64]*cached{}, byTopic: map[string]*cached{}}
}

func newJSONDecoder(tables *tableCache, placeholder string) *jsonDecoder {
	return &jsonDecoder{tables: tables, placeholder: []byte(placeholder)}
}

// decode reads one record. It returns errSkip for records that are not
// change events, and another error for records it cannot read.
func (d *jsonDecoder) decode(r *kgo.Record) (*envelope, error) {
	if r.Value == nil {
		return nil, errSkip("tombstone")
	}
	// A record whose schema text is one seen before: only its payload
	// is parsed (the schema is most of the record).
	h, known := d.knownSchema(r)
	var v *fastjson.Value
	var err error
	if known != nil {
		v, err = d.vp.ParseBytes(r.Value[len(schemaHead)+h.end+len(payloadSep) : h.close])
	} else {
		v, err = d.vp.ParseBytes(r.Value)
	}
	if err != nil {
		return nil, fmt.Errorf("value is not JSON: %w", err)
	}
	payload, schema := v, (*fastjson.Value)(nil)
	if known != nil {
		if v.Type() == fastjson.TypeNull {
			return nil, errSkip("tombstone")
		}
	} else if s, p := v.Get("schema"), v.Get("payload"); s != nil && p != nil && v.GetObject().Len() == 2 {
		payload, schema = p, s
		if p.Type() == fastjson.TypeNull {
			return nil, errSkip("tombstone")
		}
	}
	if payload.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("value is JSON %s, not a Debezium change event", payload.Type())
	}
	op := payload.GetStringBytes("op")
	if len(op) != 1 {
		return nil, notChange(payload)
	}
	env := &envelope{op: sluice.Op(op[0])}
	if err := d.src.read(payload.Get("source"), &env.src); err != nil {
		return nil, err
	}
	if tx := payload.Get("transaction"); tx != nil && tx.Type() == fastjson.TypeObject {
		env.txOrder = tx.GetInt64("total_order")
		env.tableOrder = tx.GetInt64("data_collection_order")
	}
	if env.op == sluice.OpMessage {
		m := payload.Get("message")
		if m == nil || m.Type() != fastjson.TypeObject {
			return nil, errors.New("op m without message")
		}
		content, err := base64.StdEncoding.DecodeString(string(m.GetStringBytes("content")))
		if err != nil {
			return nil, fmt.Errorf("message.content is not base64: %w", err)
		}
		env.message = &sluice.Message{Prefix: string(m.GetStringBytes("prefix")), Content: content, Transactional: env.src.txID != 0}
		return env, nil
	}
	if env.op == sluice.OpTruncate {
		env.table = &sluice.Table{DB: env.src.db, Schema: env.src.schema, Name: env.src.table}
		return env, nil
	}
	before, after := payload.Get("before"), payload.Get("after")
	keyNames, err := d.readKeyNames(r.Key)
	if err != nil {
		return nil, err
	}
	c, err := d.table(r, known, schema, before, after, &env.src, keyNames)
	if err != nil {
		return nil, err
	}
	env.table = c.table
	if env.before, err = d.row(c.cols, before); err != nil {
		return nil, fmt.Errorf("before: %w", err)
	}
	if env.after, err = d.row(c.cols, after); err != nil {
		return nil, fmt.Errorf("after: %w", err)
	}
	return env, nil
}

// The text around a Connect JSON record's schema, as JsonConverter
// writes it: {"schema":<schema>,"payload":<payload>}.
var (
	schemaHead = []byte(`{"schema":`)
	payloadSep = []byte(`,"payload":`)
)

// span locates a record's schema text: it ends at end (after
// schemaHead), the payload ends at close (the record's last '}'); sum is
// the hash of everything up to the schema's end.
type span struct {
	end, close int
	sum        uint64
}

// schemaSpan finds the schema text of a {"schema":…,"payload":…} record.
// The schema cannot hold the separator (its keys are Connect's and its
// strings are names), so the first one ends it.
func schemaSpan(v []byte) (span, bool) {
	if !bytes.HasPrefix(v, schemaHead) {
		return span{}, false
	}
	end := bytes.Index(v[len(schemaHead):], payloadSep)
	last := bytes.LastIndexByte(v, '}')
	if end < 0 || last <= len(schemaHead)+end+len(payloadSep) {
		return span{}, false
	}
	return span{end: end, close: last}, true
}

// knownSchema returns the cached table of a record whose schema text was
// seen before, or nil.
func (d *jsonDecoder) knownSchema(r *kgo.Record) (span, *cached) {
	h, ok := schemaSpan(r.Value)
	if !ok {
		return h, nil
	}
	h.sum = maphash.Bytes(d.tables.seed, r.Value[:len(schemaHead)+h.end])
	d.tables.mu.Lock()
	c := d.tables.bySchema[h.sum]
	d.tables.mu.Unlock()
	return h, c
}

// notChange tells a record that is no change event but one of
// Debezium's others (skipped) from one that is not Debezium's at all.
func notChange(p *fastjson.Value) error {
	switch {
	case p.Exists("status") && p.Exists("id") && p.Exists("event_count") || p.Exists("data_collections"):
		return errSkip("transaction metadata")
	case p.Exists("ddl") || p.Exists("tableChanges") || p.Exists("historyRecord") || p.Exists("databaseName"):
		return errSkip("schema change")
	case p.GetObject().Len() == 1 && p.Exists("ts_ms"):
		return errSkip("heartbeat")
	}
	return errors.New("value has no op: not a Debezium change event (an unwrapped row or another format?)")
}

// readKeyNames returns the field names of the record key, an object with
// or without a Connect schema; nil for a null key. The slice is reused.
func (d *jsonDecoder) readKeyNames(key []byte) ([]string, error) {
	d.keyNames = d.keyNames[:0]
	if key == nil {
		return nil, nil
	}
	k, err := d.kp.ParseBytes(key)
	if err != nil {
		return nil, fmt.Errorf("key is not JSON: %w", err)
	}
	if p := k.Get("payload"); p != nil && k.Exists("schema") {
		k = p
	}
	o, err := k.Object()
	if err != nil {
		if k.Type() == fastjson.TypeNull {
			return nil, nil
		}
		return nil, fmt.Errorf("key is JSON %s, not an object", k.Type())
	}
	o.Visit(func(name []byte, _ *fastjson.Value) {
		d.keyNames = append(d.keyNames, string(name))
	})
	return d.keyNames, nil
}

// table returns the cached table of the record, made from its Connect
// schema or guessed from its rows.
func (d *jsonDecoder) table(r *kgo.Record, known *cached, schema, before, after *fastjson.Value, src *sourceInfo, keyNames []string) (*cached, error) {
	tc := d.tables
	if known != nil && known.topic == r.Topic && sameKey(known.table, keyNames) && sameName(known.table, src) {
		return known, nil
	}
	if known != nil { // the same schema text on another topic or key: read it
		v, err := d.sp.ParseBytes(r.Value)
		if err != nil {
			return nil, fmt.Errorf("value is not JSON: %w", err)
		}
		schema = v.Get("schema")
	}
	if schema != nil {
		h, ok := schemaSpan(r.Value)
		if !ok {
			h.sum = maphash.Bytes(tc.seed, r.Value)
		} else {
			h.sum = maphash.Bytes(tc.seed, r.Value[:len(schemaHead)+h.end])
		}
		c, err := schemaTable(r.Topic, schema, src, keyNames)
		if err != nil {
			return nil, err
		}
		tc.mu.Lock()
		tc.bySchema[h.sum] = c
		tc.mu.Unlock()
		return c, nil
	}
	row := after
	if row == nil || row.Type() != fastjson.TypeObject {
		row = before
	}
	if row == nil || row.Type() != fastjson.TypeObject {
		return nil, errors.New("neither before nor after is an object")
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	c := tc.byTopic[r.Topic]
	if c != nil && sameKey(c.table, keyNames) && sameName(c.table, src) && fits(c.cols, row) {
		return c, nil
	}
	c = guessTable(r.Topic, c, row, src, keyNames)
	tc.byTopic[r.Topic] = c
	return c, nil
}

func sameName(t *sluice.Table, s *sourceInfo) bool {
	return t.Name == s.table && t.Schema == s.schema && t.DB == s.db
}

func sameKey(t *sluice.Table, names []string) bool {
	n := 0
	for _, name := range names {
		if t.Index(name) >= 0 {
			if n >= len(t.Key) || t.Columns[t.Key[n]].Name != name {
				return false
			}
			n++
		}
	}
	return n == len(t.Key)
}

// schemaTable builds a table from the envelope's Connect schema: the
// fields of its before or after struct.
func schemaTable(topic string, schema *fastjson.Value, src *sourceInfo, keyNames []string) (*cached, error) {
	var row *fastjson.Value
	for _, f := range schema.GetArray("fields") {
		if name := string(f.GetStringBytes("field")); name == "after" || name == "before" && row == nil {
			row = f
		}
	}
	if row == nil || string(row.GetStringBytes("type")) != connStruct {
		return nil, errors.New("the schema has no before or after struct")
	}
	cols, err := schemaFields(row)
	if err != nil {
		return nil, err
	}
	return newCached(topic, cols, src, keyNames), nil
}

func newCached(topic string, cols []column, src *sourceInfo, keyNames []string) *cached {
	t := &sluice.Table{DB: src.db, Schema: src.schema, Name: src.table, Columns: make([]sluice.Column, len(cols))}
	for i := range cols {
		t.Columns[i] = cols[i].Column
	}
	tableKey(t, keyNames)
	return &cached{topic: topic, table: t, cols: cols}
}

// schemaFields reads a Connect struct schema's fields as columns.
func schemaFields(s *fastjson.Value) ([]column, error) {
	fs := s.GetArray("fields")
	cols := make([]column, 0, len(fs))
	for _, f := range fs {
		c, err := schemaColumn(string(f.GetStringBytes("field")), f)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, nil
}

// schemaColumn maps one Connect schema to a column.
func schemaColumn(name string, s *fastjson.Value) (column, error) {
	typ := string(s.GetStringBytes("type"))
	if typ == "" {
		return column{}, fmt.Errorf("field %q: schema without type", name)
	}
	params := s.Get("parameters")
	c := connectColumn(name, typ, string(s.GetStringBytes("name")), func(k string) string {
		return string(params.GetStringBytes(k))
	}, s.GetBool("optional"))
	switch {
	case typ == connArray:
		items := s.Get("items")
		if items == nil {
			return column{}, fmt.Errorf("field %q: array schema without items", name)
		}
		e, err := schemaColumn("", items)
		if err != nil {
			return column{}, err
		}
		c.setElem(e)
	case typ == connStruct:
		fs, err := schemaFields(s)
		if err != nil {
			return column{}, fmt.Errorf("field %q: %w", name, err)
		}
		c.setFields(fs)
	}
	return c, nil
}

// row reads an object of column values; nil for null or absent.
func (d *jsonDecoder) row(cols []column, v *fastjson.Value) (sluice.Row, error) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil, nil
	}
	o, err := v.Object()
	if err != nil {
		return nil, fmt.Errorf("row is JSON %s, not an object", v.Type())
	}
	row := make(sluice.Row, len(cols))
	for i := range row {
		row[i].Kind = sluice.KindMissing
	}
	next := 0
	o.Visit(func(k []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		i := next
		if i >= len(cols) || cols[i].Name != string(k) {
			if i = index(cols, k); i < 0 {
				err = fmt.Errorf("field %q is not in the schema", k)
				return
			}
		}
		next = i + 1
		row[i], err = d.value(&cols[i], fv)
		if err != nil {
			err = fmt.Errorf("%s: %w", k, err)
		}
	})
	return row, err
}

func index(cols []column, name []byte) int {
	for i := range cols {
		if cols[i].Name == string(name) {
			return i
		}
	}
	return -1
}

// value converts one JSON value of column c.
func (d *jsonDecoder) value(c *column, v *fastjson.Value) (sluice.Value, error) {
	switch v.Type() {
	case fastjson.TypeNull:
		return sluice.Value{}, nil
	case fastjson.TypeTrue:
		return fromInt(c, 1)
	case fastjson.TypeFalse:
		return fromInt(c, 0)
	case fastjson.TypeNumber:
		if c.Type == sluice.TypeFloat32 || c.Type == sluice.TypeFloat64 {
			f, err := v.Float64()
			return sluice.Value{Kind: sluice.KindPresent, Float: f}, err
		}
		if c.Type == sluice.TypeJSON {
			return sluice.Value{Kind: sluice.KindPresent, Bytes: v.MarshalTo(nil)}, nil
		}
		if n, err := v.Int64(); err == nil {
			return fromInt(c, n)
		}
		f, err := v.Float64()
		if err != nil {
			return sluice.Value{}, err
		}
		return fromFloat(c, f)
	case fastjson.TypeString:
		s := v.GetStringBytes()
		if len(d.placeholder) > 0 && bytes.Equal(s, d.placeholder) {
			return sluice.Value{Kind: sluice.KindUnchanged}, nil
		}
		if c.Type == sluice.TypeBytes && len(d.placeholder) > 0 {
			if b, err := base64.StdEncoding.DecodeString(string(s)); err == nil && bytes.Equal(b, d.placeholder) {
				return sluice.Value{Kind: sluice.KindUnchanged}, nil
			}
		}
		return fromString(c, string(s))
	case fastjson.TypeArray:
		elems, _ := v.Array()
		if len(elems) == 1 && len(d.placeholder) > 0 && bytes.Equal(elems[0].GetStringBytes(), d.placeholder) {
			return sluice.Value{Kind: sluice.KindUnchanged}, nil
		}
		if c.Type != sluice.TypeArray || c.elem == nil {
			return sluice.Value{Kind: sluice.KindPresent, Bytes: v.MarshalTo(nil)}, nil
		}
		out := make([]sluice.Value, len(elems))
		for i, e := range elems {
			var err error
			if out[i], err = d.value(c.elem, e); err != nil {
				return sluice.Value{}, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return sluice.Value{Kind: sluice.KindPresent, Elems: out}, nil
	case fastjson.TypeObject:
		switch c.special {
		case specialVarScale:
			b, err := base64.StdEncoding.DecodeString(string(v.GetStringBytes("value")))
			if err != nil {
				return sluice.Value{}, fmt.Errorf("decimal value is not base64: %w", err)
			}
			return varScaleDecimal(v.GetInt64("scale"), b)
		case specialGeometry:
			b, err := base64.StdEncoding.DecodeString(string(v.GetStringBytes("wkb")))
			if err != nil {
				return sluice.Value{}, fmt.Errorf("geometry wkb is not base64: %w", err)
			}
			return geometry(b, v.GetInt64("srid")), nil
		}
		if c.Type != sluice.TypeStruct {
			return sluice.Value{Kind: sluice.KindPresent, Bytes: v.MarshalTo(nil)}, nil
		}
		r, err := d.row(c.fields, v)
		if err != nil {
			return sluice.Value{}, err
		}
		for i := range r {
			if r[i].Kind == sluice.KindMissing {
				r[i].Kind = sluice.KindNull
			}
		}
		return sluice.Value{Kind: sluice.KindPresent, Elems: r}, nil
	}
	return sluice.Value{}, fmt.Errorf("unexpected JSON %s", v.Type())
}

// keyColumns rebuilds the decoding columns of t's key columns from the
// table (for the key headers, read after the record): the logical name
// kept in DBType gives back the unit and the Debezium struct.
func (d *jsonDecoder) keyColumns(t *sluice.Table) []column {
	cols := make([]column, len(t.Columns))
	for _, k := range t.Key {
		c := t.Columns[k]
		cols[k] = column{Column: c}
		if c.DBType != "" {
			cc := connectColumn(c.Name, "", c.DBType, nil, c.Optional)
			cc.Column = c
			cols[k] = cc
		}
	}
	return cols
}
