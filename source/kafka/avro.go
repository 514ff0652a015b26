package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"

	"github.com/sluice-cdc/sluice"
)

// schemaSource gives the Avro writer schema text of a registry id,
// self-contained (schema references resolved). It is safe for concurrent
// use.
type schemaSource interface {
	SchemaByID(ctx context.Context, id int) (string, error)
}

// avroDecoder reads Debezium's change events in Avro, in Confluent's wire
// format: the magic byte 0, the schema's registry id (4 bytes, big
// endian), the Avro binary body. It gives the envelope the JSON decoder
// gives for the same change. The body is walked with the compiled schema
// rather than decoded into generic Go values: values go straight into
// sluice.Values, and decimals and times keep the wire's integers instead
// of passing through big.Rat and time.Time.
type avroDecoder struct {
	schemas     schemaSource
	placeholder []byte // unavailable.value.placeholder: an unchanged TOASTed value
	plans       *avroPlans
	src         sourceReader // the source block's strings, kept across records
}

func newAvroDecoder(schemas schemaSource, placeholder string) *avroDecoder {
	d := &avroDecoder{schemas: schemas, placeholder: []byte(placeholder)}
	if s, ok := schemas.(interface{ avroPlans() *avroPlans }); ok {
		d.plans = s.avroPlans()
	} else {
		d.plans = newAvroPlans()
	}
	return d
}

// wireID splits Confluent's wire format.
func wireID(b []byte) (int, []byte, bool) {
	if len(b) < 5 || b[0] != 0 {
		return 0, nil, false
	}
	return int(binary.BigEndian.Uint32(b[1:5])), b[5:], true
}

// decode reads one record. It returns errSkip for records that are not
// change events, and another error for records it cannot read.
func (d *avroDecoder) decode(ctx context.Context, r *kgo.Record) (*envelope, error) {
	if r.Value == nil {
		return nil, errSkip("tombstone")
	}
	vid, body, ok := wireID(r.Value)
	if !ok {
		return nil, fmt.Errorf("value is not in Confluent's Avro wire format (magic byte 0, 4-byte schema id): % x", r.Value[:min(len(r.Value), 8)])
	}
	kid, kbody := -1, []byte(nil)
	if r.Key != nil {
		if kid, kbody, ok = wireID(r.Key); !ok {
			return nil, fmt.Errorf("key is not in Confluent's Avro wire format (magic byte 0, 4-byte schema id): % x", r.Key[:min(len(r.Key), 8)])
		}
	}
	p, err := d.plan(ctx, avroKey{topic: r.Topic, value: vid, key: kid})
	if err != nil {
		return nil, err
	}
	if p.skip != nil {
		return nil, p.skip
	}
	env := &envelope{}
	rd := &avroReader{b: body}
	var op []byte
	var rowErr error
	for i, f := range p.env.fields {
		switch p.env.names[i] {
		case "before", "after":
			row, err := d.row(rd, p.cols, f)
			if err != nil && rowErr == nil {
				rowErr = fmt.Errorf("%s: %w", p.env.names[i], err)
			}
			if p.env.names[i] == "before" {
				env.before = row
			} else {
				env.after = row
			}
		case "source":
			readAvroSource(&d.src, rd, f, &env.src)
		case "transaction":
			rd.record(f, func(name string, n *avroNode) {
				switch name {
				case "total_order":
					env.txOrder, _ = rd.scalar(n)
				case "data_collection_order":
					env.tableOrder, _ = rd.scalar(n)
				default:
					rd.skip(n)
				}
			})
		case "op":
			_, op = rd.scalar(f)
		case "message":
			env.message = &sluice.Message{}
			if !rd.record(f, func(name string, n *avroNode) {
				_, b := rd.scalar(n)
				switch name {
				case "prefix":
					env.message.Prefix = string(b)
				case "content":
					env.message.Content = bytes.Clone(b)
				}
			}) {
				env.message = nil
			}
		default:
			rd.skip(f)
		}
	}
	if err := rd.done(); err != nil {
		return nil, fmt.Errorf("value (schema id %d): %w", vid, err)
	}
	if len(op) != 1 {
		return nil, fmt.Errorf("op %q: not a Debezium change event", op)
	}
	env.op = sluice.Op(op[0])
	switch env.op {
	case sluice.OpMessage:
		if env.message == nil {
			return nil, errors.New("op m without message")
		}
		env.message.Transactional = env.src.txID != 0
		env.before, env.after = nil, nil
		return env, nil
	case sluice.OpTruncate:
		env.table, env.before, env.after, env.message = truncateTable(&env.src), nil, nil, nil
		return env, nil
	}
	env.message = nil
	if p.cols == nil {
		return nil, errors.New("the schema has no before or after record")
	}
	if p.key != nil {
		krd := &avroReader{b: kbody}
		krd.skip(p.key)
		if err := krd.done(); err != nil {
			return nil, fmt.Errorf("key (schema id %d): %w", kid, err)
		}
	}
	if rowErr != nil {
		return nil, rowErr
	}
	env.table = p.table(&env.src).table
	return env, nil
}

// plan returns the cached plan of the record's schemas, or fetches and
// compiles them.
func (d *avroDecoder) plan(ctx context.Context, k avroKey) (*avroPlan, error) {
	if p := d.plans.get(k); p != nil {
		return p, nil
	}
	vtext, err := d.schemas.SchemaByID(ctx, k.value)
	if err != nil {
		return nil, fmt.Errorf("value schema id %d: %w", k.value, err)
	}
	ktext := ""
	if k.key >= 0 {
		if ktext, err = d.schemas.SchemaByID(ctx, k.key); err != nil {
			return nil, fmt.Errorf("key schema id %d: %w", k.key, err)
		}
	}
	p, err := newAvroPlan(k.topic, vtext, ktext)
	if err != nil {
		return nil, fmt.Errorf("schema ids %d (value), %d (key): %w", k.value, k.key, err)
	}
	return d.plans.put(k, p), nil
}

// readAvroSource reads the source block's fields sluice uses, as
// sourceReader.read does from JSON, keeping its strings in sr.
func readAvroSource(sr *sourceReader, rd *avroReader, n *avroNode, s *sourceInfo) {
	u := func(i int64) uint64 { return uint64(max(i, 0)) }
	rd.record(n, func(name string, f *avroNode) {
		i, b := rd.scalar(f)
		switch name {
		case "connector":
			s.connector = sr.str(0, b)
		case "name":
			s.name = sr.str(1, b)
		case "db":
			s.db = sr.str(2, b)
		case "schema":
			s.schema = sr.str(3, b)
		case "table":
			s.table = sr.str(4, b)
		case "snapshot":
			s.snapshot = sr.str(5, b)
		case "ts_ms":
			s.tsMs = i
		case "ts_us":
			s.tsUs = i
		case "lsn":
			s.lsn = u(i)
		case "txId":
			s.txID = u(i)
		case "sequence":
			if len(b) > 0 {
				s.seq0 = sequenceFirst(b)
			}
		case "file":
			s.file = sr.str(6, b)
		case "pos":
			s.pos = u(i)
		case "row":
			s.row = i
		case "gtid":
			s.gtid = sr.str(7, b)
		case "server_id":
			s.serverID = uint32(u(i))
		case "thread":
			s.thread = u(i)
		}
	})
	s.epoch = sr.epochOf(s.connector, s.name)
}

// row reads a nullable record of column values; nil for null.
func (d *avroDecoder) row(rd *avroReader, cols []column, n *avroNode) (sluice.Row, error) {
	n = rd.branch(n)
	if n == nil || n.typ == avro.Null || rd.err != nil {
		return nil, nil
	}
	if n.typ != avro.Record || len(n.fields) != len(cols) {
		rd.skip(n)
		return nil, fmt.Errorf("Avro %s does not match the row's schema", n.typ)
	}
	row := make(sluice.Row, len(cols))
	var first error
	for i, f := range n.fields {
		v, err := d.value(rd, &cols[i], f)
		if err != nil && first == nil {
			first = fmt.Errorf("%s: %w", cols[i].Name, err)
		}
		row[i] = v
	}
	return row, first
}

// value converts one Avro value of column c through the converters the
// JSON decoder uses. A conversion error does not stop the reader: the
// value's bytes have been read, so the record stays readable.
func (d *avroDecoder) value(rd *avroReader, c *column, n *avroNode) (sluice.Value, error) {
	n = rd.branch(n)
	if n == nil || rd.err != nil {
		return sluice.Value{}, nil
	}
	switch n.typ {
	case avro.Null:
		return sluice.Value{}, nil
	case avro.Boolean:
		b, _ := rd.scalar(n)
		return fromInt(c, b)
	case avro.Int, avro.Long:
		i, _ := rd.scalar(n)
		return fromInt(c, i)
	case avro.Float:
		// JSON carries a float4 as Java's shortest decimal text, which the
		// JSON decoder parses as a float64; do the same, so 1.1 stays 1.1
		// rather than float32's 1.100000023841858.
		f := rd.float32()
		return fromFloat(c, shortest32(f))
	case avro.Double:
		return fromFloat(c, canonicalNaN(rd.float64()))
	case avro.String, avro.Enum:
		_, s := rd.scalar(n)
		if len(d.placeholder) > 0 && bytes.Equal(s, d.placeholder) {
			return sluice.Value{Kind: sluice.KindUnchanged}, nil
		}
		return fromString(c, string(s))
	case avro.Bytes, avro.Fixed:
		_, b := rd.scalar(n)
		if c.Type == sluice.TypeBytes && len(d.placeholder) > 0 && bytes.Equal(b, d.placeholder) {
			return sluice.Value{Kind: sluice.KindUnchanged}, nil
		}
		return fromBytes(c, bytes.Clone(b))
	case avro.Array:
		return d.array(rd, c, n)
	case avro.Map:
		return d.mapJSON(rd, n)
	case avro.Record:
		return d.record(rd, c, n)
	}
	rd.fail(fmt.Errorf("unexpected Avro %s", n.typ))
	return sluice.Value{}, nil
}

func shortest32(f float32) float64 {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return canonicalNaN(float64(f))
	}
	g, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return g
}

// canonicalNaN gives NaNs the bits strconv.ParseFloat("NaN") gives the
// JSON decoder (the wire's NaN payload means nothing), so Value.Equal
// holds between the two.
func canonicalNaN(f float64) float64 {
	if math.IsNaN(f) {
		return math.NaN()
	}
	return f
}

func (d *avroDecoder) array(rd *avroReader, c *column, n *avroNode) (sluice.Value, error) {
	var out []sluice.Value
	var first error
	rd.blocks(func() {
		if c.elem == nil {
			rd.skip(n.items)
			return
		}
		v, err := d.value(rd, c.elem, n.items)
		if err != nil && first == nil {
			first = fmt.Errorf("element %d: %w", len(out), err)
		}
		out = append(out, v)
	})
	if c.elem == nil {
		return sluice.Value{}, errors.New("array where the column is no array")
	}
	// The JSON decoder reads a one-element array holding the placeholder
	// string as an unchanged value.
	if e := n.items.nonNull(); len(out) == 1 && out[0].Kind == sluice.KindUnchanged && (e.typ == avro.String || e.typ == avro.Enum) {
		return sluice.Value{Kind: sluice.KindUnchanged}, nil
	}
	if out == nil {
		out = []sluice.Value{}
	}
	return sluice.Value{Kind: sluice.KindPresent, Elems: out}, first
}

// mapJSON writes a map as the JSON object text the JSON decoder keeps
// for a Connect map. Only maps of primitives are supported.
func (d *avroDecoder) mapJSON(rd *avroReader, n *avroNode) (sluice.Value, error) {
	var a fastjson.Arena
	o := a.NewObject()
	var bad avro.Type
	rd.blocks(func() {
		_, k := rd.scalar(stringNode)
		v := rd.branch(n.items)
		if v == nil {
			return
		}
		var jv *fastjson.Value
		switch v.typ {
		case avro.Null:
			jv = a.NewNull()
		case avro.Boolean:
			b, _ := rd.scalar(v)
			jv = a.NewFalse()
			if b != 0 {
				jv = a.NewTrue()
			}
		case avro.Int, avro.Long:
			i, _ := rd.scalar(v)
			jv = a.NewNumberInt(int(i))
		case avro.Float:
			jv = a.NewNumberFloat64(shortest32(rd.float32()))
		case avro.Double:
			jv = a.NewNumberFloat64(rd.float64())
		case avro.String, avro.Enum:
			_, s := rd.scalar(v)
			jv = a.NewStringBytes(s)
		default:
			bad = v.typ
			rd.skip(v)
			return
		}
		o.Set(string(k), jv)
	})
	if bad != "" {
		return sluice.Value{}, fmt.Errorf("a map of Avro %s is not supported", bad)
	}
	return sluice.Value{Kind: sluice.KindPresent, Bytes: o.MarshalTo(nil)}, nil
}

var stringNode = &avroNode{typ: avro.String}

// record reads a struct, or one of Debezium's structs that stand for one
// value.
func (d *avroDecoder) record(rd *avroReader, c *column, n *avroNode) (sluice.Value, error) {
	switch c.special {
	case specialVarScale, specialGeometry:
		var num int64
		var b []byte
		rd.record(n, func(name string, f *avroNode) {
			switch name {
			case "scale", "srid":
				num, _ = rd.scalar(f)
			case "value", "wkb":
				_, b = rd.scalar(f)
				b = bytes.Clone(b)
			default:
				rd.skip(f)
			}
		})
		if c.special == specialVarScale {
			return varScaleDecimal(num, b)
		}
		return geometry(b, num), nil
	}
	if c.Type != sluice.TypeStruct || len(c.fields) != len(n.fields) {
		rd.skip(n)
		return sluice.Value{}, fmt.Errorf("Avro record where the column is %s", c.Type)
	}
	r := make(sluice.Row, len(n.fields))
	var first error
	for i, f := range n.fields {
		v, err := d.value(rd, &c.fields[i], f)
		if err != nil && first == nil {
			first = fmt.Errorf("%s: %w", c.fields[i].Name, err)
		}
		r[i] = v
	}
	return sluice.Value{Kind: sluice.KindPresent, Elems: r}, first
}
