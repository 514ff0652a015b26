package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// checkServer refuses, with a message saying how to fix it, a server that
// cannot feed logical replication to this role, or captured tables that do
// not exist.
func (s *Source) checkServer(ctx context.Context, conn *pgx.Conn) error {
	var walLevel string
	if err := conn.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		return fmt.Errorf("postgres source: read wal_level: %w", err)
	}
	if walLevel != "logical" {
		return sluice.Permanent(fmt.Errorf("postgres source: the server has wal_level = %s, but logical decoding needs wal_level = logical: "+
			"run ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart PostgreSQL", walLevel))
	}
	var user string
	var canReplicate bool
	err := conn.QueryRow(ctx, "SELECT current_user, rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&user, &canReplicate)
	if err != nil {
		return fmt.Errorf("postgres source: read role attributes: %w", err)
	}
	if !canReplicate {
		return sluice.Permanent(fmt.Errorf("postgres source: role %q lacks the REPLICATION attribute: run ALTER ROLE %s WITH REPLICATION", user, pgx.Identifier{user}.Sanitize()))
	}
	var missing []string
	for _, e := range parseEntries(s.cfg.Tables) {
		if e.pattern() {
			continue // a pattern may match nothing yet
		}
		schema, name, t := e.schema, e.name, tableName(e.schema, e.name)
		var ok bool
		err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, name}.Sanitize()).Scan(&ok)
		if err != nil {
			return fmt.Errorf("postgres source: look up table %s: %w", t, err)
		}
		if !ok {
			missing = append(missing, tableName(schema, name))
		}
	}
	if len(missing) > 0 {
		return sluice.Permanent(fmt.Errorf("postgres source: captured table(s) %s do not exist in database %q: create them or remove them from source.tables",
			strings.Join(missing, ", "), s.connCf.Database))
	}
	return nil
}

// slotExists reports whether the replication slot is there already. An
// invalidated slot is the permanent slotLost error, before anything else
// is decided about it (the snapshot plan included).
func (s *Source) slotExists(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var walStatus string
	err := conn.QueryRow(ctx, "SELECT COALESCE(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1", s.cfg.Slot).Scan(&walStatus)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("postgres source: read replication slot %s: %w", s.cfg.Slot, err)
	case walStatus == "lost":
		return true, slotLost(s.cfg.Slot)
	}
	return true, nil
}

// ensureSlot creates the slot when missing and returns the position the
// stream resumes from (the slot's confirmed flush LSN). A slot another
// process is reading is ErrSlotInUse.
func (s *Source) ensureSlot(ctx context.Context, conn *pgx.Conn, repl *pgconn.PgConn) (pglogrepl.LSN, error) {
	var (
		plugin    string
		active    bool
		pid       *int32
		confirmed *string
		walStatus string
		failover  bool
	)
	if err := s.checkFailover(repl); err != nil {
		return 0, err
	}
	failoverCol := "false"
	if serverMajor(repl) >= 17 {
		failoverCol = "failover"
	}
	err := conn.QueryRow(ctx, `SELECT plugin, active, active_pid, confirmed_flush_lsn::text, COALESCE(wal_status, ''), `+failoverCol+`
		FROM pg_replication_slots WHERE slot_name = $1`, s.cfg.Slot).Scan(&plugin, &active, &pid, &confirmed, &walStatus, &failover)
	if errors.Is(err, pgx.ErrNoRows) {
		lsn, err := s.createSlot(ctx, repl)
		if err != nil {
			return 0, err
		}
		s.log.Info("created replication slot", zap.Bool("failover", s.cfg.Failover))
		return lsn, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres source: read replication slot %s: %w", s.cfg.Slot, err)
	}
	if walStatus == "lost" {
		return 0, slotLost(s.cfg.Slot)
	}
	if plugin != "pgoutput" {
		return 0, sluice.Permanent(fmt.Errorf("postgres source: replication slot %s uses plugin %q, not pgoutput: drop it or configure another slot name", s.cfg.Slot, plugin))
	}
	if active {
		who := "another process"
		if pid != nil {
			who = fmt.Sprintf("process %d", *pid)
		}
		return 0, fmt.Errorf("postgres source: replication slot %s is read by %s: %w", s.cfg.Slot, who, ErrSlotInUse)
	}
	if failover != s.cfg.Failover && serverMajor(repl) >= 17 {
		if err := s.alterFailover(ctx, repl); err != nil {
			return 0, err
		}
	}
	if confirmed == nil {
		return 0, nil
	}
	lsn, err := pglogrepl.ParseLSN(*confirmed)
	if err != nil {
		return 0, fmt.Errorf("postgres source: slot %s confirmed_flush_lsn %q: %w", s.cfg.Slot, *confirmed, err)
	}
	return lsn, nil
}
