package mysql

import (
	"context"
	"time"

	"github.com/sluice-cdc/sluice/source"
)

// stopAtCommit ends the stream at a transaction boundary after a stop
// request (the run's context ending). A transaction in progress is read
// on to its commit within the drain's deadline: its first rows are
// already with the sinks, and stopping before its mark would leave it
// unconfirmed, so the next start would send it again.
type stopAtCommit struct {
	clock   *source.StopClock
	timeout time.Duration      // the source's drain_timeout
	ctx     context.Context    // under which the transaction is finished; nil until then
	cancel  context.CancelFunc // ends ctx
}

// finishing returns the context to wait for the next event under after
// the stop request, or nil when the stream stops now: outside a
// transaction (open false), or once the drain's deadline passed.
func (s *stopAtCommit) finishing(ctx context.Context, open bool) context.Context {
	deadline := s.clock.Deadline(s.timeout)
	if !open || !time.Now().Before(deadline) {
		return nil
	}
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithDeadline(context.WithoutCancel(ctx), deadline)
	}
	return s.ctx
}

func (s *stopAtCommit) close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.clock.Close()
}
