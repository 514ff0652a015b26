package codec

import (
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// tableSchemas holds the Kafka Connect schema JSON of one table's key and
// envelope, built once per *Table (tables are immutable once emitted).
type tableSchemas struct {
	key, value []byte
}

func (e *Encoder) schemas(t *sluice.Table) *tableSchemas {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.schemaC[t]; ok {
		return s
	}
	s := e.buildSchemas(t)
	e.schemaC[t] = s
	return s
}

// avroName replaces characters Avro names do not allow with '_', as
// Debezium's schema name adjustment does.
func avroName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

func (e *Encoder) buildSchemas(t *sluice.Table) *tableSchemas {
	base := avroName(e.opt.Name + "." + t.Schema + "." + t.Name)
	if t.Schema == "" {
		base = avroName(e.opt.Name + "." + t.DB + "." + t.Name)
	}
	var key []byte
	key = append(key, `{"type":"struct","fields":[`...)
	for i, idx := range t.Key {
		if i > 0 {
			key = append(key, ',')
		}
		c := t.Columns[idx]
		c.Optional = false
		key = e.appendFieldSchema(key, &c)
	}
	key = append(key, `],"optional":false,"name":`...)
	key = appendStr(key, base+".Key")
	key = append(key, '}')

	var row []byte
	row = append(row, `{"type":"struct","fields":[`...)
	for i := range t.Columns {
		if i > 0 {
			row = append(row, ',')
		}
		row = e.appendFieldSchema(row, &t.Columns[i])
	}
	row = append(row, `],"optional":true,"name":`...)
	row = appendStr(row, base+".Value")

	var v []byte
	v = append(v, `{"type":"struct","fields":[`...)
	v = append(v, row...)
	v = append(v, `,"field":"before"},`...)
	v = append(v, row...)
	v = append(v, `,"field":"after"},`...)
	v = append(v, e.sourceSchema()...)
	v = append(v, `,{"type":"string","optional":false,"field":"op"},`...)
	v = append(v, tsSchema...)
	v = append(v, ',')
	v = append(v, transactionSchema...)
	v = append(v, `],"optional":false,"name":`...)
	v = appendStr(v, base+".Envelope")
	v = append(v, `,"version":1}`...)
	return &tableSchemas{key: key, value: v}
}

func (e *Encoder) messageSchema() []byte {
	var v []byte
	v = append(v, `{"type":"struct","fields":[`...)
	v = append(v, e.sourceSchema()...)
	v = append(v, `,{"type":"string","optional":false,"field":"op"},`...)
	v = append(v, tsSchema...)
	v = append(v, `,{"type":"struct","fields":[{"type":"string","optional":false,"field":"prefix"},{"type":"bytes","optional":true,"field":"content"}],"optional":true,"name":"io.debezium.connector.postgresql.Message","field":"message"},`...)
	v = append(v, transactionSchema...)
	v = append(v, `],"optional":false,"name":"io.debezium.connector.postgresql.MessageValue"}`...)
	return v
}

// sourceSchema is the Connect schema of the connector's source block.
func (e *Encoder) sourceSchema() string {
	if e.mysql {
		return mysqlSourceSchema
	}
	return sourceSchema
}

const (
	// sourceHeadSchema is the part of the source block both connectors share.
	sourceHeadSchema = `{"type":"struct","fields":[` +
		`{"type":"string","optional":false,"field":"version"},` +
		`{"type":"string","optional":false,"field":"connector"},` +
		`{"type":"string","optional":false,"field":"name"},` +
		`{"type":"int64","optional":false,"field":"ts_ms"},` +
		`{"type":"int64","optional":true,"field":"ts_us"},` +
		`{"type":"int64","optional":true,"field":"ts_ns"},` +
		`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},` +
		`{"type":"string","optional":false,"field":"db"},` +
		`{"type":"string","optional":true,"field":"sequence"},`
	mysqlSourceSchema = sourceHeadSchema +
		`{"type":"string","optional":true,"field":"table"},` +
		`{"type":"int64","optional":false,"field":"server_id"},` +
		`{"type":"string","optional":true,"field":"gtid"},` +
		`{"type":"string","optional":false,"field":"file"},` +
		`{"type":"int64","optional":false,"field":"pos"},` +
		`{"type":"int32","optional":false,"field":"row"},` +
		`{"type":"int64","optional":true,"field":"thread"},` +
		`{"type":"string","optional":true,"field":"query"}` +
		`],"optional":false,"name":"io.debezium.connector.mysql.Source","field":"source"}`
	sourceSchema = sourceHeadSchema +
		`{"type":"string","optional":false,"field":"schema"},` +
		`{"type":"string","optional":false,"field":"table"},` +
		`{"type":"int64","optional":true,"field":"txId"},` +
		`{"type":"int64","optional":true,"field":"lsn"},` +
		`{"type":"int64","optional":true,"field":"xmin"}` +
		`],"optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"}`
	tsSchema = `{"type":"int64","optional":true,"field":"ts_ms"},` +
		`{"type":"int64","optional":true,"field":"ts_us"},` +
		`{"type":"int64","optional":true,"field":"ts_ns"}`
	transactionSchema = `{"type":"struct","fields":[` +
		`{"type":"string","optional":false,"field":"id"},` +
		`{"type":"int64","optional":false,"field":"total_order"},` +
		`{"type":"int64","optional":false,"field":"data_collection_order"}` +
		`],"optional":true,"name":"event.block","version":1,"field":"transaction"}`
)

// appendFieldSchema writes the schema of one column as a struct field.
func (e *Encoder) appendFieldSchema(dst []byte, c *sluice.Column) []byte {
	dst = e.appendTypeSchema(dst, c.Type, c, c.Optional)
	dst = dst[:len(dst)-1] // reopen the object to add the field name
	dst = append(dst, `,"field":`...)
	dst = appendStr(dst, c.Name)
	return append(dst, '}')
}

// appendTypeSchema writes {"type":…,"optional":…[,"name","version","parameters"]}
// with Debezium's semantic type names.
func (e *Encoder) appendTypeSchema(dst []byte, t sluice.Type, c *sluice.Column, optional bool) []byte {
	typ, name := "string", ""
	var params [][2]string
	switch t {
	case sluice.TypeBool, sluice.TypeBit:
		typ = "boolean"
	case sluice.TypeInt16:
		typ = "int16"
	case sluice.TypeInt32:
		typ = "int32"
	case sluice.TypeInt64:
		typ = "int64"
	case sluice.TypeFloat32:
		typ = "float"
	case sluice.TypeFloat64:
		typ = "double"
	case sluice.TypeDecimal:
		switch e.opt.Decimal {
		case DecimalDouble:
			typ = "double"
		case DecimalPrecise:
			if c.Scale < 0 {
				dst = append(dst, `{"type":"struct","fields":[{"type":"int32","optional":false,"field":"scale"},{"type":"bytes","optional":false,"field":"value"}],"optional":`...)
				dst = strconv.AppendBool(dst, optional)
				return append(dst, `,"name":"io.debezium.data.VariableScaleDecimal","version":1,"doc":"Variable scaled decimal"}`...)
			}
			typ, name = "bytes", "org.apache.kafka.connect.data.Decimal"
			params = append(params, [2]string{"scale", strconv.Itoa(c.Scale)})
			if c.Length > 0 {
				params = append(params, [2]string{"connect.decimal.precision", strconv.Itoa(c.Length)})
			}
		}
	case sluice.TypeBytes:
		if e.opt.Binary == BinaryBytes {
			typ = "bytes"
		}
	case sluice.TypeUUID:
		name = "io.debezium.data.Uuid"
	case sluice.TypeJSON:
		name = "io.debezium.data.Json"
	case sluice.TypeXML:
		name = "io.debezium.data.Xml"
	case sluice.TypeEnum:
		name = "io.debezium.data.Enum"
		params = append(params, [2]string{"allowed", strings.Join(c.Enum, ",")})
	case sluice.TypeDate:
		typ, name = "int32", "io.debezium.time.Date"
	case sluice.TypeTime:
		typ, name = "int64", "io.debezium.time.MicroTime"
	case sluice.TypeTimeTZ:
		name = "io.debezium.time.ZonedTime"
	case sluice.TypeTimestamp:
		typ, name = "int64", "io.debezium.time.MicroTimestamp"
		if millisTimestamp(c) {
			name = "io.debezium.time.Timestamp"
		}
	case sluice.TypeYear:
		typ, name = "int32", "io.debezium.time.Year"
	case sluice.TypeSet:
		name = "io.debezium.data.EnumSet"
		params = append(params, [2]string{"allowed", strings.Join(c.Enum, ",")})
	case sluice.TypeGeometry:
		dst = append(dst, `{"type":"struct","fields":[{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":`...)
		dst = strconv.AppendBool(dst, optional)
		return append(dst, `,"name":"io.debezium.data.geometry.Geometry","version":1,"doc":"Geometry"}`...)
	case sluice.TypeTimestampTZ:
		name = "io.debezium.time.ZonedTimestamp"
	case sluice.TypeInterval:
		if e.opt.Interval == IntervalNumeric {
			typ, name = "int64", "io.debezium.time.MicroDuration"
		} else {
			name = "io.debezium.time.Interval"
		}
	case sluice.TypeBits:
		typ, name = "bytes", "io.debezium.data.Bits"
		params = append(params, [2]string{"length", strconv.Itoa(c.Length)})
	case sluice.TypeArray:
		dst = append(dst, `{"type":"array","items":`...)
		dst = e.appendTypeSchema(dst, c.Elem, c, true)
		dst = append(dst, `,"optional":`...)
		dst = strconv.AppendBool(dst, optional)
		return append(dst, '}')
	}
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","optional":`...)
	dst = strconv.AppendBool(dst, optional)
	if name != "" {
		dst = append(dst, `,"name":`...)
		dst = appendStr(dst, name)
		dst = append(dst, `,"version":1`...)
	}
	if len(params) > 0 {
		dst = append(dst, `,"parameters":{`...)
		for i, p := range params {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendStr(dst, p[0])
			dst = append(dst, ':')
			dst = appendStr(dst, p[1])
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}
