package postgres

import (
	"context"
	"time"

	"github.com/jackc/pglogrepl"
	"go.uber.org/zap"
)

// A stop request (the run's context ending) ends the stream at a
// transaction boundary: what was read is acknowledged by the sinks and
// confirmed to the slot, so a clean restart repeats nothing.

// finishing decides what a stop request leaves to read. Outside a
// transaction, nothing: it returns false and the stream drains. Inside one,
// its remaining messages up to its Commit, within the drain's deadline:
// its first events are already with the sinks, and stopping before its
// mark would leave it unconfirmed, so the next start would send it again.
// The first call makes *wctx a context that the stop request does not
// end but the drain's deadline does (the transaction's emits and catalog
// queries run under it). Each call sets the read deadline to the
// drain's.
func (st *stream) finishing(ctx context.Context, wctx *context.Context) bool {
	deadline := st.stopClock.Deadline(st.src.cfg.DrainTimeout)
	if !st.inTx || !time.Now().Before(deadline) {
		return false
	}
	st.repl.Conn().SetReadDeadline(deadline)
	if st.finishCancel == nil {
		*wctx, st.finishCancel = context.WithDeadline(context.WithoutCancel(ctx), deadline)
		st.log.Info("stop requested in the middle of a transaction: reading on to its commit",
			zap.String("commit", pglogrepl.LSN(st.txLSN).String()))
	}
	return true
}

// drain waits, after the stop request, until the sinks have acknowledged
// the last transaction read (or DrainTimeout passes), then reports the
// final confirmed position so a restart does not replay it.
func (st *stream) drain() error {
	deadline := st.stopClock.Deadline(st.src.cfg.DrainTimeout)
	for st.src.confirmed.Load() < st.lastMark && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := st.maybeSendStatus(ctx, true); err != nil {
		st.log.Warn("final status update failed; the next start replays from the previous one", zap.Error(err))
	}
	st.log.Info("stopped", zap.String("confirmed", pglogrepl.LSN(st.src.confirmed.Load()).String()))
	return nil
}
