package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// A slot can only confirm positions the stream reaches, and pgoutput sends
// nothing for other databases' WAL: on a server where this database is
// quiet and others are busy, the slot pins the WAL they write. Debezium's
// remedy, heartbeat.action.query, is a statement that writes a little in
// this database at an interval; the keepalive after it lets the slot move
// on. heartbeat runs it on a connection of its own; a failed statement is
// logged and retried at the next interval, never fatal.

// heartbeatProblem checks the heartbeat keys: an interval needs a query
// or heartbeat records, and both need an interval.
func heartbeatProblem(path string, interval time.Duration, query string, records bool) error {
	switch {
	case interval == 0 && query == "" && !records:
		return nil
	case records && interval == 0:
		return fmt.Errorf("%s.heartbeat_interval: required with heartbeat_records, e.g. 10s", path)
	case query == "" && !records:
		return fmt.Errorf("%s.heartbeat_action_query: required with heartbeat_interval (or set heartbeat_records: true), e.g. UPDATE sluice_heartbeat SET at = now()", path)
	case interval == 0:
		return fmt.Errorf("%s.heartbeat_interval: required with heartbeat_action_query, e.g. 10s", path)
	case interval < 100*time.Millisecond || interval > 24*time.Hour:
		return fmt.Errorf("%s.heartbeat_interval: %v is outside 100ms to 24h", path, interval)
	}
	return nil
}

// heartbeat runs the action query every heartbeat_interval until ctx ends.
func (s *Source) heartbeat(ctx context.Context) {
	if s.cfg.HeartbeatInterval == 0 || s.cfg.HeartbeatActionQuery == "" {
		return
	}
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var err error
		if conn == nil {
			conn, err = s.connect(ctx, false)
		}
		if err == nil {
			_, err = conn.Exec(ctx, s.cfg.HeartbeatActionQuery)
		}
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				s.log.Warn("heartbeat action query failed; retried at every heartbeat", zap.Error(err))
			}
			failing = true
			if conn != nil {
				conn.Close(context.WithoutCancel(ctx))
				conn = nil
			}
		case err == nil && failing:
			s.log.Info("heartbeat action query succeeds again")
			failing = false
		}
	}
}
