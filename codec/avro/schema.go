// Package avro turns the Kafka Connect schemas sluice's codec writes (the
// ones Debezium's JSON converter writes) into Avro schemas, and Debezium
// JSON values into Avro's binary encoding, as the AvroData of Confluent's
// and Apicurio's Avro converters does for Debezium's Avro events.
//
// Values go through their JSON form on purpose: the JSON encoder is the
// one definition of how every database type becomes a Debezium value, and
// it is checked against Debezium Server's recordings; transcoding that
// form in schema order keeps the Avro output equal to it by construction,
// for every type, struct, array and map the JSON encoder writes.
package avro

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// connect is one Kafka Connect schema as the JsonConverter writes it.
type connect struct {
	Type       string          `json:"type"`
	Optional   bool            `json:"optional"`
	Name       string          `json:"name"`
	Version    int             `json:"version"`
	Doc        string          `json:"doc"`
	Parameters params          `json:"parameters"`
	Default    json.RawMessage `json:"default"`
	Field      string          `json:"field"`
	Fields     []connect       `json:"fields"`
	Items      *connect        `json:"items"`
	Keys       *connect        `json:"keys"`
	Values     *connect        `json:"values"`
}

// params keeps a schema's parameters in their written order.
type params [][2]string

func (p *params) UnmarshalJSON(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return errors.New("parameters: not an object")
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return err
		}
		var v string
		if err := d.Decode(&v); err != nil {
			return fmt.Errorf("parameter %v: %w", k, err)
		}
		*p = append(*p, [2]string{k.(string), v})
	}
	return nil
}

func (p params) get(k string) (string, bool) {
	for _, kv := range p {
		if kv[0] == k {
			return kv[1], true
		}
	}
	return "", false
}

// Schema is one Connect schema turned into Avro: its schema text, for the
// registry, and the plan that transcodes its JSON values.
type Schema struct {
	// JSON is the Avro schema, as Avro's Schema.toString writes it.
	JSON string
	// Name is the full name of a record schema (RecordNameStrategy's
	// subject), empty for other types.
	Name string
	root *node
}

// Convert turns the Connect schema JSON connectJSON into Avro.
func Convert(connectJSON []byte) (*Schema, error) {
	var c connect
	if err := json.Unmarshal(connectJSON, &c); err != nil {
		return nil, fmt.Errorf("avro: connect schema: %w", err)
	}
	w := writer{defined: map[string]*node{}}
	root, err := w.schema(&c, "")
	if err != nil {
		return nil, err
	}
	s := &Schema{JSON: string(w.out), root: root}
	if c.Type == "struct" {
		s.Name = recordName(&c)
	}
	return s, nil
}

// recordName is the Avro full name of a Connect struct: its Connect name
// with the characters Avro refuses replaced, or Confluent's default.
func recordName(c *connect) string {
	if c.Name == "" {
		return "io.confluent.connect.avro.ConnectDefault"
	}
	return c.Name
}

// writer writes an Avro schema's JSON as Avro's Schema.toString does: a
// named type is defined once, then referred to by name; a namespace is
// written only where it differs from the enclosing one, and references
// are relative to it.
type writer struct {
	out     []byte
	defined map[string]*node // records written, by full name
	// unnamed counts the structs without a Connect name: AvroData names
	// them ConnectDefault, ConnectDefault2, …
	unnamed int
}

func (w *writer) str(s string) { w.out = strconv.AppendQuote(w.out, s) }

func (w *writer) raw(s string) { w.out = append(w.out, s...) }

// schema writes c's Avro type, a union with null when c is optional, and
// returns its transcoding plan. ns is the enclosing namespace.
func (w *writer) schema(c *connect, ns string) (*node, error) {
	n := &node{union: -1}
	if c.Optional {
		if len(c.Default) > 0 && string(c.Default) != "null" {
			n.union = 1 // [T, "null"]: a default must be of the first branch
			w.raw("[")
			if err := w.base(c, n, ns); err != nil {
				return nil, err
			}
			w.raw(`,"null"]`)
			return n, nil
		}
		n.union = 0
		w.raw(`["null",`)
		if err := w.base(c, n, ns); err != nil {
			return nil, err
		}
		w.raw("]")
		return n, nil
	}
	return n, w.base(c, n, ns)
}

// base writes the Avro type of c itself, without the null branch.
func (w *writer) base(c *connect, n *node, ns string) error {
	switch c.Type {
	case "struct":
		return w.record(c, n, ns)
	case "array", "map":
		// Connect arrays and string-keyed maps: Avro arrays and maps of
		// the items' (values') type.
		items, kind, open := c.Items, kArray, `{"type":"array","items":`
		if c.Type == "map" {
			if c.Keys == nil || c.Keys.Type != "string" {
				return errors.New("avro: only maps with string keys are supported")
			}
			items, kind, open = c.Values, kMap, `{"type":"map","values":`
		}
		if items == nil {
			return fmt.Errorf("avro: %s schema without its items' schema", c.Type)
		}
		n.kind = kind
		w.raw(open)
		it, err := w.schema(items, ns)
		if err != nil {
			return err
		}
		n.items = it
		w.props(c)
		w.raw("}")
		return nil
	}
	var typ, connectType string
	switch c.Type {
	case "int8", "int16":
		typ, n.kind, connectType = "int", kInt, c.Type
	case "int32":
		typ, n.kind = "int", kInt
	case "int64":
		typ, n.kind = "long", kLong
	case "float", "float32":
		typ, n.kind = "float", kFloat
	case "double", "float64":
		typ, n.kind = "double", kDouble
	case "boolean":
		typ, n.kind = "boolean", kBool
	case "string":
		typ, n.kind = "string", kString
	case "bytes":
		typ, n.kind = "bytes", kBytes
	default:
		return fmt.Errorf("avro: connect type %q is not supported", c.Type)
	}
	if connectType == "" && c.Name == "" && c.Version == 0 && c.Doc == "" && len(c.Parameters) == 0 && len(c.Default) == 0 {
		w.str(typ)
		return nil
	}
	w.raw(`{"type":`)
	w.str(typ)
	logicalType := ""
	switch c.Name {
	case "org.apache.kafka.connect.data.Decimal":
		scale, _ := c.Parameters.get("scale")
		prec, ok := c.Parameters.get("connect.decimal.precision")
		if !ok {
			prec = "64" // AvroData's default precision
		}
		w.raw(`,"scale":` + scale + `,"precision":` + prec)
		logicalType = "decimal"
	case "org.apache.kafka.connect.data.Date":
		logicalType = "date"
	case "org.apache.kafka.connect.data.Time":
		logicalType = "time-millis"
	case "org.apache.kafka.connect.data.Timestamp":
		logicalType = "timestamp-millis"
	}
	if connectType != "" {
		w.raw(`,"connect.type":`)
		w.str(connectType)
	}
	w.props(c)
	if logicalType != "" {
		w.raw(`,"logicalType":`)
		w.str(logicalType)
	}
	w.raw("}")
	return nil
}

// props writes AvroData's connect.* properties of c (a struct's default
// is its fields').
func (w *writer) props(c *connect) {
	if c.Doc != "" {
		w.raw(`,"connect.doc":`)
		w.str(c.Doc)
	}
	if c.Version != 0 {
		w.raw(`,"connect.version":`)
		w.out = strconv.AppendInt(w.out, int64(c.Version), 10)
	}
	if len(c.Default) > 0 && string(c.Default) != "null" && c.Type != "struct" {
		w.raw(`,"connect.default":`)
		w.out = append(w.out, c.Default...)
	}
	if len(c.Parameters) > 0 {
		w.raw(`,"connect.parameters":{`)
		for i, kv := range c.Parameters {
			if i > 0 {
				w.raw(",")
			}
			w.str(kv[0])
			w.raw(":")
			w.str(kv[1])
		}
		w.raw("}")
	}
	if c.Name != "" {
		w.raw(`,"connect.name":`)
		w.str(c.Name)
	}
}

// record writes a Connect struct as an Avro record, or a reference to it
// when a record of its name was written before.
func (w *writer) record(c *connect, n *node, ns string) error {
	full := avroName(recordName(c))
	if c.Name == "" {
		if w.unnamed++; w.unnamed > 1 {
			full += strconv.Itoa(w.unnamed)
		}
	}
	space, name := "", full
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		space, name = full[:i], full[i+1:]
	}
	n.kind = kRecord
	if def, ok := w.defined[full]; ok {
		// Defined before: Avro refers to it by name, and its values are
		// transcoded the same way.
		if space == ns {
			w.str(name)
		} else {
			w.str(full)
		}
		n.fields = def.fields
		return nil
	}
	n.fields = make([]field, len(c.Fields))
	w.defined[full] = n
	w.raw(`{"type":"record","name":`)
	w.str(name)
	if space != ns {
		w.raw(`,"namespace":`)
		w.str(space)
	}
	w.raw(`,"fields":[`)
	for i := range c.Fields {
		f := &c.Fields[i]
		if i > 0 {
			w.raw(",")
		}
		w.raw(`{"name":`)
		w.str(f.Field)
		w.raw(`,"type":`)
		fn, err := w.schema(f, space)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Field, err)
		}
		n.fields[i] = field{name: f.Field, n: fn}
		switch {
		case len(f.Default) > 0 && string(f.Default) != "null":
			w.raw(`,"default":`)
			w.out = append(w.out, avroDefault(f)...)
		case f.Optional:
			w.raw(`,"default":null`)
		}
		w.raw("}")
	}
	w.raw("]")
	w.props(c)
	w.raw("}")
	return nil
}

// avroDefault is a field's Connect default as an Avro default: the same
// JSON for numbers, strings and booleans; bytes (base64 in Connect's JSON)
// become Avro's ISO-8859-1 string of the bytes.
func avroDefault(f *connect) []byte {
	if f.Type != "bytes" {
		return f.Default
	}
	var b64 string
	if json.Unmarshal(f.Default, &b64) != nil {
		return f.Default
	}
	raw, err := decodeBase64([]byte(b64))
	if err != nil {
		return f.Default
	}
	r := make([]rune, len(raw))
	for i, c := range raw {
		r[i] = rune(c)
	}
	q, _ := json.Marshal(string(r))
	return q
}

// avroName replaces what Avro names do not allow with '_'.
func avroName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9' && b[i-1] != '.')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}
