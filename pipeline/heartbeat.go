package pipeline

import (
	"context"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

// writeFunc is a sink's WriteMark or WriteHeartbeat.
type writeFunc func(ctx context.Context, ev *sluice.Event, ack func(error)) error

// markWriters returns, found once per run, the sinks' WriteMark
// (sink.MarkWriter: sinks that write at transaction boundaries) and
// WriteHeartbeat (sink.HeartbeatWriter).
func markWriters(sinks []sluice.Sink) (marks, heartbeats []writeFunc) {
	for _, s := range sinks {
		if m, ok := s.(sink.MarkWriter); ok {
			marks = append(marks, m.WriteMark)
		}
		if h, ok := s.(sink.HeartbeatWriter); ok {
			heartbeats = append(heartbeats, h.WriteHeartbeat)
		}
	}
	return marks, heartbeats
}

// emitMark hands a mark, or a heartbeat record, to writers and tracks it
// as a mark: its position is a transaction boundary the source may
// confirm once they all acknowledged it (at once when there is none).
// Transforms do not see a heartbeat: it is not a change of any table, and
// a filter or route written for rows has nothing to match in it. Other
// sinks skip it, and it does not count as an event in Stats.
func emitMark(sinkCtx context.Context, tr *tracker, acks []func(error), writers []writeFunc, ev *sluice.Event, fail func(error)) error {
	seq, err := tr.add(sinkCtx, ev.Pos, true, len(writers))
	if err != nil {
		return err
	}
	ack := acks[seq%uint64(len(acks))]
	for _, w := range writers {
		if err := w(sinkCtx, ev, ack); err != nil {
			fail(err)
			return err
		}
	}
	return nil
}
