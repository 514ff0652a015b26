package sluice

import "time"

// Op is the kind of change an event describes. The byte values are the
// ones Debezium writes in the envelope's "op" field.
type Op byte

// The operations an event can carry. OpMark is internal: it carries a
// position the source may confirm (a commit, or an idle keepalive); Write
// never gets it, only sinks that implement sink.MarkWriter get it through
// WriteMark.
const (
	OpCreate   Op = 'c' // row inserted
	OpUpdate   Op = 'u' // row updated
	OpDelete   Op = 'd' // row deleted
	OpRead     Op = 'r' // row read by a snapshot
	OpTruncate Op = 't' // table truncated
	OpMessage  Op = 'm' // logical decoding message
	OpMark     Op = '.' // position marker, acknowledged by the runner itself
	// OpSchemaChange carries a DDL statement (Event.DDL). It is not a row
	// change: sinks that keep rows skip it, the Kafka sink writes
	// Debezium's schema change event to the schema change topic.
	OpSchemaChange Op = 's'
	// OpHeartbeat is a heartbeat record (Event.Heartbeat): the source's
	// position at a transaction boundary, emitted at an interval while
	// idle or busy when the source's heartbeat_records is on. Transforms
	// never see it; the runner hands it only to sinks that implement
	// sink.HeartbeatWriter (the Kafka sink's heartbeat topic) and confirms
	// its position, like a mark's, once they acknowledged it.
	OpHeartbeat Op = 'h'
)

// String returns the one-letter Debezium name of the operation.
func (o Op) String() string { return string(rune(o)) }

// Snapshot says whether an event came from a snapshot, using the string
// values of Debezium's source.snapshot field.
type Snapshot uint8

// Snapshot markers, as Debezium writes them.
const (
	SnapshotFalse       Snapshot = iota // "false": streamed change
	SnapshotTrue                        // "true": a snapshot row
	SnapshotFirst                       // "first": first row of the snapshot
	SnapshotFirstInData                 // "first_in_data_collection"
	SnapshotLastInData                  // "last_in_data_collection"
	SnapshotLast                        // "last": last row of the snapshot
	SnapshotIncremental                 // "incremental": ad-hoc snapshot row
)

var snapshotNames = [...]string{"false", "true", "first", "first_in_data_collection", "last_in_data_collection", "last", "incremental"}

// String returns Debezium's string form of the marker.
func (s Snapshot) String() string {
	if int(s) < len(snapshotNames) {
		return snapshotNames[s]
	}
	return "false"
}

// Event is one committed change.
//
// Ownership, in the order an event travels:
//   - A source allocates a new Event per change and never touches it, its
//     rows or its values again once emitted. Sources may carve the Bytes of
//     many values from one buffer (an arena), so a Bytes slice is never
//     written into by anyone after emission, nor appended to.
//   - The pipeline's transforms run on the runner's goroutine before any
//     sink holds the event and may change it in place: set fields, replace
//     a Row, replace a Value in a Row (row[i] = v), point Table at a new
//     *Table, set Unwrap, Outbox or Topic. They never write into a
//     Value's Bytes or Elems, nor into a Table, Message, DDL, Binlog,
//     Unwrap or Outbox: they build new ones and swap them in.
//   - A sink's own transforms run on a Clone made for that sink, because
//     the other sinks hold the same event; the same rules apply to it.
//   - Sinks treat the event as read-only and may keep it until they
//     acknowledge it.
type Event struct {
	Op    Op
	Table *Table // nil for OpMessage and OpMark

	// Before is the old row where the source has it: the full old row
	// under REPLICA IDENTITY FULL, only the key columns under DEFAULT
	// (other entries are KindMissing), nil when the source has nothing.
	Before Row
	// After is the new row for c, u and r events; nil otherwise.
	After Row

	// OtherKey is set on the two halves of a primary-key change: on the
	// delete it holds the new key row, on the create the old key row. It is
	// indexed like Table.Columns, with only key columns filled in.
	OtherKey Row

	Pos        Position
	CommitTime time.Time // when the transaction committed in the database
	TxID       uint64    // database transaction id; 0 when unknown
	// TxOrder is the 1-based index of the event in its transaction, and
	// TableOrder its 1-based index among the events of the same table in
	// that transaction (Debezium's total_order and data_collection_order).
	TxOrder    int64
	TableOrder int64

	Snapshot Snapshot
	Message  *Message // set for OpMessage
	DDL      *DDL     // set for OpSchemaChange
	// Heartbeat is the position a heartbeat record reports; set for
	// OpHeartbeat only.
	Heartbeat *Heartbeat

	// Binlog is where a MySQL or MariaDB change sits in the server's
	// binary log (Debezium's MySQL source fields); nil for other
	// sources. Events of one transaction share it.
	Binlog *Binlog
	// Row is the 0-based index of the row within its binlog rows event
	// (Debezium's source.row).
	Row int32

	// Unwrap, set by the unwrap transform, asks sinks that write
	// Debezium's envelope to write the row state instead (Debezium's
	// ExtractNewRecordState). It is a mark, not a change of the rows: the
	// rows stay as the source made them, so sinks that store rows (a
	// search index) may ignore it. Shared by every event the transform
	// marks and never written into.
	Unwrap *Unwrap

	// Outbox, set by the outbox transform, asks sinks that write
	// Debezium's records to write the event as Debezium's outbox
	// EventRouter does: the key, value and headers are columns of the
	// row (Outbox says which). Like Unwrap it is a mark: the rows are
	// untouched, so sinks that store rows may ignore it. Shared by
	// every event of one table the transform marks, never written into.
	Outbox *Outbox

	// Topic is a destination a transform chose for this event (the
	// outbox transform's route_topic_replacement): the Kafka sink
	// writes the event there instead of to its topic template, creating
	// the topic as it creates others. "" leaves the choice to the sink.
	// Sinks that do not write topics (a search index) ignore it.
	Topic string

	// Route, set by the route transform with Topic, says how a routed
	// event's key stays unique among the tables merged into one topic
	// and what its schemas are named (Debezium's ByLogicalTableRouter).
	// Sinks that write Debezium's records honour it; sinks that store
	// rows ignore it. Shared by every event of one table the transform
	// routes, never written into.
	Route *Route

	// Headers are record headers a transform added (the headers
	// transform), written after the sink's own by sinks whose records
	// have headers (Kafka) and ignored by the others. A transform that
	// adds more builds a new slice: the slice and its headers are never
	// written into.
	Headers []Header
}

// Route is where the route transform sent a table's events.
type Route struct {
	// Topic is the topic they go to; the key, envelope and row schemas
	// are named after it (<topic>.Key, .Envelope, .Value).
	Topic string
	// KeyField, when set, is a field added after the key columns with
	// the value KeyValue (the table's original topic, or a part of it),
	// so that rows of different tables with the same key stay apart on
	// a compacted topic. "": the key is unchanged.
	KeyField, KeyValue string
}

// Header is a record header a transform added.
type Header struct {
	Name string
	// Value is the header's value as written (nil: a null header).
	Value []byte
	// Text is the value as text, as expressions see it (Null: the
	// value is null).
	Text string
	Null bool
}

// Outbox is how an outbox row is written (Debezium's
// io.debezium.transforms.outbox.EventRouter). Column indices are into
// the marked event's Table.Columns: an Outbox belongs to one *Table.
type Outbox struct {
	// ID is table.field.event.id: its value is the header "id".
	ID int
	// Key is table.field.event.key: its value is the record key.
	Key int
	// Payload is table.field.event.payload: its value is the record
	// value.
	Payload int
	// Headers are table.fields.additional.placement's header entries,
	// after "id", in order.
	Headers []OutboxHeader
	// ExpandJSON is table.expand.json.payload: the payload's JSON text
	// is written as JSON (compact, null members and empty arrays
	// dropped), not as a string.
	ExpandJSON bool
}

// OutboxHeader is a column placed in a header under Name.
type OutboxHeader struct {
	Column int
	Name   string
}

// Unwrap is how an event is unwrapped (Debezium's ExtractNewRecordState
// options). The codec writes the value, the Kafka sink its records.
type Unwrap struct {
	// Deletes is delete.tombstone.handling.mode.
	Deletes DeleteHandling
	// Fields are add.fields, added to the value after the row (and after
	// __deleted in rewrite mode), in order.
	Fields []UnwrapField
	// Headers are add.headers, appended after the connector's headers.
	Headers []UnwrapField
}

// DeleteHandling is Debezium's delete.tombstone.handling.mode.
type DeleteHandling uint8

// Delete handling modes.
const (
	// DeleteTombstone (default): a delete becomes a record whose value is
	// null (the 4 bytes "null", or a null payload with schemas), and the
	// tombstone after it is dropped.
	DeleteTombstone DeleteHandling = iota
	// DeleteRewrite: a delete becomes the old row with "__deleted":"true"
	// (other rows get "__deleted":"false"); no tombstone.
	DeleteRewrite
	// DeleteDrop: deletes and their tombstones are dropped.
	DeleteDrop
	// DeleteToTombstone: a delete becomes a Kafka tombstone (a null
	// value under the old key: what compaction removes), and the
	// tombstone after it is dropped. The mode of a state topic.
	DeleteToTombstone
	// DeleteRewriteWithTombstone: as DeleteRewrite, and the tombstone
	// after the rewritten delete is kept.
	DeleteRewriteWithTombstone
)

// Rewrites reports whether rows carry "__deleted".
func (d DeleteHandling) Rewrites() bool {
	return d == DeleteRewrite || d == DeleteRewriteWithTombstone
}

// UnwrapField is one entry of add.fields or add.headers: a field of the
// envelope (Struct "") or of its source or transaction block, written
// under Name (Debezium's "__" + the entry with '.' as '_', or the
// entry's ":alias").
type UnwrapField struct {
	Struct string // "", "source" or "transaction"
	Field  string // "op", "ts_ms", "lsn", "table", "id", …
	Name   string // "__op", "__source_ts_ms"
}

// Clone returns a copy of ev that a per-sink transform may change by the
// rules above without the change reaching other holders of ev: the Event
// itself and its row slices (Before, After, OtherKey) are copied, so
// replacing a field, a row or a value in the copy leaves ev as it was.
// What the rules forbid writing into — Values' Bytes and Elems, the Table,
// Message, DDL, Binlog, Unwrap and Outbox — is shared.
func (ev *Event) Clone() *Event {
	c := *ev
	c.Before = cloneRow(ev.Before)
	c.After = cloneRow(ev.After)
	c.OtherKey = cloneRow(ev.OtherKey)
	return &c
}

func cloneRow(r Row) Row {
	if r == nil {
		return nil
	}
	return append(make(Row, 0, len(r)), r...)
}

// DDL is a schema change statement as the database logged it.
type DDL struct {
	Database  string // the statement's default database
	Statement string
	// Table names the table(s) the statement changes, without database
	// (several joined by ","), as Debezium's source.table of a schema
	// change event; "" for statements on no table.
	Table string
	// Changes describes each table the statement creates, alters or
	// drops, with its structure after the statement, as Debezium's
	// tableChanges: consumers rebuild a table's schema from the schema
	// change topic alone. Empty when the source does not describe them.
	Changes []TableChange
}

// TableChange is one table a schema change creates, alters or drops.
type TableChange struct {
	Type string // "CREATE", "ALTER" or "DROP"
	DB   string
	Name string
	// Table is the table's structure after the change; nil for DROP.
	Table *TableStructure
}

// TableStructure is a table's definition as Debezium's schema history
// describes it: what the DDL declared, not only what the log's row
// events need (display widths, defaults, comments).
type TableStructure struct {
	DefaultCharset string   // the table's default character set; "" when unknown
	PrimaryKey     []string // key column names in key order
	Columns        []ColumnStructure
	Comment        string // "" when none
}

// ColumnStructure is one column of a TableStructure. Optional values
// that Debezium writes as null are "" (strings), -1 (Length, Scale) or
// nil (EnumValues).
type ColumnStructure struct {
	Name     string
	JDBCType int32  // java.sql.Types of the type, as Debezium maps it
	TypeName string // the declared type in upper case, with UNSIGNED/ZEROFILL: "INT UNSIGNED"
	Charset  string // character set of character types
	Length   int    // declared length, display width, precision or fractional digits
	Scale    int    // declared decimal scale
	Position int    // 1-based
	Optional bool
	// AutoIncremented and Generated are set for AUTO_INCREMENT columns
	// (Debezium marks both); Generated also for generated columns.
	AutoIncremented, Generated bool
	Comment                    string
	// Default is the default's text (a literal unquoted); HasDefault
	// tells an empty literal from none (DEFAULT NULL is none).
	Default    string
	HasDefault bool
	EnumValues []string // ENUM and SET labels, quoted as declared: 'small'
}

// Binlog describes a MySQL or MariaDB transaction's place in the binary
// log. It is shared by the events of the transaction and never changed
// once they are emitted.
type Binlog struct {
	ServerID uint32 // server_id of the server that wrote the transaction
	File     string // binlog file holding the transaction
	GTID     string // the transaction's GTID, or "" when GTIDs are off
	Thread   uint64 // id of the session that ran it; 0 when unknown
	// TxID is Debezium's transaction id: the GTID, or "file:pos" of the
	// transaction's start without GTIDs.
	TxID string
}

// Heartbeat is the source position of a heartbeat record, in the terms
// of Debezium's offsets: LSN for PostgreSQL; File, Pos and GTIDs for
// MySQL and MariaDB.
type Heartbeat struct {
	LSN   uint64 // PostgreSQL: the WAL position confirmed with the record
	File  string // MySQL: binlog file
	Pos   uint64 // MySQL: offset in File
	GTIDs string // MySQL: executed GTID set; "" without GTIDs
}

// Message is a logical decoding message (pg_logical_emit_message).
type Message struct {
	Transactional bool
	Prefix        string
	Content       []byte
}

// Position locates an event in the source's log. Positions of events from
// one source only grow in read order; what they mean beyond that is the
// source's business, and only the source that made a position interprets
// it when the runner passes it back through Source.Confirm.
type Position struct {
	// LSN is the log position of the change itself (Postgres: the WAL
	// location of the row message; MySQL: the binlog file's sequence
	// number in the high 32 bits and the rows event's offset in the low).
	LSN uint64
	// TxLSN is the position a restart may resume from once every event up
	// to this one is delivered (Postgres: the commit's end LSN, which the
	// slot confirms; MySQL: the commit event's end, numbered like LSN).
	// Sinks use it as a version that grows with the log.
	TxLSN uint64
	// PrevTxLSN is the TxLSN of the previous transaction the source read,
	// written into Debezium's source.sequence.
	PrevTxLSN uint64
	// Resume is an opaque, source-specific token for sources whose
	// position is not a single number (MySQL: binlog file, offset, GTIDs).
	Resume string
	// Epoch names the log the positions belong to (PostgreSQL: the
	// cluster's system identifier and timeline; MySQL: the server's
	// identity), followed by the source's `epoch` key when set. Positions
	// of different epochs are not comparable: a sink that orders changes
	// by position (Elasticsearch's versions) must not mix them. Empty when
	// the source cannot tell.
	Epoch string
}
