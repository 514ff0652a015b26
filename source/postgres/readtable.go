package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
)

// ReadTable serves transforms that keep state built from a table (the
// join's lookup table): they fill it from the table's current rows when
// it is empty, then follow the stream. That only works if a row read here
// and the same row decoded from the WAL are the same values, so ReadTable
// reads exactly as a snapshot chunk does: the table described from the
// catalog by describeTable (the key and column types the stream's events
// carry), the chunk query (chunkQuery), values asked for in their text
// form and decoded by decodeText (readRows). What differs from a
// snapshot is the consistency: there are no watermarks (nothing is
// emitted into the stream), and all chunks are read in one REPEATABLE
// READ transaction, so the caller sees the table as of one moment. Its
// state then follows from the stream; rows changed after that moment
// arrive again as changes, which a keyed state absorbs.

var _ sluice.TableReader = (*Source)(nil)

// ReadTable implements sluice.TableReader. table is "schema.table" (a
// bare name is in schema public). It opens a connection of its own, with
// the source's connection settings (TLS, credentials and the session
// settings the decoder relies on), so it needs nothing Run sets up and
// does not disturb the stream: it may run before Run and beside it.
//
// Rows come in chunks of snapshot.chunk_size in key order, by keyset
// pagination inside the one transaction, so only one chunk is held at a
// time. A table without a key is read the same way in ctid order: inside
// one snapshot a row version keeps its ctid (VACUUM cannot remove a
// version the snapshot still sees, and newer versions are invisible to
// it), so the pages of ctids neither skip nor repeat a row. Its order is
// physical, not a key's.
//
// A table the source does not capture is refused as a snapshot request
// is (checkCaptured), with a permanent error: reading it again would not
// help. An error of fn ends the read and is returned as it is.
func (s *Source) ReadTable(ctx context.Context, table string, fn func(t *sluice.Table, row sluice.Row) error) error {
	schema, name, ok := splitTable(table)
	if !ok {
		return sluice.Permanent(fmt.Errorf("postgres source: read table %q: not schema.table", table))
	}
	full := tableName(schema, name)
	conn, err := s.connect(ctx, false)
	if err != nil {
		return readTableErr(ctx, full, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return readTableErr(ctx, full, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The table is described inside the transaction, whose first
	// statement takes the snapshot the chunks are read in.
	if err := s.checkReadable(ctx, tx, schema, name); err != nil {
		return readTableErr(ctx, full, err)
	}
	rel, err := s.describeTable(ctx, tx, schema, name)
	if err != nil {
		return readTableErr(ctx, full, err)
	}
	t := rel.table
	if err := fn(t, nil); err != nil { // the description, also of an empty table
		return err
	}
	size := s.cfg.Snapshot.ChunkSize
	var last []*string // nil: from the start
	for {
		rows, next, final, err := readRows(ctx, tx, t, nil, last, size)
		if err != nil {
			return readTableErr(ctx, full, err)
		}
		for _, row := range rows {
			// A chunk in memory is not worth finishing once ctx is done.
			if err := ctx.Err(); err != nil {
				return readTableErr(ctx, full, err)
			}
			if err := fn(t, row); err != nil {
				return err
			}
		}
		if final {
			break
		}
		last = next
	}
	if err := tx.Commit(ctx); err != nil {
		return readTableErr(ctx, full, err)
	}
	return nil
}

// checkReadable refuses a table the source does not capture: the rules
// of checkCaptured, asked in q. One case differs. Without source.tables
// the publication decides, but before the source first ran it may not
// exist yet, and the pipeline reads tables before Run; the publication
// Run will create is then FOR ALL TABLES, so the table is captured if
// such a publication would hold it.
func (s *Source) checkReadable(ctx context.Context, q querier, schema, name string) error {
	table := tableName(schema, name)
	if len(s.cfg.Tables) > 0 {
		return captureRefusal(s.checkCaptured(ctx, q, table))
	}
	var exists bool
	err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", s.cfg.Publication).Scan(&exists)
	if err != nil {
		return fmt.Errorf("postgres source: read publication %s: %w", s.cfg.Publication, err)
	}
	if exists {
		return captureRefusal(s.checkCaptured(ctx, q, table))
	}
	if err := s.checkCaptured(ctx, nil, table); err != nil { // the signal and the state table
		return captureRefusal(err)
	}
	// What PostgreSQL publishes FOR ALL TABLES (is_publishable_class,
	// without publish_via_partition_root): permanent ordinary user tables;
	// a partitioned table's rows are published as its partitions'.
	var publishable bool
	err = q.QueryRow(ctx, `SELECT c.relkind = 'r' AND c.relpersistence = 'p' AND c.oid >= 16384
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&publishable)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // describeTable reports the missing table
	}
	if err != nil {
		return fmt.Errorf("postgres source: look up %s: %w", table, err)
	}
	if !publishable {
		return captureRefusal(fmt.Errorf("postgres source: %s is not captured: publication %s, created FOR ALL TABLES when the source first runs, would not hold it "+
			"(only permanent ordinary tables are published; a partitioned table's rows are its partitions')", table, s.cfg.Publication))
	}
	return nil
}

// captureRefusal makes checkCaptured's refusal permanent: asking again
// would not help. Its one other error, a failed query of the publication,
// wraps the driver's and stays retryable; the refusals wrap nothing.
func captureRefusal(err error) error {
	if err == nil || errors.Unwrap(err) != nil {
		return err
	}
	return sluice.Permanent(err)
}

// readTableError prefixes an error of ReadTable with the table, once:
// the errors of the helpers it shares with snapshots already name the
// source.
type readTableError struct {
	table string
	err   error
}

func (e *readTableError) Error() string {
	return "postgres source: read table " + e.table + ": " + strings.TrimPrefix(e.err.Error(), "postgres source: ")
}

func (e *readTableError) Unwrap() error { return e.err }

// readTableErr wraps err; once ctx is done, the read failed because of
// it, whatever the driver made of the interruption, so ctx's error is
// returned (errors.Is(err, context.Canceled) holds).
func readTableErr(ctx context.Context, table string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w (%v)", cerr, err)
	}
	return &readTableError{table: table, err: err}
}
