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
