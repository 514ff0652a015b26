package sink

import (
	"context"

	"github.com/sluice-cdc/sluice"
)

// MarkWriter is implemented by sinks that write something at transaction
// boundaries: the Kafka sink writes a transaction's END record to the
// transaction topic when its commit mark arrives, because only the mark
// says that the transaction's last event has been seen.
//
// The runner hands such a sink every mark (sluice.OpMark) in event order,
// from the goroutine that calls Write, after the events before it. ack
// follows Write's contract: it is called exactly once, with nil when
// what the sink wrote for the mark is durable (at once when it wrote
// nothing), else with the error. The mark's position is not confirmed to
// the source before every MarkWriter has acknowledged it, so a boundary
// record that fails is written again when the pipeline resumes.
type MarkWriter interface {
	WriteMark(ctx context.Context, mark *sluice.Event, ack func(error)) error
}

// HeartbeatWriter is implemented by sinks that write heartbeat records
// (sluice.OpHeartbeat): the Kafka sink's heartbeat topic. The runner
// hands heartbeats only to these, in event order from the goroutine that
// calls Write, and skips the other sinks (a search index has nothing to
// store). ack follows Write's contract. The heartbeat's position is
// confirmed to the source once every HeartbeatWriter acknowledged it
// (at once when there is none), so an idle source's checkpoint moves.
type HeartbeatWriter interface {
	WriteHeartbeat(ctx context.Context, hb *sluice.Event, ack func(error)) error
}

// PositionCommitter is implemented by sinks that can store the source
// position together with the events (the Kafka sink's exactly_once). The
// runner asks each open sink for the position it committed last and has
// the source (a sluice.Seeker) start after it, so nothing the sink
// committed is written twice. While running, such a sink tells the runner
// what each commit covers, and the runner confirms to the source only
// checkpoints the sink has committed, so the source's own checkpoint
// never passes what the sink holds.
type PositionCommitter interface {
	// CommitsPositions reports whether the sink is configured to commit
	// positions; a sink that is not is an ordinary at-least-once sink.
	CommitsPositions() bool
	// Committed returns the position of the last commit, as read when the
	// sink was last opened; false when there is none.
	Committed() (sluice.Position, bool)
	// NotifyCommits registers f, which the sink calls after each commit:
	// with the number of boundaries (marks and heartbeats) handed to it
	// since Open that the commit covers, or with the error that aborted
	// the transaction (the runner then restarts the pipeline). It is
	// called from any goroutine and must not block.
	NotifyCommits(f func(bounds uint64, err error))
}

// CommittedDropper is implemented by sinks that keep a committed position
// outside the process (PositionCommitter): `sluice drop` removes it with
// the rest of a retired pipeline's state, so a new pipeline of the same
// name does not start after an old position. With dryRun it only reports
// what it would remove. what names the position and where it is; found is
// false when there is none.
type CommittedDropper interface {
	DropCommitted(ctx context.Context, dryRun bool) (what string, found bool, err error)
}

// Reclaimer is a sink that tells a restart of its pipeline (after a
// failure, the same tenure) from a new start on this process after the
// pipeline ran elsewhere (cluster mode moved it away and back). The
// runner calls Reclaim each time Pipeline.Run begins.
type Reclaimer interface {
	Reclaim()
}
