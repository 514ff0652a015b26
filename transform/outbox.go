package transform

import (
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

func init() { Register("outbox", newOutbox, OutboxConfig{}) }

// OutboxConfig is the outbox transform's entry: Debezium's outbox
// EventRouter (io.debezium.transforms.outbox.EventRouter), which turns
// the inserts of an outbox table into events routed by aggregate — the
// outbox pattern, where a service writes its events into a table in the
// same transaction as its state. The options are Debezium's under sluice
// names; the defaults are Debezium's. Select the outbox table with the
// common tables key: every event the entry sees is treated as an outbox
// row.
type OutboxConfig struct {
	// FieldEventID is table.field.event.id: the column written as the
	// header "id".
	FieldEventID string `yaml:"field_event_id"`
	// FieldEventKey is table.field.event.key: the column written as the
	// record key.
	FieldEventKey string `yaml:"field_event_key"`
	// FieldEventType is table.field.event.type. Debezium writes it
	// nowhere unless placed; sluice checks that the column exists, as
	// Debezium does.
	FieldEventType string `yaml:"field_event_type"`
	// FieldPayload is table.field.event.payload: the column written as
	// the record value.
	FieldPayload string `yaml:"field_payload"`
	// RouteByField is route.by.field: the column whose value, lower-cased,
	// replaces ${routedByValue} in RouteTopicReplacement.
	RouteByField string `yaml:"route_by_field"`
	// RouteTopicReplacement is route.topic.replacement: the topic, with
	// ${routedByValue}. It is used as is: the topic prefix is not added.
	RouteTopicReplacement string `yaml:"route_topic_replacement"`
	// FieldsAdditionalPlacement is table.fields.additional.placement:
	// "column:header[:alias]" entries, each written as a header (named
	// alias, else the column) after "id".
	FieldsAdditionalPlacement []string `yaml:"fields_additional_placement"`
	// ExpandJSONPayload is table.expand.json.payload: the payload's JSON
	// text is written as JSON rather than as a JSON string.
	ExpandJSONPayload bool `yaml:"expand_json_payload"`
	// OnInvalidOp is table.op.invalid.behavior, what an update of an
	// outbox row does: warn (default: dropped with a warning, as
	// Debezium logs it), error (the pipeline fails) or skip-silently.
	OnInvalidOp string `yaml:"on_invalid_op"`
}

// Defaults are Debezium's.
func (OutboxConfig) Defaults() OutboxConfig {
	return OutboxConfig{
		FieldEventID: "id", FieldEventKey: "aggregateid", FieldEventType: "type", FieldPayload: "payload",
		RouteByField: "aggregatetype", RouteTopicReplacement: "outbox.event.${routedByValue}", OnInvalidOp: "warn",
	}
}

// routedByValue is the placeholder of route.topic.replacement.
const routedByValue = "${routedByValue}"

// maxOutboxCache bounds the per-topic cache; it is cleared when full
// (aggregate types are few).
const maxOutboxCache = 1024

// outboxT marks outbox inserts with the *sluice.Outbox of their table
// and their topic; the codec and the Kafka sink write the records.
type outboxT struct {
	cfg      OutboxConfig
	path     string
	log      *zap.Logger
	headers  []outboxPlaced
	before   string // route_topic_replacement before ${routedByValue}
	after    string // and after it
	hasValue bool   // the replacement has ${routedByValue}

	// Built on the first event of each table, when its columns are
	// known; Apply runs on one goroutine.
	tables perTable[*outboxTable]
	topics map[string]string // routed value → topic
}

// outboxPlaced is one fields_additional_placement entry.
type outboxPlaced struct{ column, name string }

// outboxTable is what the transform knows of one table.
type outboxTable struct {
	mark  *sluice.Outbox
	route int // column index of route_by_field
}

func newOutbox(c OutboxConfig, env Env) (*outboxT, error) {
	var errs []error
	for _, f := range []struct{ key, v string }{
		{"field_event_id", c.FieldEventID}, {"field_event_key", c.FieldEventKey}, {"field_event_type", c.FieldEventType},
		{"field_payload", c.FieldPayload}, {"route_by_field", c.RouteByField},
	} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("%s.%s: must name a column", env.Path, f.key))
		}
	}
	o := &outboxT{cfg: c, path: env.Path, log: env.Logger, topics: map[string]string{}}
	if o.log == nil {
		o.log = zap.NewNop()
	}
	switch c.OnInvalidOp {
	case "warn", "error", "skip-silently":
	default:
		errs = append(errs, fmt.Errorf("%s.on_invalid_op: %q is not one of warn, error, skip-silently", env.Path, c.OnInvalidOp))
	}
	rep := c.RouteTopicReplacement
	if i := strings.Index(rep, routedByValue); i >= 0 {
		o.before, o.after, o.hasValue = rep[:i], rep[i+len(routedByValue):], true
	} else {
		o.before = rep
	}
	switch lit := o.before + o.after; {
	case rep == "":
		errs = append(errs, fmt.Errorf("%s.route_topic_replacement: must not be empty", env.Path))
	case strings.Contains(o.after, routedByValue) || strings.ContainsAny(lit, "${}"):
		errs = append(errs, fmt.Errorf("%s.route_topic_replacement: %q: only one %s may be used, and no other placeholder", env.Path, rep, routedByValue))
	case strings.IndexFunc(lit, func(r rune) bool { return !legalTopicRune(r) }) >= 0:
		errs = append(errs, fmt.Errorf("%s.route_topic_replacement: %q: Kafka topic names hold letters, digits, '.', '_', '-'", env.Path, rep))
	}
	seen := map[string]bool{"id": true}
	for i, p := range c.FieldsAdditionalPlacement {
		parts := strings.Split(strings.TrimSpace(p), ":")
		key := fmt.Sprintf("%s.fields_additional_placement[%d]", env.Path, i)
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not column:header[:alias]", key, p))
			continue
		}
		switch parts[1] {
		case "header":
		case "envelope", "partition":
			errs = append(errs, fmt.Errorf("%s: %q: placement %s is not supported (its records are not pinned down against Debezium's); use header", key, p, parts[1]))
			continue
		default:
			errs = append(errs, fmt.Errorf("%s: %q: placement %q is not header", key, p, parts[1]))
			continue
		}
		name := parts[0]
		if len(parts) == 3 {
			if parts[2] == "" {
				errs = append(errs, fmt.Errorf("%s: %q has an empty alias", key, p))
				continue
			}
			name = parts[2]
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("%s: header %q is written twice", key, name))
			continue
		}
		seen[name] = true
		o.headers = append(o.headers, outboxPlaced{column: parts[0], name: name})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

// legalTopicRune is Kafka's topic name alphabet.
func legalTopicRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// Apply marks inserts and snapshot reads and routes them; it drops what
// the EventRouter drops: updates (by on_invalid_op), deletes (the
// router ignores them and their tombstones silently) and truncates.
// Logical messages and schema changes pass through unmarked.
func (o *outboxT) Apply(ev *sluice.Event) (bool, error) {
	switch ev.Op {
	case sluice.OpCreate, sluice.OpRead:
	case sluice.OpUpdate:
		switch o.cfg.OnInvalidOp {
		case "error":
			return false, fmt.Errorf("%s: outbox: unexpected update of a row of %s (on_invalid_op: error); outbox rows are inserted, never updated", o.path, tableName(ev))
		case "warn":
			// Debezium: "Unexpected update message received … and ignored".
			o.log.Warn("outbox: unexpected update message received and ignored", zap.String("transform", o.path), zap.String("table", tableName(ev)))
		}
		return false, nil
	case sluice.OpDelete, sluice.OpTruncate:
		return false, nil
	default:
		return true, nil
	}
	if ev.Table == nil || ev.After == nil {
		return true, nil
	}
	ot, err := o.table(ev.Table)
	if err != nil {
		return false, err
	}
	v := valueAt(ev.After, ot.route)
	if v.Kind != sluice.KindPresent {
		return false, fmt.Errorf("%s.route_by_field: column %q of %s is NULL in the row of id %s: the event has no topic",
			o.path, o.cfg.RouteByField, tableName(ev), idText(ev, ot))
	}
	ev.Outbox = ot.mark
	ev.Topic = o.topic(v.Bytes)
	return true, nil
}

// topic returns route_topic_replacement for a routed value, lower-cased
// as Debezium does ("Order" goes to outbox.event.order).
func (o *outboxT) topic(value []byte) string {
	if !o.hasValue {
		return o.before
	}
	if t, ok := o.topics[string(value)]; ok {
		return t
	}
	t := o.before + strings.ToLower(string(value)) + o.after
	if len(o.topics) >= maxOutboxCache {
		clear(o.topics)
	}
	o.topics[string(value)] = t
	return t
}

// table returns the mark of t, checking its columns the first time.
func (o *outboxT) table(t *sluice.Table) (*outboxTable, error) {
	return o.tables.get(t, o.build)
}

func (o *outboxT) build(t *sluice.Table) (*outboxTable, error) {
	var errs []error
	col := func(key, name string, textual bool) int {
		i := t.Index(name)
		switch {
		case i < 0:
			errs = append(errs, fmt.Errorf("%s.%s: table %s has no column %q", o.path, key, t.QualifiedName(), name))
		case textual && !textType(t.Columns[i].Type):
			errs = append(errs, fmt.Errorf("%s.%s: column %q of %s is %s, not a string type", o.path, key, name, t.QualifiedName(), t.Columns[i].DBType))
		}
		return i
	}
	m := &sluice.Outbox{ExpandJSON: o.cfg.ExpandJSONPayload}
	m.ID = col("field_event_id", o.cfg.FieldEventID, false)
	m.Key = col("field_event_key", o.cfg.FieldEventKey, false)
	m.Payload = col("field_payload", o.cfg.FieldPayload, o.cfg.ExpandJSONPayload)
	col("field_event_type", o.cfg.FieldEventType, false)
	route := col("route_by_field", o.cfg.RouteByField, true)
	for i, h := range o.headers {
		m.Headers = append(m.Headers, sluice.OutboxHeader{
			Column: col(fmt.Sprintf("fields_additional_placement[%d]", i), h.column, false), Name: h.name})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &outboxTable{mark: m, route: route}, nil
}

// textType reports whether values of t are text in Value.Bytes.
func textType(t sluice.Type) bool {
	switch t {
	case sluice.TypeText, sluice.TypeUUID, sluice.TypeJSON, sluice.TypeEnum, sluice.TypeXML:
		return true
	}
	return false
}

func tableName(ev *sluice.Event) string {
	if ev.Table == nil {
		return "?"
	}
	return ev.Table.QualifiedName()
}

// idText is the event id column's value for an error message.
func idText(ev *sluice.Event, ot *outboxTable) string {
	v := valueAt(ev.After, ot.mark.ID)
	if v.Kind != sluice.KindPresent {
		return "NULL"
	}
	if v.Bytes != nil {
		return string(v.Bytes)
	}
	return fmt.Sprint(v.Int)
}

var missingValue = sluice.Value{Kind: sluice.KindMissing}

// valueAt is row[i], or a missing value past the row's end.
func valueAt(row sluice.Row, i int) *sluice.Value {
	if i < len(row) {
		return &row[i]
	}
	return &missingValue
}
