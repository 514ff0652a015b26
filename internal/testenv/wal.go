package testenv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// WALFlushed returns a WAL position that a logical replication stream
// passes only after it has sent every transaction committed before the
// call, as text ("0/16B3748"). Wait for a slot's confirmed_flush_lsn to
// reach it to know that a source has seen everything written so far.
//
// The test server runs with synchronous_commit = off, so a commit returns
// before its WAL is flushed and pg_current_wal_lsn() may be behind it (the
// walsender only sends flushed WAL). So the position is taken inside a
// transaction that writes WAL and commits synchronously: its insert
// position lies past every earlier commit, and its own commit, which the
// stream must decode (as nothing, it touches only a temporary table)
// before a keepalive can report a later position, flushes all of them.
func WALFlushed(ctx context.Context, db *pgx.Conn) (string, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("flush WAL: %w", err)
	}
	defer tx.Rollback(ctx)
	// A transaction that wrote no WAL commits asynchronously whatever
	// synchronous_commit says; the temporary table's catalog rows are WAL.
	for _, q := range []string{"SET LOCAL synchronous_commit = on", "CREATE TEMPORARY TABLE sluice_wal_probe (x int) ON COMMIT DROP"} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("flush WAL: %s: %w", q, err)
		}
	}
	var lsn string
	if err := tx.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		return "", fmt.Errorf("flush WAL: read insert position: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("flush WAL: commit: %w", err)
	}
	return lsn, nil
}

// DropSlot drops the replication slot once no walsender reads it: the
// server process of a source that just stopped may take a moment to
// exit. A walsender still reading it after slotGrace is terminated. A
// slot left behind pins WAL on the server for good, so one that cannot
// be dropped fails the test. The slot's snapshot state in the source's
// default state table (public.sluice_state) goes with it, so a later test
// reusing the name starts afresh.
func DropSlot(t testing.TB, db *pgx.Conn, slot string) {
	t.Helper()
	ctx := context.Background()
	// PostgreSQL cuts a name to 63 bytes (and so does sluice's default
	// slot name); the state table's slot column is text and would not.
	if len(slot) > 63 {
		slot = slot[:63]
	}
	// After the slot is gone (its reader stopped), so no source writes
	// the state again.
	defer func() {
		if _, err := db.Exec(ctx, `DO $$BEGIN
			IF to_regclass('public.sluice_state') IS NOT NULL THEN
				DELETE FROM public.sluice_state WHERE slot = '`+strings.ReplaceAll(slot, "'", "''")+`';
			END IF; END$$`); err != nil {
			t.Errorf("delete the state of slot %s: %v", slot, err)
		}
	}()
	start := time.Now()
	for {
		var active bool
		var pid *int32
		err := db.QueryRow(ctx, "SELECT active, active_pid FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active, &pid)
		if errors.Is(err, pgx.ErrNoRows) {
			return
		}
		if err == nil && !active {
			if _, err = db.Exec(ctx, "SELECT pg_drop_replication_slot($1)", slot); err == nil {
				return
			}
		}
		if err == nil && active && pid != nil && time.Since(start) > slotGrace {
			db.Exec(ctx, "SELECT pg_terminate_backend($1)", *pid)
		}
		if time.Since(start) > 2*slotGrace {
			t.Errorf("replication slot %s not dropped (active %v): %v", slot, active, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// slotGrace is how long DropSlot waits for a slot's reader to go away.
const slotGrace = 10 * time.Second

// SlotStreaming reports whether a source reads the replication slot and
// its creation has finished: while CREATE_REPLICATION_SLOT still waits for
// running transactions the slot shows active already, but its
// confirmed_flush_lsn is null and rows committed then precede its start.
// A missing slot is false without an error.
func SlotStreaming(ctx context.Context, db *pgx.Conn, slot string) (bool, error) {
	var ok bool
	err := db.QueryRow(ctx, "SELECT active AND confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return ok, err
}
