package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// LocalState implements sluice.LocalStater: the file store keeps the
// snapshot state on this machine.
func (s *Source) LocalState() string {
	if s.cfg.State.Store == storeFile {
		return "state.store: file keeps the snapshot state in state_dir; use table or kafka"
	}
	return ""
}

// releasePoll is how often WaitReleased looks at the slot.
const releasePoll = 200 * time.Millisecond

// WaitReleased implements sluice.Handover: it returns once the slot is
// not active, so a pipeline that moved to this process does not fight
// the previous reader for it (a process that was paused, or whose
// connection the server has not yet seen close). PostgreSQL ends a
// walsender whose client stopped answering after wal_sender_timeout, so
// the wait ends. A missing slot or a server that cannot be reached ends
// the wait too: the pipeline's own start reports those.
func (s *Source) WaitReleased(ctx context.Context) error {
	conn, err := s.connect(ctx, false)
	if err != nil {
		return nil
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var logged time.Time
	for {
		var active bool
		var pid int32
		err := conn.QueryRow(ctx, "SELECT active, COALESCE(active_pid, 0) FROM pg_replication_slots WHERE slot_name = $1", s.cfg.Slot).Scan(&active, &pid)
		if errors.Is(err, pgx.ErrNoRows) || err != nil || !active {
			if !logged.IsZero() {
				s.log.Info("replication slot released; taking the pipeline over")
			}
			return ctx.Err()
		}
		if time.Since(logged) > 30*time.Second {
			s.log.Info("waiting for the previous reader to release the replication slot", zap.Int32("active_pid", pid))
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(releasePoll):
		}
	}
}
