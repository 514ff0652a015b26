package sluice

import "context"

// Source reads one database's change log.
//
// Run connects, then emits every committed change in commit order through
// emit until ctx is cancelled or an unrecoverable error occurs. emit blocks
// while the pipeline is full (backpressure) and returns an error once the
// pipeline is shutting down; Run must then return. A source resumes after
// the last position it was told to Confirm, in this process or a previous
// one (Postgres keeps it in the replication slot).
//
// After the last event of each transaction, and when idle on keepalives,
// a source emits an OpMark event whose Pos.TxLSN is a position it may
// later confirm. The runner hands marks only to sinks that write at
// transaction boundaries (sink.MarkWriter: the Kafka sink's transaction
// topic), and confirms a mark once those acknowledged it.
type Source interface {
	Run(ctx context.Context, emit func(*Event) error) error
	// Confirm reports that every event up to and including pos is durably
	// delivered to every sink. It is called from the runner's goroutine,
	// concurrently with Run, and must not block.
	Confirm(pos Position)
}

// Sink delivers events to one destination.
//
// Open connects; the runner retries it with backoff. Write is called from a
// single goroutine in event order; it may block to apply backpressure. The
// sink calls ack exactly once per Write call, even when Write also returns
// an error, from any goroutine: with
// nil when the event is durable at the destination, or with the error that
// made it undeliverable (the runner then restarts the pipeline from its
// last checkpoint). Close flushes, waits for outstanding acks and releases
// the connection.
type Sink interface {
	Open(ctx context.Context) error
	Write(ctx context.Context, ev *Event, ack func(error)) error
	Close(ctx context.Context) error
}

// Transform changes, drops or keeps one event. Returning false drops the
// event; the runner still acknowledges it, so a filtered event never holds
// back the checkpoint.
//
// Apply runs on the runner's goroutine, one event at a time, in read order.
// It changes ev by the ownership rules of Event: it replaces fields, rows
// and values and never writes into a value's Bytes or Elems or into the
// Table. A transform configured for one sink gets that sink's Clone of the
// event, so it cannot change what other sinks see.
//
// An error stops the pipeline without a retry (the runner makes it
// permanent and names the transform's config key): the source would replay
// the same event into the same transform, so retrying could only loop.
// A transform that can fail for a passing reason (a lookup over the
// network) must retry inside Apply.
type Transform interface {
	Apply(ev *Event) (keep bool, err error)
}

// ReadyChecker is implemented by sinks (and sources) that can tell whether
// they are currently able to deliver, e.g. a sink that retries a failing
// destination internally instead of failing the pipeline. The daemon's
// /readyz reports not-ready while any of them returns an error.
type ReadyChecker interface {
	Ready() error
}

// TableSnapshot is the state of one table's snapshot, as a source reports
// it for logs and the /metrics endpoint.
type TableSnapshot struct {
	Table       string // schema.table (Postgres) or db.table (MySQL)
	Incremental bool   // an ad-hoc snapshot requested while streaming
	Rows        int64  // rows emitted so far (acknowledged or not)
	Estimated   int64  // the database's row estimate; -1 when unknown
	Done        bool   // the last chunk was emitted (Postgres: and acknowledged)
	Failed      bool   // the snapshot of the table was given up; Error says why (the stream goes on)
	Error       string // why the snapshot failed; empty unless Failed
}

// Retention is how much of its log a source's position holds back on the
// server: for PostgreSQL, the WAL its replication slot keeps. A slot that
// falls too far behind fills the server's disk, or is invalidated and
// loses changes; this is what alerts watch.
type Retention struct {
	Known bool // false until the first reading
	// RetainedBytes is the log the server keeps for the source (from the
	// slot's restart position to the server's current one).
	RetainedBytes int64
	// LagBytes is the log not confirmed yet (from the confirmed position).
	LagBytes int64
	// Status is PostgreSQL's wal_status: reserved, extended, unreserved
	// or lost; "" when the server does not say.
	Status string
	// SafeBytes is the log that can still be written before the slot is
	// invalidated (max_slot_wal_keep_size); -1 when unlimited.
	SafeBytes int64
	// OverThreshold reports RetainedBytes above the source's configured
	// warning threshold.
	OverThreshold bool
}

// RetentionReporter is implemented by sources whose position holds log
// back on the server; the daemon exports it as metrics.
type RetentionReporter interface {
	Retention() Retention
}

// SnapshotReporter is implemented by sources that snapshot tables. The
// daemon exposes the tables of the snapshot in progress (or the last one
// of this process) as metrics; nil means no snapshot ran.
type SnapshotReporter interface {
	SnapshotProgress() []TableSnapshot
}

// SinkStats are what only a sink knows about its own work, as running
// totals since the sink was built; the daemon exports them per sink
// (sluice_sink_bytes_total and the others), next to what the runner
// measures itself (events handed over, acknowledgement latency). A
// negative field means the sink does not count that: its metric is left
// out rather than shown as a misleading 0.
type SinkStats struct {
	Bytes       int64 // payload bytes written to the destination (the sink's doc says which)
	Retries     int64 // requests repeated after a retryable failure
	DeadLetters int64 // events written to a dead-letter destination instead of their own
	Errors      int64 // events acknowledged with an error
}

// SinkStatsReporter is implemented by sinks that count SinkStats.
// SinkStats is called at scrape time from any goroutine, so it reads
// atomic counters and does not block.
type SinkStatsReporter interface {
	SinkStats() SinkStats
}

// Seeker is implemented by sources that can start after a position a sink
// stored itself, instead of their own checkpoint, when that position is
// further ahead. The Kafka sink's exactly-once mode commits the source
// position in the same Kafka transaction as the events; a crash after that
// commit but before the source's own checkpoint moved would otherwise
// replay committed events. The runner calls SeekAfter after the sinks
// opened and before Run; a position of another epoch (another server, a
// rebuilt one) is ignored and logged by the source.
type Seeker interface {
	SeekAfter(pos Position)
}

// LocalStater is implemented by sources that can keep what they need to
// resume on this machine's disk (a file in state_dir). Cluster mode moves
// pipelines between machines, so it refuses a pipeline whose LocalState
// is not empty: the config key that keeps the state locally.
type LocalStater interface {
	LocalState() string
}

// Handover is implemented by sources whose position a server locks while
// one reader holds it (a PostgreSQL replication slot). When cluster mode
// moves a pipeline, the new owner calls WaitReleased first: it returns
// once the previous reader let go, or when ctx ends.
type Handover interface {
	WaitReleased(ctx context.Context) error
}
