package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// The captured tables follow source.tables from one start to the next.
// At every start, before the stream starts:
//
//  1. The list is expanded against the catalog (expandTables): exact
//     names as written, patterns to the tables they match now.
//  2. The tables that joined since the last start (captured now, not in
//     the state's record of the last start's tables) get an incremental
//     snapshot job, and the unfinished jobs of tables no longer captured
//     are dropped; the state is saved with the new record (planTables).
//  3. The publication, when sluice manages it (FOR TABLE), is made to
//     hold exactly those tables and the signal table, in one
//     transaction (syncPublication).
//
// Saving the jobs before altering the publication is what makes the
// start crash-safe: a crash after the save finds the jobs in the state at
// the next start, and the publication is altered then; a crash before it
// finds the old record and decides again. Comparing with the record
// rather than with the publication also covers a publication sluice does
// not manage (FOR ALL TABLES, FOR TABLES IN SCHEMA): it already carries
// every table, the list filters the stream instead (uncaptured), and a
// table that joins the list still has rows no event carried.
//
// A table that leaves is dropped from the publication, and the stream
// drops its changes still in the WAL before that (uncaptured).
//
// A table that joins is added to the publication at this start, so its
// changes committed from then on reach the stream; what it held before
// (and any change between the slot's position and the ALTER, which the
// walsender decodes with the publication as it was then) is read by the
// incremental snapshot, whose chunks read the current rows. The stream of
// every other table goes on from the slot's position, with no gap and no
// new snapshot.

// tableHooks let tests stop a start between its steps; nil in
// production.
type tableHooks struct {
	afterPlan func() error // the state is saved, the publication not yet altered
	afterSync func() error // the publication is altered, the stream not yet started
}

// publication is what a start knows about its publication.
type publication struct {
	created bool // by this start, holding the captured tables
	// managed: a FOR TABLE publication, whose tables sluice keeps equal
	// to the captured ones (plus the signal table). FOR ALL TABLES and
	// FOR TABLES IN SCHEMA publications are left as they are.
	managed bool
	owner   string   // the role owning it
	owned   bool     // the current role may alter it
	role    string   // the current role
	members []string // its tables (managed only), spelled as names.go spells them
}

// expandTables lists the captured tables of a source.tables list, in the
// list's order (a pattern's matches sorted by schema and name), without
// duplicates; nil for `tables: all`. A pattern that matches nothing is
// logged, not an error: its tables may be created later.
func (s *Source) expandTables(ctx context.Context, q querier) ([]string, error) {
	if len(s.cfg.Tables) == 0 {
		return nil, nil
	}
	entries := parseEntries(s.cfg.Tables)
	var cands [][2]string // schema, name
	if slices.ContainsFunc(entries, tableEntry.pattern) {
		var err error
		if cands, err = patternCandidates(ctx, q); err != nil {
			return nil, err
		}
	}
	out := []string{}
	seen := map[string]bool{}
	add := func(t string) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for i, e := range entries {
		if !e.pattern() {
			add(tableName(e.schema, e.name))
			continue
		}
		n := 0
		for _, c := range cands {
			if t := tableName(c[0], c[1]); e.matches(c[0], c[1]) && !s.isSignalTable(t) && !s.isStateTable(t) {
				add(t)
				n++
			}
		}
		if n == 0 {
			s.log.Warn("a pattern of source.tables matches no table", zap.String("pattern", s.cfg.Tables[i]))
		}
	}
	return out, nil
}

// patternCandidates lists the tables a pattern may match: ordinary and
// partitioned tables, not partitions, permanent, outside the system
// schemas, that the role may read; sorted by schema and name.
func patternCandidates(ctx context.Context, q querier) ([][2]string, error) {
	rows, err := q.Query(ctx, `SELECT n.nspname::text, c.relname::text
		  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence = 'p'
		   AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
		   AND has_table_privilege(c.oid, 'SELECT')`)
	if err != nil {
		return nil, fmt.Errorf("postgres source: list the tables source.tables patterns may match: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var c [2]string
		if err := rows.Scan(&c[0], &c[1]); err != nil {
			return nil, fmt.Errorf("postgres source: list the tables source.tables patterns may match: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres source: list the tables source.tables patterns may match: %w", err)
	}
	slices.SortFunc(out, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	return out, nil
}

// pubTables are the tables a managed publication holds: the captured
// ones and the signal table, whose rows must reach the stream.
func (s *Source) pubTables(captured []string) []string {
	if s.cfg.SignalTable == "" {
		return captured
	}
	schema, name, _ := splitTable(s.cfg.SignalTable)
	sig := tableName(schema, name)
	if slices.Contains(captured, sig) {
		return captured
	}
	return append(slices.Clone(captured), sig)
}

// quoted spells tables (as names.go spells them) for SQL.
func quoted(tables []string) string {
	out := make([]string, len(tables))
	for i, t := range tables {
		schema, name, _ := splitTable(t)
		out[i] = pgx.Identifier{schema, name}.Sanitize()
	}
	return strings.Join(out, ", ")
}

// openPublication reads the publication, creating it when missing: FOR
// ALL TABLES for `tables: all`, else for the captured tables and the
// signal table.
func (s *Source) openPublication(ctx context.Context, conn *pgx.Conn, captured []string) (*publication, error) {
	pub := pgx.Identifier{s.cfg.Publication}.Sanitize()
	var p publication
	var allTables bool
	var oid uint32
	err := conn.QueryRow(ctx, "SELECT oid, puballtables, pg_get_userbyid(pubowner), pg_has_role(pubowner, 'USAGE'), current_user FROM pg_publication WHERE pubname = $1",
		s.cfg.Publication).Scan(&oid, &allTables, &p.owner, &p.owned, &p.role)
	if errors.Is(err, pgx.ErrNoRows) {
		stmt := "CREATE PUBLICATION " + pub + " FOR ALL TABLES"
		if captured != nil {
			stmt = "CREATE PUBLICATION " + pub
			if tables := s.pubTables(captured); len(tables) > 0 {
				stmt += " FOR TABLE " + quoted(tables)
			}
		}
		if s.standby.Load() {
			return nil, s.onStandby("does not exist", stmt)
		}
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("postgres source: %s: %w (the role needs CREATE on the database, or create the publication yourself)", stmt, err)
		}
		s.log.Info("created publication", zap.String("publication", s.cfg.Publication), zap.Strings("tables", captured))
		return &publication{created: true, managed: captured != nil, owned: true, members: s.pubTables(captured)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres source: read publication %s: %w", s.cfg.Publication, err)
	}
	p.managed = !allTables
	if p.managed {
		// PostgreSQL 15's FOR TABLES IN SCHEMA. The catalog is looked up
		// first, in a query of its own: one that names a missing table
		// fails when it is parsed (PostgreSQL 14).
		var schemas bool
		err := conn.QueryRow(ctx, `SELECT to_regclass('pg_catalog.pg_publication_namespace') IS NOT NULL`).Scan(&schemas)
		if err == nil && schemas {
			err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace WHERE pnpubid = $1)`, oid).Scan(&schemas)
		}
		if err != nil {
			return nil, fmt.Errorf("postgres source: read publication %s: %w", s.cfg.Publication, err)
		}
		p.managed = !schemas
	}
	if !p.managed {
		return &p, nil
	}
	rows, err := conn.Query(ctx, `SELECT n.nspname::text, c.relname::text
		  FROM pg_catalog.pg_publication_rel r
		  JOIN pg_catalog.pg_class c ON c.oid = r.prrelid
		  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE r.prpubid = $1`, oid)
	if err != nil {
		return nil, fmt.Errorf("postgres source: read the tables of publication %s: %w", s.cfg.Publication, err)
	}
	defer rows.Close()
	for rows.Next() {
		var schema, name string
		if err := rows.Scan(&schema, &name); err != nil {
			return nil, fmt.Errorf("postgres source: read the tables of publication %s: %w", s.cfg.Publication, err)
		}
		p.members = append(p.members, tableName(schema, name))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres source: read the tables of publication %s: %w", s.cfg.Publication, err)
	}
	return &p, nil
}

// planTables records the captured tables in the state, queues an
// incremental snapshot of each table that joined since the last start
// (snapshot.new_tables), and drops the unfinished jobs of tables no
// longer captured; it saves the state when any of it changed. It runs
// after planSnapshot: a table a pending snapshot without a filter reads
// already (the initial snapshot, mode always) gets no second job.
//
// A state without a record (written before records existed, or while
// the list was `all`) is compared with a managed publication's tables,
// or else taken as having captured what is captured now.
func (s *Source) planTables(ctx context.Context, keep *stateKeeper, st *state, pub *publication, captured []string) error {
	if captured == nil {
		return nil // tables: all; the publication decides
	}
	prev := st.Tables
	if prev == nil {
		prev = captured
		if pub.managed && !pub.created {
			prev = slices.DeleteFunc(slices.Clone(pub.members), s.isSignalTable)
		}
	}
	now, was := setOf(captured), setOf(prev)
	changed := !slices.Equal(st.Tables, captured)
	for _, t := range prev {
		if !now[t] {
			s.log.Info("table left source.tables: no longer captured", zap.String("table", t))
		}
	}
	st.Jobs = slices.DeleteFunc(st.Jobs, func(j *snapshotJob) bool {
		if j.Done || j.Failed {
			return false
		}
		if schema, name, ok := splitTable(j.Table); ok && now[tableName(schema, name)] {
			return false
		}
		s.log.Info("dropped the snapshot of a table no longer captured", zap.String("table", j.Table), zap.Int64("rows_done", j.Rows))
		changed = true
		return true
	})
	var added []string
	for _, t := range captured {
		if !was[t] && !readsAll(st, t) {
			added = append(added, t)
		}
	}
	switch {
	case len(added) == 0:
	case s.cfg.Snapshot.Mode == "never" || s.cfg.Snapshot.NewTables == newTablesNone:
		s.log.Info("tables joined source.tables: their changes are captured from now on, their rows are not snapshotted",
			zap.Strings("tables", added), zap.String("snapshot.mode", s.cfg.Snapshot.Mode), zap.String("snapshot.new_tables", s.cfg.Snapshot.NewTables))
	default:
		for _, t := range added {
			st.Jobs = append(st.Jobs, &snapshotJob{Table: t, Incremental: true})
		}
		changed = true
		s.log.Info("tables joined source.tables: snapshotting them incrementally while the stream goes on", zap.Strings("tables", added))
	}
	if !changed {
		return nil
	}
	st.Tables = slices.Clone(captured)
	return keep.save(ctx, st)
}

// readsAll reports whether a pending job without a filter reads table.
func readsAll(st *state, table string) bool {
	return slices.ContainsFunc(st.Jobs, func(j *snapshotJob) bool {
		return !j.Done && !j.Failed && j.Filter == "" && j.Table == table
	})
}

func setOf(ts []string) map[string]bool {
	m := make(map[string]bool, len(ts))
	for _, t := range ts {
		m[t] = true
	}
	return m
}

// syncPublication makes a managed publication hold exactly the captured
// tables and the signal table, in one transaction, logging each table
// added or dropped. A publication the role may not alter is an error
// naming the statements its owner can run instead.
func (s *Source) syncPublication(ctx context.Context, conn *pgx.Conn, pub *publication, captured []string) error {
	if captured == nil || !pub.managed {
		return nil
	}
	want := s.pubTables(captured)
	have, wanted := setOf(pub.members), setOf(want)
	var add, drop []string
	for _, t := range want {
		if !have[t] {
			add = append(add, t)
		}
	}
	for _, t := range pub.members {
		if !wanted[t] {
			drop = append(drop, t)
		}
	}
	if len(add) == 0 && len(drop) == 0 {
		return nil
	}
	name := pgx.Identifier{s.cfg.Publication}.Sanitize()
	var stmts []string
	if len(add) > 0 {
		stmts = append(stmts, "ALTER PUBLICATION "+name+" ADD TABLE "+quoted(add))
	}
	if len(drop) > 0 {
		stmts = append(stmts, "ALTER PUBLICATION "+name+" DROP TABLE "+quoted(drop))
	}
	byHand := func(why string) error {
		return sluice.Permanent(fmt.Errorf("postgres source: publication %s must change to follow source.tables, but %s: "+
			"run as its owner (%s) or a superuser: %s; then start again. Or give it to sluice's role: ALTER PUBLICATION %s OWNER TO %s",
			s.cfg.Publication, why, pub.owner, strings.Join(stmts, "; "), name, pgx.Identifier{pub.role}.Sanitize()))
	}
	if s.standby.Load() {
		return s.onStandby("must change to follow source.tables", strings.Join(stmts, "; "))
	}
	if !pub.owned {
		return byHand("sluice's role does not own it")
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, stmt := range stmts {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42501" { // insufficient_privilege: e.g. a table the role does not own
		return byHand(pe.Message)
	}
	if err != nil {
		return fmt.Errorf("postgres source: %s: %w", strings.Join(stmts, "; "), err)
	}
	for _, t := range add {
		s.log.Info("table added to the publication", zap.String("publication", s.cfg.Publication), zap.String("table", t))
	}
	for _, t := range drop {
		s.log.Info("table dropped from the publication", zap.String("publication", s.cfg.Publication), zap.String("table", t))
	}
	return nil
}

// openCaptured expands source.tables into the captured tables and opens
// their publication (created when missing); syncPublication later makes
// a managed one hold them.
func (s *Source) openCaptured(ctx context.Context, conn *pgx.Conn) ([]string, *publication, error) {
	captured, err := s.expandTables(ctx, conn)
	if err != nil {
		return nil, nil, err
	}
	pub, err := s.openPublication(ctx, conn, captured)
	if err != nil {
		return nil, nil, err
	}
	return captured, pub, nil
}

// uncaptured reports whether the stream drops the rows of a relation
// its publication carries although source.tables does not capture it.
// A publication sluice does not manage (FOR ALL TABLES, FOR TABLES IN
// SCHEMA) carries every table; a managed one still carries, for WAL
// written before this start dropped a table from it, that table's
// changes (the walsender decodes old WAL with the publication as it was
// then). A partition is captured when one of its ancestors is (its
// changes arrive under its own name). It is called for Relation
// messages, not per row; when the ancestors cannot be read the relation
// is kept.
func (s *Source) uncaptured(ctx context.Context, q querier, relid uint32, schema, name string) bool {
	t := tableName(schema, name)
	if len(s.cfg.Tables) == 0 || s.isSignalTable(t) || s.captures(t) {
		return false
	}
	if q == nil {
		return true
	}
	ancestors, err := partitionAncestors(ctx, q, relid)
	if err != nil {
		s.log.Warn("cannot read the ancestors of a table to decide whether source.tables captures it; keeping its changes", zap.String("table", t), zap.Error(err))
		return false
	}
	return !slices.ContainsFunc(ancestors, s.captures)
}

// partitionAncestors lists relid and the tables it is a partition of, as
// schema.table.
func partitionAncestors(ctx context.Context, q querier, relid uint32) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT n.nspname::text, c.relname::text
		  FROM pg_partition_ancestors($1::oid::regclass) a
		  JOIN pg_catalog.pg_class c ON c.oid = a.relid
		  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`, relid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var as, an string
		if err := rows.Scan(&as, &an); err != nil {
			return nil, err
		}
		out = append(out, tableName(as, an))
	}
	return out, rows.Err()
}
