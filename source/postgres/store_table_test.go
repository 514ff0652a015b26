package postgres

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
)

// TestTableStorePrivileges: a role that may not create the state table
// is told the statements that create it and grant it access; a role that
// may not write an existing one, the GRANT; both are permanent errors.
// Once granted, the store writes and reads back the slot's row.
func TestTableStorePrivileges(t *testing.T) {
	admin := testenv.Get(t, "SLUICE_TEST_PG_DSN")
	limited := testenv.Get(t, "SLUICE_TEST_PG_NOREPL_DSN") // may not create in schema public
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	// PostgreSQL 14 still lets every role create in schema public (15
	// took that away): the test takes it away there too, meanwhile.
	var version int
	if err := db.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version < 150000 {
		if _, err := db.Exec(ctx, "REVOKE CREATE ON SCHEMA public FROM PUBLIC"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Exec(context.Background(), "GRANT CREATE ON SCHEMA public TO PUBLIC") })
	}
	const table = `"public"."sluice_state_privtest"`
	drop := func() {
		if _, err := db.Exec(context.Background(), "DROP TABLE IF EXISTS "+table); err != nil {
			t.Fatal(err)
		}
	}
	drop()
	t.Cleanup(drop)
	src, err := source.Build(New, map[string]any{"type": "postgres", "dsn": limited, "slot": "sluice_privtest",
		"state": map[string]any{"table": "public.sluice_state_privtest"}},
		source.Env{Pipeline: "privtest", Path: "source", Logger: zaptest.NewLogger(t), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	user := pgx.Identifier{src.connCf.User}.Sanitize()

	_, err = src.openTableStore(ctx)
	if !sluice.IsPermanent(err) {
		t.Fatalf("open without CREATE on the schema: %v, want a permanent error", err)
	}
	for _, want := range []string{"cannot create public.sluice_state_privtest", tableStoreDDL(table),
		"GRANT SELECT, INSERT, UPDATE ON " + table + " TO " + user, "state.store to kafka"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q:\n%v", want, err)
		}
	}

	if _, err := db.Exec(ctx, tableStoreDDL(table)); err != nil {
		t.Fatal(err)
	}
	_, err = src.openTableStore(ctx)
	if !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "may not read and write public.sluice_state_privtest: run GRANT SELECT, INSERT, UPDATE ON "+table+" TO "+user) {
		t.Fatalf("open without privileges on the table: %v, want a permanent error with the GRANT", err)
	}

	if _, err := db.Exec(ctx, "GRANT SELECT, INSERT, UPDATE ON "+table+" TO "+user); err != nil {
		t.Fatal(err)
	}
	ts, err := src.openTableStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.close()
	if st, err := ts.load(ctx); st != nil || err != nil {
		t.Fatalf("load before any save: %+v, %v", st, err)
	}
	var want *state
	for i := int64(1); i <= 2; i++ { // an insert, then an update
		want = &state{Version: 1, Slot: "sluice_privtest", Jobs: []*snapshotJob{{Table: "public.t", LastKey: []*string{ptr("a'b")}, Rows: i}}}
		if err := ts.save(ctx, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ts.load(ctx)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("load = %+v, %v; want %+v", got, err, want)
	}
	var rows int
	var pipeline string
	if err := db.QueryRow(ctx, "SELECT count(*), max(pipeline) FROM "+table).Scan(&rows, &pipeline); err != nil || rows != 1 || pipeline != "privtest" {
		t.Fatalf("%d rows of pipeline %q (%v), want one row of privtest", rows, pipeline, err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestTableStoreConcurrentCreate: sources starting at once on a database
// without the state table all open the store (one creates the table; the
// others' CREATE fails or waits, and is not an error).
func TestTableStoreConcurrentCreate(t *testing.T) {
	dsn := testenv.Get(t, "SLUICE_TEST_PG_DSN")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	drop := func() { db.Exec(context.Background(), `DROP TABLE IF EXISTS public.sluice_state_racetest`) }
	drop()
	t.Cleanup(drop)
	const n = 6
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		src, err := source.Build(New, map[string]any{"type": "postgres", "dsn": dsn, "state": map[string]any{"table": "public.sluice_state_racetest"}},
			source.Env{Pipeline: "race" + string(rune('a'+i)), Path: "source", Logger: zaptest.NewLogger(t), StateDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			ts, err := src.openTableStore(ctx)
			if err == nil {
				err = ts.save(ctx, &state{Version: 1, Slot: src.cfg.Slot})
				ts.close()
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	var rows int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM public.sluice_state_racetest").Scan(&rows); err != nil || rows != n {
		t.Fatalf("%d rows (%v), want %d", rows, err, n)
	}
}

// TestStateTableRowsNotCaptured: a publication that holds the state table
// (FOR ALL TABLES does) carries its rows, this source's and other
// pipelines'; they are sluice's own and never become events.
func TestStateTableRowsNotCaptured(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.db.Exec(ctx, tableStoreDDL(`"public"."sluice_state"`)); err != nil {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42P07" && pe.Code != "23505" { // created meanwhile by another test
			t.Fatal(err)
		}
	}
	h.exec(`DROP TABLE IF EXISTS st_cap; CREATE TABLE st_cap (id int PRIMARY KEY, v bigint NOT NULL)`)
	h.dropAtEnd("st_cap")
	h.exec(`CREATE PUBLICATION sluice_` + h.name + ` FOR TABLE public.st_cap, public.sluice_state`)
	other := "sluice_" + h.name + "_other"
	t.Cleanup(func() { h.exec(`DELETE FROM public.sluice_state WHERE slot = $1`, other) })
	h.startStreaming(map[string]any{"tables": []any{"public.st_cap"}, "signal_table": "public.sluice_signal_cap",
		"snapshot": map[string]any{"mode": "never", "chunk_size": 2}})
	h.dropAtEnd("sluice_signal_cap")
	h.exec(`INSERT INTO st_cap SELECT g, g FROM generate_series(1, 5) g`)
	// This source's own saves: an incremental snapshot's progress.
	if err := signalSnapshot(ctx, h.src, []string{"public.st_cap"}, ""); err != nil {
		t.Fatal(err)
	}
	h.c.WaitFor("the snapshot", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r >= 5 && h.snapshotIdle() })
	// Another pipeline's row.
	h.exec(`INSERT INTO public.sluice_state (slot, pipeline, state) VALUES ($1, 'other', '{}')`, other)
	h.exec(`UPDATE public.sluice_state SET updated_at = now() WHERE slot = $1`, other)
	h.exec(`DELETE FROM public.sluice_state WHERE slot = $1`, other)
	h.exec(`INSERT INTO st_cap VALUES (6, 6)`)
	for _, ev := range h.wait(11) {
		if ev.Table != nil && ev.Table.Name != "st_cap" {
			t.Errorf("event %s of table %s.%s", ev.Op, ev.Table.Schema, ev.Table.Name)
		}
	}
}
