package pipeline

import (
	"context"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

// emitHeartbeat hands a heartbeat record to the sinks that write them
// (sink.HeartbeatWriter) and tracks it like a mark: its position is a
// transaction boundary the source may confirm once they acknowledged it.
// Transforms do not see it: it is not a change of any table, and a
// filter or route written for rows has nothing to match in it. Other
// sinks skip it, and it does not count as an event in Stats.
func emitHeartbeat(srcCtx, sinkCtx context.Context, tr *tracker, acks []func(error), sinks []sluice.Sink, ev *sluice.Event, fail func(error)) error {
	n := 0
	for _, s := range sinks {
		if _, ok := s.(sink.HeartbeatWriter); ok {
			n++
		}
	}
	seq, err := tr.add(srcCtx, ev.Pos, true, n)
	if err != nil {
		return err
	}
	ack := acks[seq%uint64(len(acks))]
	for _, s := range sinks {
		if w, ok := s.(sink.HeartbeatWriter); ok {
			if err := w.WriteHeartbeat(sinkCtx, ev, ack); err != nil {
				fail(err)
				return err
			}
		}
	}
	return nil
}
