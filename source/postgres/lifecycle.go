package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/source"
)

// Retiring a pipeline (source.Retirer). What a PostgreSQL pipeline owns:
//
//   - its replication slot, which pins WAL until dropped. Drop refuses
//     while the slot is active: a daemon (or another client) reads it and
//     would fail, or create it again. Stop the daemon first.
//   - its publication, when sluice named it: the default name
//     sluice_<pipeline>. A publication source.publication names may be
//     shared with other pipelines or managed by a DBA, so it is kept
//     unless DropOptions.Publication (`sluice drop --drop-publication`).
//   - the rows of its signal table (the table itself stays): a signal
//     table is one pipeline's, as Debezium's is one connector's. Signals
//     reach a pipeline through its slot, so deleting the rows withdraws
//     nothing another pipeline sharing the table has not received: they
//     are a log of requests.
//   - its snapshot state: the state table's row of its slot, or its
//     record (a tombstone) in the Kafka state topic, and the local file
//     <state_dir>/<pipeline>.postgres.json (the file store, or the cache
//     beside the others). Drop never creates the state table or topic.

var _ source.Retirer = (*Source)(nil)

// ownedQuery lists the server's pgoutput slots sluice owns: named
// sluice_… or named by the configuration ($1). The WAL a slot retains
// is measured from its restart_lsn, as retentionQuery does.
const ownedQuery = `SELECT slot_name, COALESCE(database, ''), active, COALESCE(active_pid, 0), COALESCE(wal_status, ''),
	COALESCE((cur - restart_lsn)::bigint, -1)
  FROM pg_replication_slots,
       LATERAL (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END AS cur) c
 WHERE slot_type = 'logical' AND plugin = 'pgoutput' AND (starts_with(slot_name, 'sluice_') OR slot_name = ANY($1))
 ORDER BY slot_name`

// Owner implements source.Retirer.
func (s *Source) Owner() source.Owner {
	return source.Owner{Kind: source.KindSlot, Server: s.server(), Name: s.cfg.Slot, PerServer: true}
}

// server is the source's host:port: replication slots belong to the
// cluster, whichever database a connection names.
func (s *Source) server() string {
	return net.JoinHostPort(s.connCf.Host, strconv.Itoa(int(s.connCf.Port)))
}

// Owned implements source.Retirer: every sluice-owned slot of the
// server, names being the slots the configuration names on it.
func (s *Source) Owned(ctx context.Context, names []string) ([]source.OwnedSlot, error) {
	conn, err := s.connect(ctx, false)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if names == nil {
		names = []string{}
	}
	rows, err := conn.Query(ctx, ownedQuery, names)
	if err != nil {
		return nil, fmt.Errorf("postgres source: list replication slots on %s: %w", s.server(), err)
	}
	var out []source.OwnedSlot
	for rows.Next() {
		o := source.OwnedSlot{Kind: source.KindSlot, Server: s.server()}
		var active bool
		var status string
		if err := rows.Scan(&o.Name, &o.Database, &active, &o.ActivePID, &status, &o.RetainedBytes); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres source: list replication slots on %s: %w", s.server(), err)
		}
		o.Active = &active
		if status == "lost" {
			o.Note = "invalidated (wal_status lost): the changes it had not delivered are gone"
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres source: list replication slots on %s: %w", s.server(), err)
	}
	return out, nil
}

// Drop implements source.Retirer: the slot first, so that a slot a
// process took meanwhile still stops Drop before anything was removed.
func (s *Source) Drop(ctx context.Context, opts source.DropOptions) (source.DropReport, error) {
	var rep source.DropReport
	conn, err := s.connect(ctx, false)
	if err != nil {
		return rep, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	if err := s.dropSlot(ctx, conn, &rep, opts.DryRun); err != nil {
		return rep, err
	}
	if err := s.dropPublication(ctx, conn, &rep, opts); err != nil {
		return rep, err
	}
	if err := s.dropSignalRows(ctx, conn, &rep, opts.DryRun); err != nil {
		return rep, err
	}
	if err := s.dropState(ctx, conn, &rep, opts.DryRun); err != nil {
		return rep, err
	}
	if err := source.RemoveFile(&rep, "snapshot state file", s.stateFile(), opts.DryRun); err != nil {
		return rep, fmt.Errorf("postgres source: %w", err)
	}
	return rep, nil
}

// slotInUse is Drop's refusal of an active slot.
func (s *Source) slotInUse(pid int32) error {
	who := "a process"
	if pid != 0 {
		who = fmt.Sprintf("server process %d", pid)
	}
	return fmt.Errorf("postgres source: replication slot %s is active (read by %s): a running sluice (or another client) uses it; "+
		"stop the daemon running pipeline %s first, then drop again; nothing was removed: %w", s.cfg.Slot, who, s.pipeline, source.ErrInUse)
}

func (s *Source) dropSlot(ctx context.Context, conn *pgx.Conn, rep *source.DropReport, dryRun bool) error {
	var active bool
	var pid int32
	err := conn.QueryRow(ctx, "SELECT active, COALESCE(active_pid, 0) FROM pg_replication_slots WHERE slot_name = $1", s.cfg.Slot).Scan(&active, &pid)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("postgres source: read replication slot %s: %w", s.cfg.Slot, err)
	case active:
		return s.slotInUse(pid)
	}
	if !dryRun {
		if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", s.cfg.Slot); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "55006" { // object_in_use: taken since the check
				return s.slotInUse(0)
			}
			if !errors.As(err, &pe) || pe.Code != "42704" { // undefined_object: dropped since the check
				return fmt.Errorf("postgres source: drop replication slot %s: %w", s.cfg.Slot, err)
			}
		}
	}
	rep.Removed = append(rep.Removed, source.DropItem{Kind: "replication slot", Name: s.cfg.Slot + " on " + s.server()})
	return nil
}

func (s *Source) dropPublication(ctx context.Context, conn *pgx.Conn, rep *source.DropReport, opts source.DropOptions) error {
	pub := s.cfg.Publication
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", pub).Scan(&exists); err != nil {
		return fmt.Errorf("postgres source: read publication %s: %w", pub, err)
	}
	if !exists {
		return nil
	}
	item := source.DropItem{Kind: "publication", Name: pub + " in database " + s.connCf.Database}
	if pub != defaultName(s.pipeline) && !opts.Publication {
		item.Note = "named by source.publication, so it may be shared or managed outside sluice: drop it with --drop-publication or DROP PUBLICATION " +
			pgx.Identifier{pub}.Sanitize()
		rep.Kept = append(rep.Kept, item)
		return nil
	}
	if !opts.DryRun {
		if _, err := conn.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pgx.Identifier{pub}.Sanitize()); err != nil {
			return fmt.Errorf("postgres source: drop publication %s: %w", pub, err)
		}
	}
	rep.Removed = append(rep.Removed, item)
	return nil
}

// tableRows counts the rows of a table (quoted schema.table) and, unless
// dryRun, deletes those matching where ($1 the argument). A missing table
// has none.
func tableRows(ctx context.Context, conn *pgx.Conn, table, where string, arg any, dryRun bool) (int64, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	args := []any{}
	if arg != nil {
		args = append(args, arg)
	}
	if dryRun {
		var n int64
		err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE "+where, args...).Scan(&n)
		return n, err
	}
	tag, err := conn.Exec(ctx, "DELETE FROM "+table+" WHERE "+where, args...)
	return tag.RowsAffected(), err
}

func (s *Source) dropSignalRows(ctx context.Context, conn *pgx.Conn, rep *source.DropReport, dryRun bool) error {
	if s.cfg.SignalTable == "" {
		return nil
	}
	schema, name, _ := splitTable(s.cfg.SignalTable)
	n, err := tableRows(ctx, conn, pgx.Identifier{schema, name}.Sanitize(), "true", nil, dryRun)
	if err != nil {
		return fmt.Errorf("postgres source: delete the rows of signal table %s: %w", s.cfg.SignalTable, err)
	}
	if n > 0 {
		rep.Removed = append(rep.Removed, source.DropItem{Kind: "signal table rows", Name: tableName(schema, name),
			Note: fmt.Sprintf("%d row(s); the table stays", n)})
	}
	return nil
}

func (s *Source) dropState(ctx context.Context, conn *pgx.Conn, rep *source.DropReport, dryRun bool) error {
	switch s.cfg.State.Store {
	case storeKafka:
		kc, err := kafkaconn.Opts(s.cfg.State.TLS, s.cfg.State.SASL)
		if err != nil {
			return fmt.Errorf("postgres source: state.%w", err)
		}
		if err := source.KafkaKeyTombstone(ctx, rep, "snapshot state", s.cfg.State.Brokers, kc, s.cfg.State.Topic, []byte(s.pipeline), dryRun); err != nil {
			return fmt.Errorf("postgres source: snapshot state: %w", err)
		}
	case storeTable:
		schema, name, _ := splitTable(s.cfg.State.Table)
		n, err := tableRows(ctx, conn, pgx.Identifier{schema, name}.Sanitize(), "slot = $1", s.cfg.Slot, dryRun)
		if err != nil {
			return fmt.Errorf("postgres source: delete the snapshot state of slot %s from %s: %w", s.cfg.Slot, tableName(schema, name), err)
		}
		if n > 0 {
			rep.Removed = append(rep.Removed, source.DropItem{Kind: "snapshot state", Name: fmt.Sprintf("row of slot %s in %s", s.cfg.Slot, tableName(schema, name))})
		}
	}
	return nil
}
