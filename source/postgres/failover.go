package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Failover slots (PostgreSQL 17): a slot created with FAILOVER is copied
// to a physical standby that runs with sync_replication_slots = on, and
// the copy becomes usable when that standby is promoted. A DSN naming
// both servers with target_session_attrs=read-write then reconnects to
// whichever is the primary, and the stream resumes from the copy's
// confirmed position: the state table came along with the rest of the
// database, so nothing is snapshotted again.

// checkFailover refuses failover: true on a server that has no failover
// slots.
func (s *Source) checkFailover(repl *pgconn.PgConn) error {
	if v := serverMajor(repl); s.cfg.Failover && v < 17 {
		return sluice.Permanent(fmt.Errorf("postgres source: failover: true needs PostgreSQL 17 or later; this server is %d", v))
	}
	return nil
}

// createSlot creates the slot, a failover one when configured, and
// returns its consistent point, where its stream starts (slot names are
// validated as lower-case letters, digits and underscores: no quoting
// is needed in the replication commands). No snapshot is
// exported: sluice's snapshots read tables on their own.
func (s *Source) createSlot(ctx context.Context, repl *pgconn.PgConn) (pglogrepl.LSN, error) {
	s.slotOnStandbyHint()
	if !s.cfg.Failover {
		res, err := pglogrepl.CreateReplicationSlot(ctx, repl, s.cfg.Slot, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication})
		if err != nil {
			return 0, fmt.Errorf("postgres source: create replication slot %s: %w", s.cfg.Slot, err)
		}
		return parseConsistentPoint(s.cfg.Slot, res.ConsistentPoint)
	}
	sql := fmt.Sprintf("CREATE_REPLICATION_SLOT %s LOGICAL pgoutput (SNAPSHOT 'nothing', FAILOVER true)", s.cfg.Slot)
	res, err := repl.Exec(ctx, sql).ReadAll()
	if err == nil && (len(res) != 1 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) < 2) {
		err = fmt.Errorf("unexpected reply to CREATE_REPLICATION_SLOT")
	}
	if err != nil {
		return 0, fmt.Errorf("postgres source: create failover replication slot %s: %w", s.cfg.Slot, err)
	}
	return parseConsistentPoint(s.cfg.Slot, string(res[0].Rows[0][1]))
}

func parseConsistentPoint(slot, s string) (pglogrepl.LSN, error) {
	lsn, err := pglogrepl.ParseLSN(s)
	if err != nil {
		return 0, fmt.Errorf("postgres source: slot %s consistent point %q: %w", slot, s, err)
	}
	return lsn, nil
}

// alterFailover turns the existing slot's failover flag to the
// configured one.
func (s *Source) alterFailover(ctx context.Context, repl *pgconn.PgConn) error {
	sql := fmt.Sprintf("ALTER_REPLICATION_SLOT %s (FAILOVER %t)", s.cfg.Slot, s.cfg.Failover)
	if _, err := repl.Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("postgres source: set failover of replication slot %s to %t: %w", s.cfg.Slot, s.cfg.Failover, err)
	}
	s.log.Info("altered replication slot", zap.Bool("failover", s.cfg.Failover))
	return nil
}
