package postgres

import (
	"time"

	"github.com/sluice-cdc/sluice"
)

// Heartbeat records (heartbeat_records): every heartbeat_interval the
// stream emits an OpHeartbeat event carrying the position it would
// confirm now, the last mark's (a commit's end or an idle keepalive's
// WAL end). It is emitted only between transactions, so its position is
// one the slot may confirm: the runner confirms it like a mark once the
// sinks that write heartbeats acknowledged it. The clock is read where
// the stream already reads it (maybeSendStatus: every 256 messages and
// at every idle wake-up, at least once a second); a heartbeat that falls
// due inside a transaction is emitted after its commit.

// heartbeatRecords is the stream's heartbeat state.
type heartbeatRecords struct {
	last time.Time // when the last heartbeat was emitted (or the stream started)
	due  bool      // the interval passed inside a transaction
}

// heartbeatDue emits a heartbeat when the interval has passed, or marks
// it due for the next commit while a transaction is open.
func (st *stream) heartbeatDue() error {
	cfg := &st.src.cfg
	if !cfg.HeartbeatRecords || cfg.HeartbeatInterval == 0 {
		return nil
	}
	now := time.Now()
	if st.hb.last.IsZero() {
		st.hb.last = now
		return nil
	}
	if now.Sub(st.hb.last) < cfg.HeartbeatInterval {
		return nil
	}
	if st.inTx {
		st.hb.due = true
		return nil
	}
	return st.emitHeartbeat()
}

// emitHeartbeat emits the heartbeat at the last mark's position.
func (st *stream) emitHeartbeat() error {
	st.hb.last, st.hb.due = time.Now(), false
	return st.emit(&sluice.Event{Op: sluice.OpHeartbeat, Pos: sluice.Position{TxLSN: st.lastMark}, CommitTime: st.hb.last,
		Heartbeat: &sluice.Heartbeat{LSN: st.lastMark}})
}
