package codec

import (
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// The Kafka Connect schemas are Debezium's, as its JsonConverter writes
// them: the same names, versions, parameters, optional flags, defaults and
// field order (compared with Debezium Server's recordings in
// testdata/golden/debezium).

// tableSchemas holds the Kafka Connect schema JSON of one table's key and
// envelope, built once per *Table (tables are immutable once emitted).
type tableSchemas struct {
	key, value []byte
	// rowFields is the fields of the row struct (before/after), without
	// the brackets, and rowName its name as a JSON string: the pieces of
	// an unwrapped value's schema (unwrap.go).
	rowFields, rowName []byte
	// avro is the key and value schemas in Avro (avro.go), made on first
	// use under the encoder's mutex.
	avro *AvroSchemas
}

// schemaKey is what a table's schemas depend on: the table, and the
// route its events took (nil: none).
type schemaKey struct {
	t *sluice.Table
	r *sluice.Route
}

func (e *Encoder) schemas(t *sluice.Table) *tableSchemas { return e.routedSchemas(t, nil) }

// evSchemas are the schemas of ev's table, named after its route's topic
// when it was routed.
func (e *Encoder) evSchemas(ev *sluice.Event) *tableSchemas {
	return e.routedSchemas(ev.Table, ev.Route)
}

func (e *Encoder) routedSchemas(t *sluice.Table, r *sluice.Route) *tableSchemas {
	k := schemaKey{t, r}
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.schemaC[k]; ok {
		return s
	}
	s := e.buildSchemas(t, r)
	if len(e.schemaC) >= maxCachedTables {
		clear(e.schemaC)
	}
	e.schemaC[k] = s
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

// buildSchemas makes t's schemas; a routed table's are named after its
// topic, and its key has the route's key field (ByLogicalTableRouter).
func (e *Encoder) buildSchemas(t *sluice.Table, r *sluice.Route) *tableSchemas {
	base := avroName(e.opt.Name + "." + t.Schema + "." + t.Name)
	if t.Schema == "" {
		base = avroName(e.opt.Name + "." + t.DB + "." + t.Name)
	}
	if r != nil {
		base = avroName(r.Topic)
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
	if r != nil && r.KeyField != "" {
		key = append(key, `,{"type":"string","optional":false,"field":`...)
		key = appendStr(key, r.KeyField)
		key = append(key, '}')
	}
	key = append(key, `],"optional":false,"name":`...)
	key = appendStr(key, base+".Key")
	key = append(key, '}')

	var fields []byte
	for i := range t.Columns {
		if i > 0 {
			fields = append(fields, ',')
		}
		fields = e.appendFieldSchema(fields, &t.Columns[i])
	}
	rowName := appendStr(nil, base+".Value")
	var row []byte
	row = append(row, `{"type":"struct","fields":[`...)
	row = append(row, fields...)
	row = append(row, `],"optional":true,"name":`...)
	row = append(row, rowName...)

	var v []byte
	v = append(v, `{"type":"struct","fields":[`...)
	v = append(v, row...)
	v = append(v, `,"field":"before"},`...)
	v = append(v, row...)
	v = append(v, `,"field":"after"},`...)
	v = append(v, e.sourceSchema...)
	v = append(v, ',')
	v = append(v, transactionSchema...)
	v = append(v, `,{"type":"string","optional":false,"field":"op"},`...)
	v = append(v, tsSchema...)
	v = append(v, `],"optional":false,"name":`...)
	v = appendStr(v, base+".Envelope")
	v = append(v, `,"version":2}`...)
	return &tableSchemas{key: key, value: v, rowFields: fields, rowName: rowName}
}

// buildConstSchemas makes the schemas that depend only on the connector:
// the source block, PostgreSQL's logical message, MySQL's schema change.
func (e *Encoder) buildConstSchemas() {
	s := []byte(sourceHeadSchema)
	if e.mysql {
		s = append(s, mysqlSourceFields...)
	} else {
		s = append(s, postgresSourceFields...)
	}
	s = append(s, `],"optional":false,"name":"io.debezium.connector.`...)
	s = append(s, e.pkg...)
	s = append(s, `.Source","version":1,"field":"source"}`...)
	e.sourceSchema = s

	var m []byte
	m = append(m, `{"type":"struct","fields":[{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},`...)
	m = append(m, e.sourceSchema...)
	m = append(m, ',')
	m = append(m, transactionSchema...)
	m = append(m, `,{"type":"struct","fields":[{"type":"string","optional":true,"field":"prefix"},{"type":"bytes","optional":true,"field":"content"}],"optional":false,"name":"io.debezium.connector.postgresql.Message","version":1,"field":"message"}],"optional":false,"name":"io.debezium.connector.postgresql.MessageValue","version":1}`...)
	e.messageSchema = m

	var c []byte
	c = append(c, `{"type":"struct","fields":[`...)
	c = append(c, e.sourceSchema...)
	c = append(c, `,{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"field":"databaseName"},{"type":"string","optional":true,"field":"schemaName"},{"type":"string","optional":true,"field":"ddl"},`...)
	c = append(c, tableChangesSchema...)
	c = append(c, `],"optional":false,"name":"io.debezium.connector.`...)
	c = append(c, e.pkg...)
	c = append(c, `.SchemaChangeValue","version":1}`...)
	e.schemaChangeSchema = c
}

const (
	// sourceHeadSchema is the part of the source block both connectors share.
	sourceHeadSchema = `{"type":"struct","fields":[` +
		`{"type":"string","optional":false,"field":"version"},` +
		`{"type":"string","optional":false,"field":"connector"},` +
		`{"type":"string","optional":false,"field":"name"},` +
		`{"type":"int64","optional":false,"field":"ts_ms"},` +
		`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"},"default":"false","field":"snapshot"},` +
		`{"type":"string","optional":false,"field":"db"},` +
		`{"type":"string","optional":true,"field":"sequence"},` +
		`{"type":"int64","optional":true,"field":"ts_us"},` +
		`{"type":"int64","optional":true,"field":"ts_ns"},`
	mysqlSourceFields = `{"type":"string","optional":true,"field":"table"},` +
		`{"type":"int64","optional":false,"field":"server_id"},` +
		`{"type":"string","optional":true,"field":"gtid"},` +
		`{"type":"string","optional":false,"field":"file"},` +
		`{"type":"int64","optional":false,"field":"pos"},` +
		`{"type":"int32","optional":false,"field":"row"},` +
		`{"type":"int64","optional":true,"field":"thread"},` +
		`{"type":"string","optional":true,"field":"query"}`
	postgresSourceFields = `{"type":"string","optional":false,"field":"schema"},` +
		`{"type":"string","optional":false,"field":"table"},` +
		`{"type":"int64","optional":true,"field":"txId"},` +
		`{"type":"int64","optional":true,"field":"lsn"},` +
		`{"type":"int64","optional":true,"field":"xmin"},` +
		`{"type":"string","optional":true,"field":"origin"},` +
		`{"type":"int64","optional":true,"field":"origin_lsn"}`
	tsSchema = `{"type":"int64","optional":true,"field":"ts_ms"},` +
		`{"type":"int64","optional":true,"field":"ts_us"},` +
		`{"type":"int64","optional":true,"field":"ts_ns"}`
	transactionSchema = `{"type":"struct","fields":[` +
		`{"type":"string","optional":false,"field":"id"},` +
		`{"type":"int64","optional":false,"field":"total_order"},` +
		`{"type":"int64","optional":false,"field":"data_collection_order"}` +
		`],"optional":true,"name":"event.block","version":1,"field":"transaction"}`
	tableChangesSchema = `{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"type"},{"type":"string","optional":false,"field":"id"},` +
		`{"type":"struct","fields":[{"type":"string","optional":true,"field":"defaultCharsetName"},{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"primaryKeyColumnNames"},` +
		`{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"name"},{"type":"int32","optional":false,"field":"jdbcType"},{"type":"int32","optional":true,"field":"nativeType"},` +
		`{"type":"string","optional":false,"field":"typeName"},{"type":"string","optional":true,"field":"typeExpression"},{"type":"string","optional":true,"field":"charsetName"},` +
		`{"type":"int32","optional":true,"field":"length"},{"type":"int32","optional":true,"field":"scale"},{"type":"int32","optional":false,"field":"position"},` +
		`{"type":"boolean","optional":true,"field":"optional"},{"type":"boolean","optional":true,"field":"autoIncremented"},{"type":"boolean","optional":true,"field":"generated"},` +
		`{"type":"string","optional":true,"field":"comment"},{"type":"string","optional":true,"field":"defaultValueExpression"},` +
		`{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"enumValues"}],"optional":false,"name":"io.debezium.connector.schema.Column","version":1},"optional":false,"field":"columns"},` +
		`{"type":"string","optional":true,"field":"comment"}],"optional":true,"name":"io.debezium.connector.schema.Table","version":1,"field":"table"}],` +
		`"optional":false,"name":"io.debezium.connector.schema.Change","version":1},"optional":false,"field":"tableChanges"}`
	// Transaction topic records (provide_transaction_metadata).
	txKeySchema   = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataKey","version":1}`
	txValueSchema = `{"type":"struct","fields":[{"type":"string","optional":false,"field":"status"},{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":true,"field":"event_count"},` +
		`{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"data_collection"},{"type":"int64","optional":false,"field":"event_count"}],"optional":false,"name":"event.collection","version":1},"optional":true,"field":"data_collections"},` +
		`{"type":"int64","optional":false,"field":"ts_ms"}],"optional":false,"name":"io.debezium.connector.common.TransactionMetadataValue","version":1}`
)

// appendFieldSchema writes the schema of one column as a struct field,
// with the column's default (Column.Default) written as its values are:
// Debezium puts it after the name, version and parameters.
func (e *Encoder) appendFieldSchema(dst []byte, c *sluice.Column) []byte {
	p := e.planFor(c)
	dst = e.appendTypeSchema(dst, p.kind, p.elem, c, c.Optional)
	dst = dst[:len(dst)-1] // reopen the object to add the default and the field name
	if c.Default.Kind == sluice.KindPresent {
		dst = append(dst, `,"default":`...)
		dst = e.appendColumn(dst, c, &p, &c.Default, false)
	}
	dst = append(dst, `,"field":`...)
	dst = appendStr(dst, c.Name)
	return append(dst, '}')
}

// appendTypeSchema writes {"type":…,"optional":…[,"name","version"][,"parameters"]}
// (struct types add their fields and "doc")
// for values of kind k of column c, with Debezium's semantic type names.
func (e *Encoder) appendTypeSchema(dst []byte, k, elem colKind, c *sluice.Column, optional bool) []byte {
	t := c.Type
	if c.Type == sluice.TypeArray && k != kArray {
		t = c.Elem
	}
	typ, name := "string", ""
	var params [][2]string
	connect := e.opt.Time == TimeConnect
	switch k {
	case kBool, kBitsBool:
		typ = "boolean"
	case kInt:
		switch t {
		case sluice.TypeInt16:
			typ = "int16"
		case sluice.TypeInt32:
			typ = "int32"
		case sluice.TypeYear:
			typ, name = "int32", "io.debezium.time.Year"
		default:
			typ = "int64"
		}
	case kUnsignedLong:
		typ = "int64"
	case kFloat32:
		typ = "float"
	case kFloat64:
		typ = "double"
	case kDecimal:
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
	case kBytes:
		if e.opt.Binary == BinaryBytes {
			typ = "bytes"
		}
	case kBits:
		typ, name = "bytes", "io.debezium.data.Bits"
		n := c.Length
		if n <= 0 {
			n = 2147483647 // varbit without a length: Integer.MAX_VALUE
		}
		params = append(params, [2]string{"length", strconv.Itoa(n)})
	case kHstoreJSON:
		name = "io.debezium.data.Json"
	case kHstoreMap:
		dst = append(dst, `{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"string","optional":true},"optional":`...)
		dst = strconv.AppendBool(dst, optional)
		return append(dst, '}')
	case kPgPoint, kPoint:
		dst = append(dst, `{"type":"struct","fields":[{"type":"double","optional":false,"field":"x"},{"type":"double","optional":false,"field":"y"},{"type":"bytes","optional":true,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":`...)
		dst = strconv.AppendBool(dst, optional)
		return append(dst, `,"name":"io.debezium.data.geometry.Point","version":1,"doc":"Geometry (POINT)"}`...)
	case kGeometry, kPostgis:
		dst = append(dst, `{"type":"struct","fields":[{"type":"bytes","optional":false,"field":"wkb"},{"type":"int32","optional":true,"field":"srid"}],"optional":`...)
		dst = strconv.AppendBool(dst, optional)
		if k == kPostgis && elemDBType(c, t) == "geography" {
			return append(dst, `,"name":"io.debezium.data.geometry.Geography","version":1,"doc":"Geography"}`...)
		}
		return append(dst, `,"name":"io.debezium.data.geometry.Geometry","version":1,"doc":"Geometry"}`...)
	case kDate:
		typ, name = "int32", "io.debezium.time.Date"
		if connect {
			name = "org.apache.kafka.connect.data.Date"
		}
	case kTimeMicro:
		typ, name = "int64", "io.debezium.time.MicroTime"
	case kTimeMilli, kTimeMilliNonNeg:
		typ, name = "int32", "io.debezium.time.Time"
		if connect {
			name = "org.apache.kafka.connect.data.Time"
		}
	case kTimestampMicro:
		typ, name = "int64", "io.debezium.time.MicroTimestamp"
	case kTimestampMilli:
		typ, name = "int64", "io.debezium.time.Timestamp"
		if connect {
			name = "org.apache.kafka.connect.data.Timestamp"
		}
	case kZoned:
		name = "io.debezium.time.ZonedTimestamp"
	case kIntervalMicro:
		typ, name = "int64", "io.debezium.time.MicroDuration"
	case kIntervalString, kIntervalExact:
		name = "io.debezium.time.Interval"
	case kStruct:
		return e.appendStructSchema(dst, c, optional)
	case kArray:
		itemOptional := true
		if c.Elem == sluice.TypeEnum {
			itemOptional = false // as Debezium's enum arrays
		}
		dst = append(dst, `{"type":"array","items":`...)
		dst = e.appendTypeSchema(dst, elem, 0, c, itemOptional)
		dst = append(dst, `,"optional":`...)
		dst = strconv.AppendBool(dst, optional)
		return append(dst, '}')
	default: // kString
		switch t {
		case sluice.TypeUUID:
			name = "io.debezium.data.Uuid"
		case sluice.TypeJSON:
			if e.opt.Connector != ConnectorMariaDB { // MariaDB's JSON is LONGTEXT
				name = "io.debezium.data.Json"
			}
		case sluice.TypeXML:
			name = "io.debezium.data.Xml"
		case sluice.TypeEnum:
			name = "io.debezium.data.Enum"
			params = append(params, [2]string{"allowed", strings.Join(c.Enum, ",")})
		case sluice.TypeSet:
			name = "io.debezium.data.EnumSet"
			params = append(params, [2]string{"allowed", strings.Join(c.Enum, ",")})
		case sluice.TypeTimeTZ:
			name = "io.debezium.time.ZonedTime"
		case sluice.TypeText:
			switch elemDBType(c, t) {
			case "ltree":
				name = "io.debezium.data.Ltree"
			case "tsvector":
				name = "io.debezium.data.Tsvector"
			}
		}
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
