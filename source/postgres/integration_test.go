package postgres

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

// harness runs a Source against the real test database under a
// testenv.Collector, which confirms marks the way the pipeline does once
// delivered. Its slot and publication are named after the test and
// dropped when it ends, and so is the slot's row in the default state
// table (public.sluice_state, which other packages' tests share, so it
// stays).
type harness struct {
	t        *testing.T
	dsn      string
	db       *pgx.Conn
	name     string
	src      *Source
	c        *testenv.Collector // collects what src emits; nil when stopped
	stateDir string
	hooks    *chunkHooks            // given to the snapshotter of the next start
	stores   map[*Source]stateStore // opened by stored, closed at the end
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dsn := testenv.Get(t, "SLUICE_TEST_PG_DSN")
	ctx := context.Background()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	name := strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	h := &harness{t: t, dsn: dsn, db: db, name: name, stores: map[*Source]stateStore{}}
	t.Cleanup(func() {
		h.stop()
		for _, st := range h.stores {
			st.close()
		}
		testenv.DropSlot(t, db, "sluice_"+name)
		db.Exec(ctx, "DROP PUBLICATION IF EXISTS sluice_"+name)
		h.forgetState()
		db.Close(ctx)
	})
	testenv.DropSlot(t, db, "sluice_"+name)
	db.Exec(ctx, "DROP PUBLICATION IF EXISTS sluice_"+name)
	h.forgetState()
	return h
}

// forgetState deletes the slot's row from the default state table, if
// there is one: a state outlives its slot, and one left by an earlier
// run of the test would be taken for this run's.
func (h *harness) forgetState() {
	ctx := context.Background()
	var exists bool
	if err := h.db.QueryRow(ctx, "SELECT to_regclass('public.sluice_state') IS NOT NULL").Scan(&exists); err != nil {
		h.t.Fatal(err)
	}
	if exists {
		if _, err := h.db.Exec(ctx, "DELETE FROM public.sluice_state WHERE slot = $1", "sluice_"+h.name); err != nil {
			h.t.Fatal(err)
		}
	}
}

// stored reads the state of the running source from its store (a
// missing state is an empty one), as the next start would.
func (h *harness) stored() (*state, error) {
	store := h.stores[h.src]
	if store == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var err error
		if store, err = h.src.openStore(ctx); err != nil {
			return nil, err
		}
		h.stores[h.src] = store
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.load(ctx)
	if st == nil && err == nil {
		st = &state{Version: 1, Slot: h.src.cfg.Slot}
	}
	return st, err
}

func (h *harness) exec(sql string, args ...any) {
	h.t.Helper()
	if _, err := h.db.Exec(context.Background(), sql, args...); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
}

func (h *harness) newSource(extra map[string]any) *Source {
	raw := map[string]any{"type": "postgres", "dsn": h.dsn, "status_interval": "1s", "drain_timeout": "2s",
		"snapshot": map[string]any{"mode": "never"}}
	for k, v := range extra {
		raw[k] = v
	}
	if h.stateDir == "" {
		h.stateDir = h.t.TempDir()
	}
	s, err := source.Build(New, raw, source.Env{Pipeline: h.name, Path: "source", Logger: zaptest.NewLogger(h.t), StateDir: h.stateDir})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// start runs the source until stop; marks are confirmed at once.
func (h *harness) start(tables ...string) {
	h.startWith(map[string]any{"tables": tables})
}

// startWith runs a new source with extra config under a new collector,
// once the slot is free, and waits until it streams.
func (h *harness) startWith(extra map[string]any, opts ...testenv.CollectOption) {
	h.t.Helper()
	h.waitSlotFree()
	h.src = h.newSource(extra)
	h.src.hooks = h.hooks
	h.c = testenv.Collect(h.t, h.src, opts...)
	h.waitSlotActive(h.c)
}

// slotActive reports whether a source streams from the test's slot
// (testenv.SlotStreaming).
func (h *harness) slotActive() bool {
	ok, err := testenv.SlotStreaming(context.Background(), h.db, "sluice_"+h.name)
	return err == nil && ok
}

// waitSlotActive waits until the source c runs reads the slot.
func (h *harness) waitSlotActive(c *testenv.Collector) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if h.slotActive() {
			return
		}
		select {
		case <-c.Done():
			h.t.Fatalf("source stopped: %v", c.Stop())
		case <-time.After(20 * time.Millisecond):
		}
	}
	h.t.Fatal("slot never became active")
}

// waitSlotFree waits until no walsender reads the slot: the server
// process of a stopped source may take a moment to exit, and a source
// started before would find the slot in use.
func (h *harness) waitSlotFree() {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if !h.slotActive() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatal("slot still read 20s after its source stopped")
}

// stop stops the running source; an error from Run fails the test.
func (h *harness) stop() {
	if h.c == nil {
		return
	}
	err := h.c.Stop()
	h.c = nil
	if err != nil {
		h.t.Errorf("source returned %v on shutdown", err)
	}
}

// wait returns the events once n have arrived and the source has read
// past every transaction committed before the call, so that an event
// beyond the n expected would be among them.
func (h *harness) wait(n int) []*sluice.Event {
	h.t.Helper()
	return h.c.WaitCaughtUp(n, h.walEnd)
}

// walEnd is a WAL position the stream passes only after every
// transaction committed before the call (testenv.WALFlushed).
func (h *harness) walEnd() uint64 {
	h.t.Helper()
	return walEndOf(h.t, h.db)
}

// walEndOf is testenv.WALFlushed on db, as a position.
func walEndOf(t *testing.T, db *pgx.Conn) uint64 {
	t.Helper()
	lsn, err := testenv.WALFlushed(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	pos, err := pglogrepl.ParseLSN(lsn)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(pos)
}

// render encodes events with run-dependent fields (LSNs, xids, times)
// fixed, so the bytes can be compared with a golden file.
func render(t *testing.T, events []*sluice.Event, opt codec.Options) []byte {
	t.Helper()
	opt.Name, opt.Connector, opt.DB = "test", "postgresql", "sluice"
	opt.Clock = func() time.Time { return time.Unix(1700000000, 0) }
	enc, err := codec.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, ev := range events {
		e := *ev
		e.Pos = sluice.Position{LSN: 1, TxLSN: 2, PrevTxLSN: 0}
		if e.TxID != 0 {
			e.TxID = 7
		}
		e.CommitTime = time.Unix(1600000000, 0)
		key, ok := enc.AppendKey(nil, &e)
		if !ok {
			key = []byte("null")
		}
		fmt.Fprintf(&buf, "key: %s\nvalue: %s\n", key, enc.AppendValue(nil, &e))
		if u, ok := codec.AppendUnchanged(nil, &e); ok {
			fmt.Fprintf(&buf, "unchanged: %s\n", u)
		}
		if e.OtherKey != nil {
			fmt.Fprintf(&buf, "otherkey: %s\n", enc.AppendKeyRow(nil, e.Table, e.OtherKey))
		}
	}
	return buf.Bytes()
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, filepath.Join("..", "..", "testdata", "golden", "postgres", name), got, *updateGolden)
}

// allTypesDDL has one column per built-in type the source decodes.
const allTypesDDL = `
DROP TABLE IF EXISTS all_types;
DROP TYPE IF EXISTS mood;
DROP DOMAIN IF EXISTS posint;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE all_types (
  id serial PRIMARY KEY,
  c_bool bool, c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid,
  c_float4 float4, c_float8 float8, c_numeric numeric(12,3), c_numeric_free numeric, c_money money,
  c_text text, c_varchar varchar(20), c_char char(4), c_name name,
  c_bytea bytea, c_uuid uuid, c_json json, c_jsonb jsonb,
  c_date date, c_time time, c_time3 time(3), c_timetz timetz,
  c_timestamp timestamp, c_timestamptz timestamptz, c_interval interval,
  c_inet inet, c_cidr cidr, c_macaddr macaddr,
  c_bit1 bit(1), c_bit bit(10), c_varbit varbit(16), c_xml xml,
  c_enum mood, c_domain posint, c_point point, c_range int4range,
  c_int_arr int4[], c_text_arr text[], c_num_arr numeric[], c_ts_arr timestamptz[], c_enum_arr mood[], c_2d int4[][]
)`

var allTypesRows = []string{
	`INSERT INTO all_types (c_bool, c_int2, c_int4, c_int8, c_oid, c_float4, c_float8, c_numeric, c_numeric_free, c_money,
	  c_text, c_varchar, c_char, c_name, c_bytea, c_uuid, c_json, c_jsonb, c_date, c_time, c_time3, c_timetz,
	  c_timestamp, c_timestamptz, c_interval, c_inet, c_cidr, c_macaddr, c_bit1, c_bit, c_varbit, c_xml,
	  c_enum, c_domain, c_point, c_range, c_int_arr, c_text_arr, c_num_arr, c_ts_arr, c_enum_arr, c_2d)
	VALUES (true, -32768, 2147483647, -9223372036854775808, 4000000000, 1.5, 3.141592653589793, 123456789.125, 0.1000000000000000000000000001, '1234.56',
	  E'Grüezi "Welt"\n\ttab', 'vc', 'ab', 'nm', '\xdeadbeef', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50]}', '{"b": {"c": null}}',
	  '2024-02-29', '23:59:59.999999', '12:34:56.789', '12:34:56.789+02',
	  '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.12+01', '1 year 2 mons 3 days 04:05:06.78', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
	  B'1', B'1010000001', B'101', '<a>b</a>',
	  'happy', 42, '(1.5,2)', '[1,10)', '{1,NULL,3}', '{"a b","c\"d",NULL,"NULL"}', '{1.10,-2.5}', '{"2024-01-01 00:00:00+00"}', '{sad,happy}', '{{1,2},{3,4}}')`,
	`INSERT INTO all_types (c_float4, c_float8, c_numeric_free, c_date, c_timestamp, c_timestamptz, c_interval, c_money)
	VALUES ('NaN', '-Infinity', 'NaN', '0044-03-15 BC', 'infinity', '-infinity', '-1 days +02:00:00', '-0.99')`,
	`INSERT INTO all_types (id) VALUES (DEFAULT)`,
}

func TestAllTypesGolden(t *testing.T) {
	h := newHarness(t)
	h.exec(allTypesDDL)
	h.start("public.all_types")
	for _, q := range allTypesRows {
		h.exec(q)
	}
	events := h.wait(len(allTypesRows))
	if len(events) != len(allTypesRows) {
		t.Fatalf("got %d events", len(events))
	}
	checkGolden(t, "all_types.txt", render(t, events, codec.Options{}))
	checkGolden(t, "all_types_schemas_precise.txt", render(t, events, codec.Options{Schemas: true, Decimal: codec.DecimalPrecise, Interval: codec.IntervalNumeric}))
}

func TestChangeKindsGolden(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS src_customers; CREATE TABLE src_customers (id int PRIMARY KEY, first_name text NOT NULL, last_name text, zip text, city text)`)
	h.start("public.src_customers")
	h.exec(`INSERT INTO src_customers VALUES (11, 'Peter', 'Muster', '3010', 'Berne'), (12, 'Paul', 'Steffen', '8001', 'Zurich')`)
	h.exec(`UPDATE src_customers SET city = 'Bern' WHERE id = 11`)
	h.exec(`UPDATE src_customers SET id = 13 WHERE id = 12`) // key change
	h.exec(`DELETE FROM src_customers WHERE id = 11`)
	h.exec(`SELECT pg_logical_emit_message(true, 'audit', 'tx message')`)
	h.exec(`BEGIN; INSERT INTO src_customers VALUES (14, 'Anna', NULL, NULL, NULL); SELECT pg_logical_emit_message(true, 'audit', 'in tx'); COMMIT`)
	h.exec(`TRUNCATE src_customers`)
	h.exec(`ALTER TABLE src_customers ADD COLUMN email text`)
	h.exec(`INSERT INTO src_customers VALUES (15, 'Eva', 'Meier', '4000', 'Basel', 'eva@example.com')`)
	events := h.wait(11)
	var ops []string
	for _, ev := range events {
		ops = append(ops, ev.Op.String())
	}
	if got, want := strings.Join(ops, ""), "ccudcdmcmtc"; got != want {
		t.Fatalf("ops %s, want %s", got, want)
	}
	checkGolden(t, "change_kinds.txt", render(t, events, codec.Options{}))
}

func TestToastAndReplicaIdentity(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS docs; CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
		ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
		DROP TABLE IF EXISTS docs_full; CREATE TABLE docs_full (id int PRIMARY KEY, title text, body text);
		ALTER TABLE docs_full ALTER COLUMN body SET STORAGE EXTERNAL; ALTER TABLE docs_full REPLICA IDENTITY FULL;
		DROP TABLE IF EXISTS nokey; CREATE TABLE nokey (a int, b text); ALTER TABLE nokey REPLICA IDENTITY FULL`)
	h.start("public.docs", "public.docs_full", "public.nokey")
	big := strings.Repeat("0123456789abcdef", 1024) // 16 KiB, stored out of line
	h.exec(`INSERT INTO docs VALUES (1, 'a', $1)`, big)
	h.exec(`INSERT INTO docs_full VALUES (1, 'a', $1)`, big)
	h.exec(`UPDATE docs SET title = 'b' WHERE id = 1`)
	h.exec(`UPDATE docs_full SET title = 'b' WHERE id = 1`)
	h.exec(`INSERT INTO nokey VALUES (1, 'x')`)
	h.exec(`UPDATE nokey SET b = 'y'`)
	h.exec(`DELETE FROM nokey`)
	events := h.wait(7)

	upd := events[2]
	if upd.Op != sluice.OpUpdate || upd.After[2].Kind != sluice.KindUnchanged {
		t.Fatalf("DEFAULT identity update: want body unchanged (not sent), got %+v", upd.After[2])
	}
	if upd.Before != nil {
		t.Errorf("DEFAULT identity update without key change has a before image: %v", upd.Before)
	}
	full := events[3]
	if full.After[2].Kind != sluice.KindPresent || string(full.After[2].Bytes) != big {
		t.Fatalf("FULL identity update: body should be filled from the old row")
	}
	if full.Before == nil || string(full.Before[1].Bytes) != "a" {
		t.Fatalf("FULL identity update: want full before image, got %v", full.Before)
	}
	for _, ev := range events[4:] {
		if len(ev.Table.Key) != 0 {
			t.Fatalf("table without primary key got key columns %v", ev.Table.Key)
		}
	}
	// Shorten the big value for the golden file.
	for _, ev := range events[:4] {
		for _, row := range []sluice.Row{ev.Before, ev.After} {
			if len(row) > 2 && row[2].Kind == sluice.KindPresent {
				row[2].Bytes = []byte(fmt.Sprintf("<%d bytes>", len(row[2].Bytes)))
			}
		}
	}
	checkGolden(t, "toast_identity.txt", render(t, events, codec.Options{}))
	checkGolden(t, "toast_placeholder.txt", render(t, events[2:3], codec.Options{Toast: codec.ToastPlaceholder}))
}

func TestRefusesWalLevelReplica(t *testing.T) {
	dsn := testenv.Get(t, "SLUICE_TEST_PG_REPLICA_DSN")
	s, err := source.Build(New, map[string]any{"type": "postgres", "dsn": dsn}, source.Env{Pipeline: "walcheck", Path: "source", Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background(), func(*sluice.Event) error { return nil })
	if err == nil || !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "wal_level = logical") || !strings.Contains(err.Error(), "ALTER SYSTEM") {
		t.Fatalf("want a permanent error telling how to set wal_level, got %v", err)
	}
}

func TestRefusesRoleWithoutReplication(t *testing.T) {
	dsn := testenv.Get(t, "SLUICE_TEST_PG_NOREPL_DSN")
	s, err := source.Build(New, map[string]any{"type": "postgres", "dsn": dsn}, source.Env{Pipeline: "roles", Path: "source", Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background(), func(*sluice.Event) error { return nil })
	if err == nil || !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "WITH REPLICATION") {
		t.Fatalf("want a permanent error naming REPLICATION, got %v", err)
	}
}

func TestRefusesMissingTable(t *testing.T) {
	h := newHarness(t)
	s := h.newSource(map[string]any{"tables": []any{"public.no_such_table"}})
	err := s.Run(context.Background(), func(*sluice.Event) error { return nil })
	if err == nil || !sluice.IsPermanent(err) || !strings.Contains(err.Error(), "public.no_such_table") {
		t.Fatalf("want a permanent error naming the table, got %v", err)
	}
}

func TestSecondReaderGetsSlotInUse(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS busy; CREATE TABLE busy (id int PRIMARY KEY)`)
	h.start("public.busy")
	second := h.newSource(map[string]any{"tables": []any{"public.busy"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := second.Run(ctx, func(*sluice.Event) error { return nil })
	if !errors.Is(err, ErrSlotInUse) || sluice.IsPermanent(err) {
		t.Fatalf("want retryable ErrSlotInUse, got %v", err)
	}
}

// TestIdleSlotFollowsServerWAL: writes to a table the slot does not
// capture must not pin WAL: keepalive marks let the confirmed position
// follow the server.
func TestIdleSlotFollowsServerWAL(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS captured; CREATE TABLE captured (id int PRIMARY KEY);
		DROP TABLE IF EXISTS other; CREATE TABLE other (id serial PRIMARY KEY, v text)`)
	h.start("public.captured")
	for i := 0; i < 50; i++ {
		h.exec(`INSERT INTO other (v) VALUES (repeat('x', 1000))`)
	}
	var target string
	if err := h.db.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var caught bool
		err := h.db.QueryRow(context.Background(),
			"SELECT confirmed_flush_lsn >= $2::pg_lsn FROM pg_replication_slots WHERE slot_name = $1", "sluice_"+h.name, target).Scan(&caught)
		if err != nil {
			t.Fatal(err)
		}
		if caught {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot's confirmed_flush_lsn never reached %s while idle", target)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(h.wait(0)); n != 0 {
		t.Fatalf("got %d events from an uncaptured table", n)
	}
}

// TestSilentConnectionIsDetected: when the network to the server goes
// silent (no reset, no close), the stream notices within a few status
// intervals (its idle status updates ask for an answer) and Run returns
// an error, so the pipeline restarts from its checkpoint instead of
// waiting for TCP to give up.
func TestSilentConnectionIsDetected(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS silent; CREATE TABLE silent (id int PRIMARY KEY)`)
	u, err := url.Parse(h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	f := testenv.NewFreezer(t, u.Host)
	u.Host = f.Addr()
	h.startWith(map[string]any{"tables": []string{"public.silent"}, "dsn": u.String()})
	h.exec(`INSERT INTO silent VALUES (1)`)
	h.wait(1)
	c := h.c // the test looks at Run's error itself, not h.stop
	h.c = nil
	time.Sleep(3 * time.Second) // idle: keepalives answer the status updates, nothing fails
	select {
	case <-c.Done():
		t.Fatalf("Run ended on a live, idle connection: %v", c.Stop())
	default:
	}

	f.Freeze()
	select {
	case <-c.Done():
		if err := c.Stop(); err == nil || !strings.Contains(err.Error(), "no message from the server") {
			t.Fatalf("Run returned %v, want the silence error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the source did not notice the silent connection")
	}
}

// signalSnapshot requests an incremental snapshot of tables (filter
// optional) through the signal table, as `sluice snapshot` does without
// a daemon.
func signalSnapshot(ctx context.Context, src *Source, tables []string, filter string) error {
	return src.WriteSignal(ctx, sluice.Signal{Type: sluice.SignalExecuteSnapshot,
		Data: sluice.SnapshotSignalData(sluice.SnapshotKindIncremental, tables, filter)})
}

// ensurePublication does what Run does to the publication before the
// slot (tests that start the stream by hand): creates it when missing
// and, when sluice manages it, makes it hold the captured tables,
// without a snapshot state (Run plans the state between the two).
func (s *Source) ensurePublication(ctx context.Context, conn *pgx.Conn) error {
	captured, pub, err := s.openCaptured(ctx, conn)
	if err != nil {
		return err
	}
	return s.syncPublication(ctx, conn, pub, captured)
}
