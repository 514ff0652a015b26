package sink

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
)

// Default topic templates. They produce Debezium's default topic names:
// "<topic.prefix>.<schema>.<table>" for table events and
// "<topic.prefix>.message" for logical decoding messages. Schema changes
// go to "<topic.prefix>" and transaction metadata records to
// "<topic.prefix>.transaction" (Router.SchemaTopic, Router.TransactionTopic).
const (
	DefaultTopic        = "{prefix}.{schema}.{table}"
	DefaultMessageTopic = "{prefix}.message"
)

// maxTopicLen is Kafka's limit on topic name length.
const maxTopicLen = 249

type placeholder uint8

const (
	literal placeholder = iota
	phPrefix
	phDB
	phSchema
	phTable
)

var placeholders = map[string]placeholder{
	"prefix": phPrefix,
	"db":     phDB,
	"schema": phSchema,
	"table":  phTable,
}

type topicPart struct {
	ph  placeholder
	lit string
}

// Topic is a parsed topic name template such as "{prefix}.{schema}.{table}".
//
// Placeholders:
//
//	{prefix}  the pipeline's logical server name (codec.Options.Name, Debezium's topic.prefix)
//	{db}      the database name
//	{schema}  the table's schema; the database name when the table has no
//	          schema (MySQL), so the default template gives Debezium's
//	          "<prefix>.<db>.<table>" there
//	{table}   the table name
//
// Literal text may only hold characters Kafka allows in topic names
// (ASCII letters, digits, '.', '_', '-'); any other character in a
// substituted value is replaced by '_', as Debezium's topic naming
// strategies do.
//
// The zero Topic is not valid; use ParseTopic (or ParseTemplate for
// names with other rules, such as Elasticsearch index names).
type Topic struct {
	src   string
	parts []topicPart
	rules *NameRules
}

// NameRules are what one kind of destination name allows.
type NameRules struct {
	What  string          // "topic", "index": names the template in errors
	Noun  string          // "a Kafka topic name", for errors
	Hint  string          // what is allowed, for errors
	Legal func(rune) bool // allowed in the template's literal text
	// Lower lower-cases substituted values; a substituted character that
	// is still not Legal becomes '_'.
	Lower bool
}

// TopicRules are Kafka's topic name rules.
var TopicRules = NameRules{What: "topic", Noun: "a Kafka topic name", Hint: "use letters, digits, '.', '_', '-'", Legal: legalTopicRune}

// ParseTopic parses a topic template. The error says what is wrong without
// naming the config key; callers prefix it.
func ParseTopic(tmpl string) (Topic, error) { return ParseTemplate(tmpl, &TopicRules) }

// ParseTemplate parses a name template whose literal text follows rules.
func ParseTemplate(tmpl string, rules *NameRules) (Topic, error) {
	if tmpl == "" {
		return Topic{}, fmt.Errorf("empty %s template", rules.What)
	}
	t := Topic{src: tmpl, rules: rules}
	rest := tmpl
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		lit := rest
		if open >= 0 {
			lit = rest[:open]
		}
		if lit != "" {
			if i := strings.IndexFunc(lit, func(r rune) bool { return !rules.Legal(r) }); i >= 0 {
				r := []rune(lit[i:])[0]
				return Topic{}, fmt.Errorf("%s template %q: character %q is not allowed in %s (%s)", rules.What, tmpl, r, rules.Noun, rules.Hint)
			}
			t.parts = append(t.parts, topicPart{lit: lit})
		}
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return Topic{}, fmt.Errorf("%s template %q: unclosed '{'", rules.What, tmpl)
		}
		name := rest[open+1 : open+end]
		ph, ok := placeholders[name]
		if !ok {
			return Topic{}, fmt.Errorf("%s template %q: unknown placeholder {%s} (known: {prefix}, {db}, {schema}, {table})", rules.What, tmpl, name)
		}
		t.parts = append(t.parts, topicPart{ph: ph})
		rest = rest[open+end+1:]
	}
	return t, nil
}

// Literal returns the template's text when it has no placeholder.
func (t Topic) Literal() (string, bool) {
	if len(t.parts) == 1 && t.parts[0].ph == literal {
		return t.parts[0].lit, true
	}
	return "", false
}

// UsesPrefix reports whether the template contains {prefix}.
func (t Topic) UsesPrefix() bool { return t.uses(phPrefix) }

// String returns the template text.
func (t Topic) String() string { return t.src }

// usesTable reports whether the template needs a table ({schema} or
// {table}), which logical messages do not have.
func (t Topic) usesTable() bool {
	for _, p := range t.parts {
		if p.ph == phSchema || p.ph == phTable {
			return true
		}
	}
	return false
}

// uses reports whether the template contains the placeholder.
func (t Topic) uses(ph placeholder) bool {
	for _, p := range t.parts {
		if p.ph == ph {
			return true
		}
	}
	return false
}

// Expand substitutes the placeholders. schema falls back to db when empty.
func (t Topic) Expand(prefix, db, schema, table string) string {
	if schema == "" {
		schema = db
	}
	var b strings.Builder
	for _, p := range t.parts {
		switch p.ph {
		case literal:
			b.WriteString(p.lit)
		case phPrefix:
			t.writeSanitized(&b, prefix)
		case phDB:
			t.writeSanitized(&b, db)
		case phSchema:
			t.writeSanitized(&b, schema)
		case phTable:
			t.writeSanitized(&b, table)
		}
	}
	return b.String()
}

func legalTopicRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// writeSanitized writes a substituted value: characters the name may not
// hold become '_', as Debezium's topic naming strategies do.
func (t Topic) writeSanitized(b *strings.Builder, s string) {
	for _, r := range s {
		if t.rules.Lower {
			r = unicode.ToLower(r)
		}
		if t.rules.Legal(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
}

// Router picks the topic of every event: table events (c, u, d, r, t) by
// the table template, logical messages by the message template. It caches
// one name per *sluice.Table, which the source replaces on a schema change.
// A Router is not safe for concurrent use; sinks call it from Write, which
// the runner calls from one goroutine.
type Router struct {
	table   Topic
	prefix  string
	db      string
	message string // the message topic, expanded once
	schema  string // the schema change topic: the prefix, as in Debezium
	tx      string // the transaction topic: "<prefix>.transaction", as in Debezium
	cache   map[*sluice.Table]string
}

// maxCachedTables bounds the Router's cache; it is cleared when full (new
// *Table values appear only on schema changes, so this is rare).
const maxCachedTables = 4096

// NewRouter builds a Router from the two templates and the encoder's
// options (Name is {prefix}, DB is {db} for logical messages). Errors name
// the key ("topic" or "message_topic") under path.
func NewRouter(path, tableTmpl, messageTmpl string, opt codec.Options) (*Router, error) {
	var errs []error
	table, err := ParseTopic(tableTmpl)
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", JoinKey(path, "topic"), err))
	} else if table.uses(phPrefix) && opt.Name == "" {
		errs = append(errs, fmt.Errorf("%s: template uses {prefix} but the pipeline has no topic prefix (codec name)", JoinKey(path, "topic")))
	}
	msg, err := ParseTopic(messageTmpl)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("%s: %w", JoinKey(path, "message_topic"), err))
	case msg.usesTable():
		errs = append(errs, fmt.Errorf("%s: logical messages have no table: only {prefix} and {db} may be used", JoinKey(path, "message_topic")))
	case msg.uses(phPrefix) && opt.Name == "":
		errs = append(errs, fmt.Errorf("%s: template uses {prefix} but the pipeline has no topic prefix (codec name)", JoinKey(path, "message_topic")))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	r := &Router{
		table:  table,
		prefix: opt.Name,
		db:     opt.DB,
		cache:  map[*sluice.Table]string{},
	}
	r.message = msg.Expand(opt.Name, opt.DB, "", "")
	r.schema = opt.Name
	if r.schema == "" {
		r.schema = "schema-changes"
	}
	// Debezium: topic.prefix + "." + topic.transaction (default "transaction").
	r.tx = "transaction"
	if opt.Name != "" {
		r.tx = TransactionTopicName(opt.Name)
	}
	if err := checkTopicName(r.message); err != nil {
		return nil, fmt.Errorf("%s: %w", JoinKey(path, "message_topic"), err)
	}
	return r, nil
}

// Topic returns the topic ev belongs to.
func (r *Router) Topic(ev *sluice.Event) string {
	if ev.Op == sluice.OpSchemaChange {
		return r.schema
	}
	if ev.Op == sluice.OpMessage || ev.Table == nil {
		return r.message
	}
	if name, ok := r.cache[ev.Table]; ok {
		return name
	}
	db := ev.Table.DB
	if db == "" {
		db = r.db
	}
	name := r.table.Expand(r.prefix, db, ev.Table.Schema, ev.Table.Name)
	if len(r.cache) >= maxCachedTables {
		clear(r.cache)
	}
	r.cache[ev.Table] = name
	return name
}

// MessageTopic returns the topic of logical decoding messages.
func (r *Router) MessageTopic() string { return r.message }

// SchemaTopic returns the topic of schema change events: the topic
// prefix, as Debezium names it.
func (r *Router) SchemaTopic() string { return r.schema }

// TransactionTopic returns the topic of the transaction metadata records
// (BEGIN and END, codec.TxBoundary) written when provide_transaction_metadata
// is on: "<prefix>.transaction", Debezium's name.
func (r *Router) TransactionTopic() string { return r.tx }

// TransactionTopicName is Debezium's transaction topic for a topic
// prefix: "<prefix>.transaction" (topic.transaction's default).
func TransactionTopicName(prefix string) string { return prefix + ".transaction" }

func checkTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("topic name expands to the empty string")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed by Kafka", name)
	case len(name) > maxTopicLen:
		return fmt.Errorf("topic name %q is longer than Kafka's %d characters", name, maxTopicLen)
	}
	return nil
}

// JoinKey joins a config path and a key with a dot.
func JoinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
