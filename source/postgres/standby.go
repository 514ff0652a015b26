package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Decoding on a standby (PostgreSQL 16+): the source may read a physical
// standby, which takes the decoding's load off the primary. A standby
// is read-only, so everything sluice would write there must come from
// elsewhere:
//   - the publication is created on the primary (it reaches the standby
//     with the rest of the catalog); sluice checks it, and names the
//     statement to run on the primary when it is missing or differs;
//   - the snapshot state lives in a Kafka topic or a file, not a table;
//   - snapshots are off: their watermarks are writes;
//   - no heartbeat_action_query: it is a write too;
//   - the slot is made on the standby, which waits for a record of the
//     running transactions from the primary: the primary writes one
//     every 15 s, or at once with pg_log_standby_snapshot().
// The standby needs hot_standby_feedback = on, or the primary may remove
// catalog rows the slot still needs, and the server then invalidates
// the slot.

// checkStandby finds out whether the server is a standby and, if it is,
// refuses with one message what cannot work there.
func (s *Source) checkStandby(ctx context.Context, conn *pgx.Conn) error {
	var standby bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby); err != nil {
		return fmt.Errorf("postgres source: pg_is_in_recovery(): %w", err)
	}
	s.standby.Store(standby)
	if !standby {
		return nil
	}
	if v := serverMajor(conn.PgConn()); v < 16 {
		return sluice.Permanent(fmt.Errorf("postgres source: the server is a standby, and decoding on a standby needs PostgreSQL 16 or later; this one is %d: connect to the primary", v))
	}
	var why []string
	if s.cfg.State.Store == "table" {
		why = append(why, "state.store is table, which writes to the database: use kafka or file")
	}
	if s.cfg.Snapshot.Mode != "never" {
		why = append(why, fmt.Sprintf("snapshot.mode is %s, and snapshots write watermarks: use never", s.cfg.Snapshot.Mode))
	}
	if s.cfg.Failover {
		why = append(why, "failover is true, and a slot made on a standby cannot be a failover slot: leave it out")
	}
	if s.cfg.HeartbeatActionQuery != "" {
		why = append(why, "heartbeat_action_query is a write: leave it out (heartbeat_records still work)")
	}
	if len(why) > 0 {
		return sluice.Permanent(fmt.Errorf("postgres source: the server is a standby, which is read-only: %s", strings.Join(why, "; ")))
	}
	var feedback string
	if err := conn.QueryRow(ctx, "SHOW hot_standby_feedback").Scan(&feedback); err == nil && feedback != "on" {
		s.log.Warn("the standby runs with hot_standby_feedback off: the primary may remove catalog rows the slot needs, and the slot is then invalidated")
	}
	s.log.Info("reading a standby: the publication is managed on the primary, snapshots are off")
	return nil
}

// onStandby is the error for a change of the publication a standby
// cannot make: stmt is what to run on the primary.
func (s *Source) onStandby(what, stmt string) error {
	return sluice.Permanent(fmt.Errorf("postgres source: publication %s %s, and this server is a standby: run on the primary: %s; then start again",
		s.cfg.Publication, what, stmt))
}

// slotOnStandbyHint is logged before a slot is made on a standby, which
// can wait for the primary.
func (s *Source) slotOnStandbyHint() {
	if s.standby.Load() {
		s.log.Info("creating the slot on a standby: it waits for the primary's next record of running transactions (every 15 s; SELECT pg_log_standby_snapshot() on the primary writes one at once)",
			zap.String("slot", s.cfg.Slot))
	}
}
