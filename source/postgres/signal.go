package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// The signal table follows Debezium's signalling: an operator inserts a
// row of type "execute-snapshot" whose data names the tables to re-read,
// and the source, seeing the insert in the stream, starts an incremental
// snapshot. Because the request travels through the WAL it is handled in
// order with the changes around it, by whichever sluice reads the slot.
//
//	CREATE TABLE public.sluice_signal (id text PRIMARY KEY, type text NOT NULL, data text);
//	INSERT INTO public.sluice_signal VALUES ('ad-hoc-1', 'execute-snapshot',
//	  '{"data-collections": ["public.orders"], "type": "incremental",
//	    "additional-conditions": [{"data-collection": "public.orders", "filter": "id > 1000"}]}');

var _ sluice.Signaler = (*Source)(nil)

// signalData is the JSON in a signal row's data column.
type signalData struct {
	DataCollections      []string `json:"data-collections"`
	Type                 string   `json:"type"`
	AdditionalConditions []struct {
		DataCollection string `json:"data-collection"`
		Filter         string `json:"filter"`
	} `json:"additional-conditions"`
	// AdditionalCondition is Debezium 1.x's single filter for all tables.
	AdditionalCondition string `json:"additional-condition"`
}

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
		for _, t := range s.cfg.Tables {
			if schema, name, _ := splitTable(t); tableName(schema, name) == table {
				return nil
			}
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
// type is refused here). It returns the table as schema.table.
func (s *Source) checkRequest(ctx context.Context, q querier, table, filter string) (string, error) {
	schema, name, ok := splitTable(table)
	if !ok {
		return "", fmt.Errorf("postgres source: %q is not schema.table", table)
	}
	full := tableName(schema, name)
	if err := s.checkCaptured(ctx, q, full); err != nil {
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

// SignalSnapshot implements sluice.Signaler by inserting a signal row,
// once every table passed checkRequest.
func (s *Source) SignalSnapshot(ctx context.Context, tables []string, filter string) error {
	if s.cfg.SignalTable == "" {
		return fmt.Errorf("postgres source: no signal_table configured: set source.signal_table to request snapshots")
	}
	if len(tables) == 0 {
		return fmt.Errorf("postgres source: name at least one table to snapshot")
	}
	conn, err := s.connect(ctx, false)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var d signalData
	d.Type = "incremental"
	var errs []error
	for _, t := range tables {
		full, err := s.checkRequest(ctx, conn, t, filter)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.DataCollections = append(d.DataCollections, full)
		if filter != "" {
			d.AdditionalConditions = append(d.AdditionalConditions, struct {
				DataCollection string `json:"data-collection"`
				Filter         string `json:"filter"`
			}{full, filter})
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("snapshot request refused, nothing requested: %w", errors.Join(errs...))
	}
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	schema, name, _ := splitTable(s.cfg.SignalTable)
	_, err = conn.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, name}.Sanitize()+" (id, type, data) VALUES ($1, 'execute-snapshot', $2)",
		"sluice-"+newID(), string(data))
	if err != nil {
		return fmt.Errorf("postgres source: write signal to %s: %w", s.cfg.SignalTable, err)
	}
	return nil
}

// signalCheckTimeout bounds the catalog queries that check a signal.
const signalCheckTimeout = 30 * time.Second

// handleSignal reads a signal row inserted into the signal table. Each
// table it names is checked as `sluice snapshot` checks it (checkRequest,
// on the stream's catalog connection); a refused one is logged and
// reported as a failed snapshot, the others are queued. A signal never
// fails the stream.
func (st *stream) handleSignal(rel *relation, row sluice.Row) error {
	t := rel.table
	get := func(col string) string {
		i := t.Index(col)
		if i < 0 || i >= len(row) || row[i].Kind != sluice.KindPresent {
			return ""
		}
		return string(row[i].Bytes)
	}
	typ := get("type")
	if typ != "execute-snapshot" {
		st.log.Warn("ignoring signal of unknown type", zap.String("type", typ), zap.String("id", get("id")))
		return nil
	}
	var d signalData
	if err := json.Unmarshal([]byte(get("data")), &d); err != nil {
		st.log.Warn("ignoring signal with unreadable data", zap.String("id", get("id")), zap.Error(err))
		return nil
	}
	if st.snap == nil {
		return nil
	}
	filters := map[string]string{}
	for _, c := range d.AdditionalConditions {
		if schema, name, ok := splitTable(c.DataCollection); ok {
			filters[tableName(schema, name)] = c.Filter
		}
	}
	// The stream's catalog connection checks what needs the database;
	// without one (unit tests) the worker checks it before reading.
	var q querier
	if st.conn != nil {
		q = st.conn
	}
	ctx, cancel := context.WithTimeout(context.Background(), signalCheckTimeout)
	defer cancel()
	var jobs []*snapshotJob
	for _, dc := range d.DataCollections {
		f := d.AdditionalCondition
		if schema, name, ok := splitTable(dc); ok && filters[tableName(schema, name)] != "" {
			f = filters[tableName(schema, name)]
		}
		full, err := st.src.checkRequest(ctx, q, dc, f)
		if err != nil {
			if full == "" {
				full = dc
			}
			if err := st.snap.refuse(full, err); err != nil {
				return err
			}
			continue
		}
		jobs = append(jobs, &snapshotJob{Table: full, Filter: f, Incremental: true})
	}
	if len(jobs) == 0 {
		return nil
	}
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = j.Table
	}
	st.log.Info("incremental snapshot requested", zap.String("id", get("id")), zap.String("tables", strings.Join(names, ",")))
	return st.snap.add(jobs...)
}
