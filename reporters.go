package sluice

// BinlogRetention is where a MySQL or MariaDB source's needed position
// stands among the binary logs the server still has. Unlike a PostgreSQL
// slot, the server keeps nothing for sluice: it purges binlogs by age or
// size (binlog_expire_logs_seconds, expire_logs_days, max_binlog_total_size,
// PURGE BINARY LOGS) whether or not sluice read them, and a purged needed
// file is a lost position (a permanent error, or a new snapshot under
// snapshot.mode when_needed). This is what alerts watch before that
// happens.
type BinlogRetention struct {
	Known bool // false until the first reading
	// HeadFile and HeadPos are the server's current binlog position.
	HeadFile string
	HeadPos  uint64
	// NeededFile and NeededPos are where a restart would resume: the
	// last position every sink acknowledged (or the run's start).
	NeededFile string
	NeededPos  uint64
	// OldestFile is the oldest binlog file the server still has.
	OldestFile string
	// NeededPresent reports NeededFile among the server's binlogs; false
	// means it was purged and a restart cannot resume there.
	NeededPresent bool
	// BehindBytes is the binlog from the needed position to the head:
	// the rest of the needed file and every later file. When the needed
	// file is gone it counts only the files still there.
	BehindBytes int64
	// ServerBytes and Files are the size and number of all binlog files
	// on the server (SHOW BINARY LOGS).
	ServerBytes int64
	Files       int
	// OverThreshold reports BehindBytes above the source's configured
	// warning threshold (binlog_warn_bytes).
	OverThreshold bool
}

// BinlogRetentionReporter is implemented by sources that read a MySQL
// or MariaDB binlog; the daemon exports it as metrics.
type BinlogRetentionReporter interface {
	BinlogRetention() BinlogRetention
}

// IncrementalSnapshotJobs counts a source's incremental snapshot jobs.
// A job is one table of one snapshot request: an execute-snapshot
// signal (which `sluice snapshot` writes) naming three tables makes
// three jobs, each queued, read chunk by chunk by a snapshot worker, and
// completed or failed on its own. The initial snapshot's tables are not
// jobs here (SnapshotReporter reports them).
type IncrementalSnapshotJobs struct {
	// Known is false while the source is not running (between restarts)
	// or has no signal table and no snapshot work to resume: Queued,
	// Running and Failed are then unknown, not zero.
	Known bool
	// Queued jobs wait for a free worker (snapshot.workers).
	Queued int64
	// Running jobs were taken by a worker and are not complete: chunks
	// are being read, or were emitted and not yet acknowledged by every
	// sink.
	Running int64
	// Failed jobs were given up (refused when their signal was read, or
	// failed while read) and are kept in the snapshot state, across
	// restarts, until newer failures push them out (the newest 16 stay).
	Failed int64
	// Completed, Failures and Chunks are running totals since the source
	// was built: jobs whose every chunk every sink acknowledged, jobs
	// refused or given up, and chunks emitted.
	Completed, Failures, Chunks int64
	// Paused reports a pause-snapshot signal not yet lifted by a
	// resume-snapshot: no chunk starts. It is kept in the snapshot state,
	// so a restart stays paused. Meaningful only when Known.
	Paused bool
}

// IncrementalSnapshotReporter is implemented by sources that run
// incremental snapshots; the daemon exports it as metrics. It is called
// at scrape time from any goroutine, so it reads atomic counters and
// does not block the stream.
type IncrementalSnapshotReporter interface {
	IncrementalSnapshotJobs() IncrementalSnapshotJobs
}
