package testenv

import (
	"context"
	"fmt"

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
