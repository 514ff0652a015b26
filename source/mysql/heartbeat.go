package mysql

import (
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice"
)

// Heartbeat records (heartbeat_records): every heartbeat_interval the
// stream emits an OpHeartbeat event at the last mark's position (the
// Resume token a restart would take), so consumers of the heartbeat
// topic see the pipeline alive, and how far it read, while the captured
// tables are quiet. The stream checks the clock after each commit and
// at each binlog heartbeat, both transaction boundaries, so the
// position is always one the offset may store; the runner confirms it
// like a mark once the sinks that write heartbeats acknowledged it.

// heartbeatProblem checks the heartbeat record keys: each needs the
// other.
func heartbeatProblem(path string, interval time.Duration, records bool) []error {
	switch {
	case interval == 0 && !records:
		return nil
	case interval == 0:
		return []error{fmt.Errorf("%s.heartbeat_interval: required with heartbeat_records, e.g. 10s", path)}
	case !records:
		return []error{fmt.Errorf("%s.heartbeat_records: heartbeat_interval only emits heartbeat records: set heartbeat_records: true, or remove heartbeat_interval (the binlog heartbeat period is the heartbeat key)", path)}
	case interval < 100*time.Millisecond || interval > 24*time.Hour:
		return []error{fmt.Errorf("%s.heartbeat_interval: %v is outside 100ms to 24h", path, interval)}
	}
	return nil
}

// maybeHeartbeat emits a heartbeat record when the interval has passed.
func (st *stream) maybeHeartbeat() error {
	if !st.src.cfg.HeartbeatRecords || st.lastResume == "" {
		return nil
	}
	now := time.Now()
	if st.hb.IsZero() {
		st.hb = now
		return nil
	}
	if now.Sub(st.hb) < st.src.cfg.HeartbeatInterval {
		return nil
	}
	st.hb = now
	return st.emit(&sluice.Event{Op: sluice.OpHeartbeat, Pos: sluice.Position{TxLSN: st.lastMark, Resume: st.lastResume},
		CommitTime: now, Heartbeat: heartbeatOf(st.lastResume)})
}

// heartbeatOf is the heartbeat position of a stream mark's Resume token
// ("file\x00pos\x00gtids").
func heartbeatOf(token string) *sluice.Heartbeat {
	o, _, err := tokenOffset(token)
	if err != nil {
		return &sluice.Heartbeat{}
	}
	return &sluice.Heartbeat{File: o.File, Pos: uint64(o.Pos), GTIDs: o.GTIDs}
}
