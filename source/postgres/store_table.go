package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// tableStore keeps the state in a table of the source database
// (state.table, default public.sluice_state), one row per slot: the
// database that holds the slot holds its state, so neither can be lost
// without the other (a restore brings back both, or neither).
//
// The table is created when missing. Its rows are sluice's own: the
// stream drops them (a FOR ALL TABLES publication carries them), and no
// snapshot may read the table. A role that may not create it gets the
// statements to run instead (tableStoreDDL); a role that may not write it,
// the GRANT.
//
// Writes are upserts on the store's own connection, with
// synchronous_commit on whatever the server's default: a state confirmed
// saved must survive a crash of the server as the slot's position does.
type tableStore struct {
	src   *Source
	table string // schema.table, quoted
	name  string // schema.table as configured, for messages
	slot  string

	mu     sync.Mutex
	conn   *pgx.Conn // nil until the first use and after a failure
	closed bool      // close was called: no new connection
}

// tableStoreDDL creates the state table t (quoted schema.table).
func tableStoreDDL(t string) string {
	return "CREATE TABLE IF NOT EXISTS " + t + " (slot text PRIMARY KEY, pipeline text NOT NULL, state jsonb NOT NULL, " +
		"updated_at timestamptz NOT NULL DEFAULT now())"
}

// openTableStore connects, creates the table when missing and checks that
// the role may read and write it.
func (s *Source) openTableStore(ctx context.Context) (*tableStore, error) {
	schema, name, _ := splitTable(s.cfg.State.Table)
	ts := &tableStore{src: s, table: pgx.Identifier{schema, name}.Sanitize(), name: tableName(schema, name), slot: s.cfg.Slot}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	conn, err := ts.connLocked(ctx)
	if err != nil {
		return nil, err
	}
	if err := ts.ensure(ctx, conn); err != nil {
		ts.dropLocked()
		return nil, err
	}
	return ts, nil
}

func (ts *tableStore) String() string {
	return fmt.Sprintf("table %s (row of slot %s)", ts.name, ts.slot)
}

// ensure creates the table when missing and checks the role's privileges
// on it. CREATE TABLE IF NOT EXISTS needs CREATE on the schema even when
// the table exists, so existence is looked up first.
func (ts *tableStore) ensure(ctx context.Context, conn *pgx.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", ts.table).Scan(&exists); err != nil {
		return fmt.Errorf("postgres source: look up state table %s: %w", ts.name, err)
	}
	user := ts.src.connCf.User
	if !exists {
		_, err := conn.Exec(ctx, tableStoreDDL(ts.table))
		if err != nil {
			// Another source may have created it meanwhile: concurrent
			// CREATE TABLE IF NOT EXISTS statements fail in several ways
			// (42P07, 42710, 23505 on the catalog).
			if qerr := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", ts.table).Scan(&exists); qerr == nil && exists {
				err = nil
			}
		}
		var pe *pgconn.PgError
		switch {
		case exists:
		case err == nil:
			ts.src.log.Info("created the snapshot state table", zap.String("table", ts.name))
			conn.Exec(ctx, "COMMENT ON TABLE "+ts.table+" IS 'sluice: snapshot state, one row per replication slot (state.store table)'")
		case errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "3F000" || pe.Code == "25006"):
			return sluice.Permanent(fmt.Errorf("postgres source: state.store table: cannot create %s: %s (SQLSTATE %s). "+
				"Create it as a role that may: %s; GRANT SELECT, INSERT, UPDATE ON %s TO %s; "+
				"or set state.table to a schema.table role %s may create, or state.store to kafka (or file, with a persistent state_dir)",
				ts.name, pe.Message, pe.Code, tableStoreDDL(ts.table), ts.table, pgx.Identifier{user}.Sanitize(), user))
		default:
			return fmt.Errorf("postgres source: create state table %s: %w", ts.name, err)
		}
	}
	var read, insert, update bool
	err := conn.QueryRow(ctx, "SELECT has_table_privilege($1, 'SELECT'), has_table_privilege($1, 'INSERT'), has_table_privilege($1, 'UPDATE')",
		ts.table).Scan(&read, &insert, &update)
	if err != nil {
		return fmt.Errorf("postgres source: check privileges on state table %s: %w", ts.name, err)
	}
	if !read || !insert || !update {
		return sluice.Permanent(fmt.Errorf("postgres source: state.store table: role %q may not read and write %s: run GRANT SELECT, INSERT, UPDATE ON %s TO %s",
			user, ts.name, ts.table, pgx.Identifier{user}.Sanitize()))
	}
	return nil
}

// connLocked returns the store's connection, opening it when needed.
func (ts *tableStore) connLocked(ctx context.Context) (*pgx.Conn, error) {
	if ts.closed {
		return nil, errors.New("store closed")
	}
	if ts.conn != nil && !ts.conn.IsClosed() {
		return ts.conn, nil
	}
	conn, err := ts.src.connect(ctx, false)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SET synchronous_commit = on"); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("postgres source: state table connection: %w", err)
	}
	ts.conn = conn
	return conn, nil
}

// dropLocked closes the connection after a failure; the next use opens a
// new one.
func (ts *tableStore) dropLocked() {
	if ts.conn != nil {
		ts.conn.Close(context.Background())
		ts.conn = nil
	}
}

func (ts *tableStore) load(ctx context.Context) (*state, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	conn, err := ts.connLocked(ctx)
	if err != nil {
		return nil, err
	}
	var b []byte
	err = conn.QueryRow(ctx, "SELECT state::text FROM "+ts.table+" WHERE slot = $1", ts.slot).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		ts.dropLocked()
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		// A retry reads the same row.
		return nil, sluice.Permanent(fmt.Errorf("the row is corrupt (run DELETE FROM %s WHERE slot = '%s' and restart: the start then says how to go on): %w",
			ts.table, ts.slot, err))
	}
	return &st, nil
}

func (ts *tableStore) save(ctx context.Context, st *state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	conn, err := ts.connLocked(ctx)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "INSERT INTO "+ts.table+" (slot, pipeline, state, updated_at) VALUES ($1, $2, $3::text::jsonb, now()) "+
		"ON CONFLICT (slot) DO UPDATE SET pipeline = EXCLUDED.pipeline, state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
		ts.slot, ts.src.pipeline, string(b))
	if err != nil {
		ts.dropLocked()
		return err
	}
	return nil
}

func (ts *tableStore) close() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.dropLocked()
	ts.closed = true
}
