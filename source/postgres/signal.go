package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
)

// The signal table follows Debezium's signalling: an operator inserts a
// row whose type is one of the signal types (execute-snapshot,
// stop-snapshot, pause-snapshot, resume-snapshot, log) and whose data is
// that type's JSON, and the source, seeing the insert in the stream, acts
// on it (signal_apply.go). Because the request travels through the WAL it
// is handled in order with the changes around it, by whichever sluice
// reads the slot.
//
//	CREATE TABLE public.sluice_signal (id text PRIMARY KEY, type text NOT NULL, data text);
//	INSERT INTO public.sluice_signal VALUES ('ad-hoc-1', 'execute-snapshot',
//	  '{"data-collections": ["public.orders"], "type": "incremental",
//	    "additional-conditions": [{"data-collection": "public.orders", "filter": "id > 1000"}]}');
//	INSERT INTO public.sluice_signal VALUES ('pause-1', 'pause-snapshot', NULL);

func (s *Source) isSignalTable(t string) bool {
	return s.cfg.SignalTable != "" && sameTable(s.cfg.SignalTable, t)
}

// isStateTable reports whether t is the table of the table state store
// (state.table), whatever the store in use: another source may keep its
// state there, and a FOR ALL TABLES publication carries its rows.
func (s *Source) isStateTable(t string) bool {
	return s.cfg.State.Table != "" && sameTable(s.cfg.State.Table, t)
}

// ensureSignalTable creates the signal table when it is configured and
// missing.
func (s *Source) ensureSignalTable(ctx context.Context, conn *pgx.Conn) error {
	if s.cfg.SignalTable == "" {
		return nil
	}
	schema, name, _ := splitTable(s.cfg.SignalTable)
	stmt := "CREATE TABLE IF NOT EXISTS " + pgx.Identifier{schema, name}.Sanitize() + " (id text PRIMARY KEY, type text NOT NULL, data text)"
	if s.standby.Load() {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{schema, name}.Sanitize()).Scan(&exists); err != nil {
			return fmt.Errorf("postgres source: look up signal table %s: %w", s.cfg.SignalTable, err)
		}
		if !exists {
			return sluice.Permanent(fmt.Errorf("postgres source: signal table %s does not exist, and this server is a standby: run on the primary: %s; then start again", s.cfg.SignalTable, stmt))
		}
		return nil
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("postgres source: create signal table %s: %w", s.cfg.SignalTable, err)
	}
	return nil
}

// checkCaptured refuses a table (schema.table) the source does not
// capture: one source.tables does not list or, without a list, one the
// publication does not hold, and the signal table. Snapshot requests may
// name only captured tables: a signal would otherwise read any relation
// sluice's role can (pg_catalog.pg_authid) into the sinks. Without a
// list the publication is asked through q; q nil skips that part.
func (s *Source) checkCaptured(ctx context.Context, q querier, table string) error {
	if s.isSignalTable(table) {
		return fmt.Errorf("postgres source: %s is the signal table: its rows are requests, not data", table)
	}
	if s.isStateTable(table) {
		return fmt.Errorf("postgres source: %s is the snapshot state table (state.table): its rows are sluice's own, not data", table)
	}
	if len(s.cfg.Tables) > 0 {
		if s.captures(table) { // a listed name or a matching pattern
			return nil
		}
		return fmt.Errorf("postgres source: %s is not captured: source.tables lists %s", table, strings.Join(s.cfg.Tables, ", "))
	}
	if q == nil {
		return nil
	}
	schema, name, _ := splitTable(table)
	var member bool
	err := q.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3)",
		s.cfg.Publication, schema, name).Scan(&member)
	if err != nil {
		return fmt.Errorf("postgres source: read publication %s: %w", s.cfg.Publication, err)
	}
	if !member {
		return fmt.Errorf("postgres source: %s is not captured: publication %s does not hold it", table, s.cfg.Publication)
	}
	return nil
}

// checkRequest checks a snapshot request at the time it is made, so that
// a typo fails the request instead of the snapshot: table is a captured
// schema.table, and filter parses in the filter grammar (filter.go). With
// a connection q it also checks that the table exists, that the filter's
// columns are the table's, and that PostgreSQL accepts the chunk query
// with the filter's literals (a literal that is no value of its column's
// type is refused here). It returns the table as schema.table. A
// refusal satisfies jobFailure; any other error (a lost connection) says
// nothing about the request.
func (s *Source) checkRequest(ctx context.Context, q querier, table, filter string) (string, error) {
	schema, name, ok := splitTable(table)
	if !ok {
		return "", &jobError{fmt.Errorf("postgres source: %q is not schema.table", table)}
	}
	full := tableName(schema, name)
	if err := s.checkCaptured(ctx, q, full); err != nil {
		if errors.Unwrap(err) == nil { // a refusal; a failed query wraps the driver's error
			err = &jobError{err}
		}
		return full, err
	}
	flt, err := parseFilter(filter)
	if err != nil {
		return full, fmt.Errorf("postgres source: snapshot of %s: %w", full, err)
	}
	if q == nil {
		return full, nil
	}
	rel, err := s.describeTable(ctx, q, schema, name)
	if err != nil {
		return full, err
	}
	if err := flt.bind(rel.table); err != nil {
		return full, fmt.Errorf("postgres source: snapshot of %s: %w", full, err)
	}
	// The chunk query itself, with no rows wanted: the keyset comparison
	// and the filter must resolve, and the literals must be values.
	keys := max(len(rel.table.Key), 1)
	sql, args := chunkQuery(rel.table, flt, make([]*string, keys), 0)
	rows, err := q.Query(ctx, sql, args...)
	if err == nil {
		rows.Close()
		err = rows.Err()
	}
	if err != nil {
		return full, fmt.Errorf("postgres source: snapshot of %s where %q: %w", full, filter, err)
	}
	return full, nil
}

// signalCheckTimeout bounds the catalog queries that check a signal.
const signalCheckTimeout = 30 * time.Second

// handleSignal reads a signal row inserted into the signal table and acts
// on it as Signal does (apply, signal_apply.go), except that the tables
// of an execute-snapshot are checked one by one: a refused one is logged
// and reported as a failed snapshot, the others are queued. The checks
// run on the stream's catalog connection. A refused signal never fails
// the stream; an error that is no refusal (the state cannot be saved, the
// catalog connection is lost) does, and the restarted stream reads the
// signal again.
func (st *stream) handleSignal(rel *relation, row sluice.Row) error {
	t := rel.table
	get := func(col string) string {
		i := t.Index(col)
		if i < 0 || i >= len(row) || row[i].Kind != sluice.KindPresent {
			return ""
		}
		return string(row[i].Bytes)
	}
	sig := sluice.Signal{ID: get("id"), Type: get("type"), Data: get("data")}
	if st.snap == nil {
		return nil
	}
	// Without a catalog connection (unit tests) the worker checks what
	// needs the database before reading.
	var q querier
	if st.conn != nil {
		q = st.conn
	}
	ctx, cancel := context.WithTimeout(context.Background(), signalCheckTimeout)
	defer cancel()
	err := st.snap.apply(ctx, q, sig, true)
	if err != nil && !errors.Is(err, sluice.ErrRefused) {
		return err
	}
	st.src.signals.Count(sluice.ChannelSource, sig.Type, err)
	return nil
}
