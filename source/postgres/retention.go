package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/source"
)

// A replication slot holds WAL on the server until sluice confirms it. A
// slot that falls behind (sinks down, a retired pipeline whose slot stays)
// fills the server's disk, or, with max_slot_wal_keep_size, is
// invalidated and the changes it had not delivered are lost: the most
// reported CDC outage. The watcher reads what the slot retains on its own
// connection, for the metrics and a warning above wal_warn_bytes; an
// invalidated slot is a permanent error (slotLost) with the way back.

// retentionQuery reads the slot's retention; the current position is the
// replay position on a standby.
const retentionQuery = `SELECT
	COALESCE((cur - restart_lsn)::bigint, -1), COALESCE((cur - confirmed_flush_lsn)::bigint, -1),
	COALESCE(wal_status, ''), COALESCE(safe_wal_size, -1)
  FROM pg_replication_slots,
       LATERAL (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS cur) c
 WHERE slot_name = $1`

// retention is the last reading, shared with the metrics.
type retention struct {
	mu sync.Mutex
	r  sluice.Retention
}

// Retention implements sluice.RetentionReporter.
func (s *Source) Retention() sluice.Retention {
	s.ret.mu.Lock()
	defer s.ret.mu.Unlock()
	return s.ret.r
}

// watchRetention reads the slot's retention every slot_check_interval
// until ctx ends, on a connection of its own (reopened after a failure).
func (s *Source) watchRetention(ctx context.Context) {
	source.Poll(ctx, s.cfg.SlotCheckInterval, s.log, "slot watcher",
		func(ctx context.Context) (*pgx.Conn, error) { return s.connect(ctx, false) },
		func(c *pgx.Conn) error { return s.readRetention(ctx, c) },
		func(c *pgx.Conn) { c.Close(context.WithoutCancel(ctx)) })
}

// readRetention takes one reading and logs crossings of the threshold.
func (s *Source) readRetention(ctx context.Context, conn *pgx.Conn) error {
	var r sluice.Retention
	err := conn.QueryRow(ctx, retentionQuery, s.cfg.Slot).Scan(&r.RetainedBytes, &r.LagBytes, &r.Status, &r.SafeBytes)
	if err == pgx.ErrNoRows {
		return nil // not created yet, or dropped: the stream reports that
	}
	if err != nil {
		return fmt.Errorf("read slot %s: %w", s.cfg.Slot, err)
	}
	r.Known = true
	r.OverThreshold = s.cfg.WALWarnBytes > 0 && r.RetainedBytes > s.cfg.WALWarnBytes
	s.ret.mu.Lock()
	was := s.ret.r.OverThreshold
	s.ret.r = r
	s.ret.mu.Unlock()
	switch {
	case r.OverThreshold && !was:
		s.log.Warn("replication slot retains more WAL than wal_warn_bytes: the sinks are behind, or the pipeline does not run; the server's disk fills until it catches up",
			zap.Int64("retained_bytes", r.RetainedBytes), zap.Int64("wal_warn_bytes", s.cfg.WALWarnBytes),
			zap.String("wal_status", r.Status), zap.Int64("safe_wal_size", r.SafeBytes))
	case !r.OverThreshold && was:
		s.log.Info("replication slot is back below wal_warn_bytes", zap.Int64("retained_bytes", r.RetainedBytes))
	}
	if r.Status == "lost" {
		s.log.Error("replication slot invalidated", zap.Error(slotLost(s.cfg.Slot)))
	}
	return nil
}
