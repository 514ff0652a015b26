package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// keyNames lists the names of t's key columns, in key order.
func keyNames(t *sluice.Table) string {
	var names []string
	for _, k := range t.Key {
		names = append(names, t.Columns[k].Name)
	}
	return strings.Join(names, ",")
}

// TestKeyFollowsReplicaIdentity: the key of a table's events is its
// replica identity, as the Relation message flags it, for streamed
// changes and snapshot reads alike: the primary key under DEFAULT, the
// index under USING INDEX (even when there is a primary key too), the
// primary key under FULL (pgoutput flags every column there; a key of
// every column would change with every update), none under NOTHING or
// DEFAULT without a primary key. Deletes carry their key, and a row
// deleted inside a chunk's window is not read back after its delete.
func TestKeyFollowsReplicaIdentity(t *testing.T) {
	h := newHarness(t)
	type identityCase struct {
		table, ddl, key string
		changes         bool // updates and deletes are allowed (the table has a replica identity)
	}
	cases := []identityCase{
		{"id_default_pk", `CREATE TABLE id_default_pk (id int PRIMARY KEY, u int NOT NULL, v text)`, "id", true},
		{"id_index_pk", `CREATE TABLE id_index_pk (id int PRIMARY KEY, u int NOT NULL, v text);
			CREATE UNIQUE INDEX id_index_pk_u ON id_index_pk (u); ALTER TABLE id_index_pk REPLICA IDENTITY USING INDEX id_index_pk_u`, "u", true},
		{"id_index_nopk", `CREATE TABLE id_index_nopk (id int NOT NULL, u int NOT NULL, v text);
			CREATE UNIQUE INDEX id_index_nopk_u ON id_index_nopk (u); ALTER TABLE id_index_nopk REPLICA IDENTITY USING INDEX id_index_nopk_u`, "u", true},
		{"id_full_pk", `CREATE TABLE id_full_pk (id int PRIMARY KEY, u int NOT NULL, v text); ALTER TABLE id_full_pk REPLICA IDENTITY FULL`, "id", true},
		{"id_full_nopk", `CREATE TABLE id_full_nopk (id int NOT NULL, u int NOT NULL, v text); ALTER TABLE id_full_nopk REPLICA IDENTITY FULL`, "", true},
		{"id_nothing_pk", `CREATE TABLE id_nothing_pk (id int PRIMARY KEY, u int NOT NULL, v text); ALTER TABLE id_nothing_pk REPLICA IDENTITY NOTHING`, "", false},
		{"id_default_nopk", `CREATE TABLE id_default_nopk (id int NOT NULL, u int NOT NULL, v text)`, "", false},
	}
	var tables []any
	var names []string
	for _, c := range cases {
		h.exec("DROP TABLE IF EXISTS " + c.table + "; " + c.ddl)
		h.dropAtEnd(c.table)
		tables = append(tables, "public."+c.table)
		names = append(names, "public."+c.table)
	}
	h.exec(`DROP TABLE IF EXISTS sluice_signal_ident`)
	h.dropAtEnd("sluice_signal_ident")
	h.startHooked(map[string]any{"tables": tables, "signal_table": "public.sluice_signal_ident"},
		&chunkHooks{afterRead: func(ctx context.Context, table string) error {
			if table == "public.id_index_pk" { // a delete inside the chunk's window
				h.exec(`DELETE FROM id_index_pk WHERE u = 30`)
			}
			return nil
		}})

	want := 0
	for _, c := range cases {
		h.exec(`INSERT INTO ` + c.table + ` SELECT g, g * 10, 'x' FROM generate_series(1, 3) g`)
		want += 3
		if c.changes {
			h.exec(`UPDATE ` + c.table + ` SET v = 'y' WHERE id = 1`)
			h.exec(`DELETE FROM ` + c.table + ` WHERE id = 2`)
			want += 2
		}
	}
	evs := h.wait(want)
	for _, ev := range evs {
		c := cases[slices.IndexFunc(cases, func(c identityCase) bool { return c.table == ev.Table.Name })]
		if got := keyNames(ev.Table); got != c.key {
			t.Errorf("%s: %s event keyed by (%s), want (%s)", c.table, ev.Op, got, c.key)
		}
		if ev.Op == sluice.OpDelete {
			for _, k := range ev.Table.Key {
				if ev.Before[k].Kind != sluice.KindPresent {
					t.Errorf("%s: delete without its key column %s (kind %d)", c.table, ev.Table.Columns[k].Name, ev.Before[k].Kind)
				}
			}
		}
	}

	// Snapshot reads use the same key, and the delete inside the window
	// of id_index_pk's chunk is not undone by a read of the deleted row.
	if err := signalSnapshot(context.Background(), h.src, names, ""); err != nil {
		t.Fatal(err)
	}
	evs = h.c.WaitFor("the snapshot", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r > 0 && h.snapshotIdle() })
	deleted := false
	for _, ev := range evs {
		if ev.Table == nil || ev.Op != sluice.OpRead && ev.Table.Name != "id_index_pk" {
			continue
		}
		if ev.Op == sluice.OpDelete && ev.Before[1].Int == 30 {
			deleted = true
		}
		if ev.Op != sluice.OpRead {
			continue
		}
		for _, c := range cases {
			if c.table == ev.Table.Name {
				if got := keyNames(ev.Table); got != c.key {
					t.Errorf("%s: snapshot read keyed by (%s), want (%s)", c.table, got, c.key)
				}
			}
		}
		if deleted && ev.Table.Name == "id_index_pk" && ev.After[1].Int == 30 {
			t.Errorf("id_index_pk: the row with u = 30, deleted inside the chunk's window, was read back after its delete")
		}
	}
	if !deleted {
		t.Error("id_index_pk: no delete of u = 30 streamed")
	}
}

// TestKeyAfterPrimaryKeyChange: changes decoded after the primary key
// moved to another column (while the source was stopped, i.e. lagging)
// are keyed by the replica identity they were written under, which the
// Relation message describes; today's primary key would leave the old
// deletes without a key.
func TestKeyAfterPrimaryKeyChange(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS pk_moves; CREATE TABLE pk_moves (a int PRIMARY KEY, b int NOT NULL UNIQUE, v text)`)
	h.dropAtEnd("pk_moves")
	h.startStreaming(map[string]any{"tables": []any{"public.pk_moves"}})
	h.stop() // the slot stays: what follows is read later

	h.exec(`INSERT INTO pk_moves VALUES (1, 10, 'x'), (2, 20, 'y')`)
	h.exec(`DELETE FROM pk_moves WHERE a = 1`)
	h.exec(`ALTER TABLE pk_moves DROP CONSTRAINT pk_moves_pkey, ADD PRIMARY KEY (b)`)
	h.exec(`INSERT INTO pk_moves VALUES (3, 30, 'z')`)
	h.exec(`DELETE FROM pk_moves WHERE b = 20`)

	h.start("public.pk_moves")
	evs := h.wait(5)
	want := []struct {
		op  sluice.Op
		key string
		val int64
	}{{sluice.OpCreate, "a", 1}, {sluice.OpCreate, "a", 2}, {sluice.OpDelete, "a", 1}, {sluice.OpCreate, "b", 30}, {sluice.OpDelete, "b", 20}}
	for i, w := range want {
		ev := evs[i]
		row := ev.After
		if ev.Op == sluice.OpDelete {
			row = ev.Before
		}
		if ev.Op != w.op || keyNames(ev.Table) != w.key {
			t.Errorf("event %d: %s keyed by (%s), want %s keyed by (%s)", i, ev.Op, keyNames(ev.Table), w.op, w.key)
			continue
		}
		k := ev.Table.Key[0]
		if row[k].Kind != sluice.KindPresent || row[k].Int != w.val {
			t.Errorf("event %d (%s): key %s = %+v, want %d", i, ev.Op, w.key, row[k], w.val)
		}
	}
}
