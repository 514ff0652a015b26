package sluice

import "context"

// The interfaces below let a transform keep state across events (the
// join transform's lookup table) with the pipeline's delivery guarantee:
// it is opened before the source runs and may read tables through the
// source, it may add events after the one it was applied to, and its
// state is made durable before the source confirms a position.

// TableReader is implemented by sources that can read a captured table's
// current rows outside the stream. The join transform fills its lookup
// state from it when that state is empty.
type TableReader interface {
	// ReadTable reads every row of table ("schema.table" for PostgreSQL,
	// "db.table" for MySQL), in key order and in chunks so that memory
	// stays bounded, inside one consistent read (a repeatable-read
	// transaction), calling fn once per row, after a first call with row
	// nil that describes the table, also when it is empty. t describes
	// the table with
	// the column types the stream's events carry, so a row read here
	// compares equal to the same row decoded from the log. A table the
	// source does not capture is refused. It may be called before Run,
	// and while Run runs; an error from fn ends the read and is returned.
	ReadTable(ctx context.Context, table string, fn func(t *Table, row Row) error) error
}

// OpenTransform is implemented by transforms with state or connections.
// The runner calls Open each time the pipeline (re)starts, before the
// source runs, and Close when that run ends, whatever the outcome.
type OpenTransform interface {
	Transform
	// Open prepares the transform; src is the pipeline's source (for a
	// TableReader). An error fails the start like a sink's failing Open
	// (the runner retries it) unless it is Permanent.
	Open(ctx context.Context, src Source) error
	Close() error
}

// Expander is implemented by transforms that add events after the one
// they were applied to (the join's re-emits when a looked-up row
// changes). The runner calls Expand once the event has gone on (to the
// later transforms and the sinks, or dropped); every event passed to emit
// runs through the transforms after this one and then to the sinks, with
// the delivery guarantee of the event that caused it: it should carry
// that event's position. emit blocks under backpressure; an error from
// it must be returned.
type Expander interface {
	Expand(ev *Event, emit func(*Event) error) error
}

// Syncer is implemented by transforms whose state must be durable before
// the source confirms a position (the join's store: after a crash its
// state must not be behind the position the source resumes from).
// Checkpoint is called from one goroutine, never concurrently with
// itself, each time the runner is about to confirm pos; it makes durable
// everything Apply wrote so far and returns; the position is confirmed
// only after it returned nil. An error fails the pipeline.
type Syncer interface {
	Checkpoint(pos Position) error
}

// JoinStats are a join transform's counters since it was built, which
// the daemon exports per pipeline and join (sluice_join_*).
type JoinStats struct {
	Lookup, As    string // the lookup table and the field the join adds
	Enriched      int64  // events enriched
	Missing       int64  // events whose lookup row did not exist
	Dropped       int64  // of those, dropped (missing: drop)
	LookupChanges int64  // lookup table changes written into the state
	Reemitted     int64  // events re-emitted after lookup changes
	ReemitSkipped int64  // rows not re-emitted because of max_reemit
	ReemitMax     int64  // the most rows one lookup change re-emitted
	// BootstrapRows and BootstrapSeconds are the rows read to fill the
	// state and how long the last fill took.
	BootstrapRows    int64
	BootstrapSeconds float64
	StoreBytes       int64 // the state's size on disk; -1 while closed
}

// JoinReporter is implemented by the join transform.
type JoinReporter interface {
	JoinStats() JoinStats
}

// DurableReporter is implemented by sources that tell where a restart
// would resume: the TxLSN of the newest confirmed position they have
// recorded (PostgreSQL: sent to the replication slot; MySQL: written to
// the offset store), which trails what the runner confirmed. The join
// keeps the state that a replay from there needs.
type DurableReporter interface {
	Durable() uint64
}
