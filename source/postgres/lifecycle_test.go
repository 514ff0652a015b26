package postgres

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
)

// TestDropRetiresPipeline: Drop refuses while the slot is read and
// removes nothing; a dry run removes nothing; Drop then leaves no slot,
// publication, signal row, stored state or state file behind, checked
// against the server and the stores, for each state store.
func TestDropRetiresPipeline(t *testing.T) {
	tests := []struct {
		name  string
		store string
		// publication names the publication in the config; dropPub is
		// DropOptions.Publication.
		publication string
		dropPub     bool
	}{
		{name: "table", store: storeTable},
		{name: "kafka", store: storeKafka},
		{name: "file", store: storeFile},
		{name: "named_publication_kept", store: storeTable, publication: "keep"},
		{name: "named_publication_dropped", store: storeTable, publication: "drop", dropPub: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			slot, table, signal := "sluice_"+h.name, "lc_"+h.name, "lc_"+h.name+"_signal"
			h.exec("DROP TABLE IF EXISTS " + table + ", " + signal)
			h.exec("CREATE TABLE " + table + " (id int PRIMARY KEY, v text)")
			t.Cleanup(func() { h.db.Exec(ctx, "DROP TABLE IF EXISTS "+table+", "+signal) })
			extra := map[string]any{"tables": []any{table}, "signal_table": signal}
			pub := slot
			if tt.publication != "" {
				pub = "lc_pub_" + tt.publication + "_" + h.name
				extra["publication"] = pub
				t.Cleanup(func() { h.db.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pub) })
			}
			var brokers []string
			topic := "sluice_test_lc_" + h.name
			switch tt.store {
			case storeKafka:
				b := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
				brokers = strings.Split(b, ",")
				testenv.DeleteTopicsAtEnd(t, b, topic)
				extra["state"] = map[string]any{"store": storeKafka, "brokers": b, "topic": topic}
			case storeFile:
				extra["state"] = map[string]any{"store": storeFile}
			}
			h.startWith(extra)
			h.exec("INSERT INTO " + signal + " VALUES ('lc-1', 'log', '{\"message\": \"retiring\"}')")
			h.exec("INSERT INTO " + table + " SELECT g, 'x' FROM generate_series(1, 100) g")

			// Read: refused, nothing removed.
			_, err := h.src.Drop(ctx, source.DropOptions{Publication: tt.dropPub})
			if !errors.Is(err, source.ErrInUse) || !strings.Contains(err.Error(), "stop the daemon") {
				t.Fatalf("Drop of an active slot = %v, want ErrInUse saying to stop the daemon", err)
			}
			h.stop()
			h.waitSlotFree()
			stateFile := h.src.stateFile()
			check := func(wantSlot, wantPub, wantState bool, wantSignalRows int) {
				t.Helper()
				var n int
				if err := h.db.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&n); err != nil || (n == 1) != wantSlot {
					t.Errorf("slot %s: %d rows (%v), want present %v", slot, n, err, wantSlot)
				}
				if err := h.db.QueryRow(ctx, "SELECT count(*) FROM pg_publication WHERE pubname = $1", pub).Scan(&n); err != nil || (n == 1) != wantPub {
					t.Errorf("publication %s: %d rows (%v), want present %v", pub, n, err, wantPub)
				}
				if err := h.db.QueryRow(ctx, "SELECT count(*) FROM "+signal).Scan(&n); err != nil || n != wantSignalRows {
					t.Errorf("signal table: %d rows (%v), want %d", n, err, wantSignalRows)
				}
				var stored bool
				switch tt.store {
				case storeTable:
					if err := h.db.QueryRow(ctx, "SELECT count(*) FROM public.sluice_state WHERE slot = $1", slot).Scan(&n); err != nil {
						t.Fatal(err)
					}
					stored = n > 0
				case storeKafka:
					v, err := source.KafkaKeyValue(ctx, brokers, nil, topic, []byte(h.name))
					if err != nil {
						t.Fatal(err)
					}
					stored = v != nil
				}
				_, ferr := os.Stat(stateFile)
				if tt.store == storeFile {
					stored = ferr == nil
				} else if (ferr == nil) != wantState {
					t.Errorf("state cache file %s: stat %v, want present %v", stateFile, ferr, wantState)
				}
				if stored != wantState {
					t.Errorf("stored snapshot state present %v, want %v", stored, wantState)
				}
			}
			check(true, true, true, 1)

			plan, err := h.src.Drop(ctx, source.DropOptions{DryRun: true, Publication: tt.dropPub})
			if err != nil {
				t.Fatal(err)
			}
			check(true, true, true, 1)
			rep, err := h.src.Drop(ctx, source.DropOptions{Publication: tt.dropPub})
			if err != nil {
				t.Fatal(err)
			}
			keptPub := tt.publication != "" && !tt.dropPub
			check(false, keptPub, false, 0)
			kinds := func(items []source.DropItem) string {
				var k []string
				for _, it := range items {
					k = append(k, it.Kind)
				}
				return strings.Join(k, ",")
			}
			want := "replication slot,publication,signal table rows,snapshot state,snapshot state file"
			switch {
			case keptPub:
				want = "replication slot,signal table rows,snapshot state,snapshot state file"
			case tt.store == storeFile:
				want = "replication slot,publication,signal table rows,snapshot state file"
			}
			if got := kinds(rep.Removed); got != want {
				t.Errorf("removed %s, want %s: %v", got, want, rep.Removed)
			}
			if kinds(plan.Removed) != kinds(rep.Removed) {
				t.Errorf("dry run listed %v, Drop removed %v", plan.Removed, rep.Removed)
			}
			if got := kinds(rep.Kept); (got == "publication") != keptPub {
				t.Errorf("kept %v, want the publication kept: %v", rep.Kept, keptPub)
			}
			// Again: nothing left to remove.
			if again, err := h.src.Drop(ctx, source.DropOptions{Publication: tt.dropPub}); err != nil || len(again.Removed) != 0 {
				t.Errorf("second Drop removed %v (%v), want nothing", again.Removed, err)
			}
		})
	}
}

// TestOwnedListsSluiceSlots: Owned lists the server's pgoutput slots
// named sluice_… or named in names, active or not, with the WAL each
// retains, and no other slot.
func TestOwnedListsSluiceSlots(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	table := "lc_" + h.name
	h.exec("DROP TABLE IF EXISTS " + table)
	h.exec("CREATE TABLE " + table + " (id int PRIMARY KEY, v text)")
	t.Cleanup(func() { h.db.Exec(ctx, "DROP TABLE IF EXISTS "+table) })
	unused, custom, foreign := "sluice_lcunused_"+h.name, "lccustom_"+h.name, "lcforeign_"+h.name
	for _, s := range []string{unused, custom, foreign} {
		h.exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", s)
		t.Cleanup(func() { testenv.DropSlot(t, h.db, s) })
	}
	h.startWith(map[string]any{"tables": []any{table}})
	h.exec("INSERT INTO " + table + " SELECT g, repeat('x', 100) FROM generate_series(1, 1000) g")

	// The test server commits asynchronously (synchronous_commit off):
	// the insert's WAL reaches pg_current_wal_lsn() when the WAL writer
	// writes it, so read until the idle slot shows it.
	var owned []source.OwnedSlot
	got := map[string]source.OwnedSlot{}
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		if owned, err = h.src.Owned(ctx, []string{custom}); err != nil {
			t.Fatal(err)
		}
		clear(got)
		for _, o := range owned {
			got[o.Name] = o
		}
		if got[unused].RetainedBytes >= 100*1000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := got[foreign]; ok {
		t.Errorf("Owned lists %s, which is neither sluice_… nor named", foreign)
	}
	for _, tc := range []struct {
		name   string
		active bool
	}{{"sluice_" + h.name, true}, {unused, false}, {custom, false}} {
		o, ok := got[tc.name]
		switch {
		case !ok:
			t.Errorf("Owned lacks slot %s: %+v", tc.name, owned)
		case o.Kind != source.KindSlot || o.Server != h.src.Owner().Server || o.Database == "":
			t.Errorf("slot %s: %+v", tc.name, o)
		case o.Active == nil || *o.Active != tc.active || tc.active && o.ActivePID == 0:
			t.Errorf("slot %s: active %v pid %d, want %v", tc.name, o.Active, o.ActivePID, tc.active)
		case !tc.active && o.RetainedBytes < 100*1000:
			// 100 KB written since the idle slots were created.
			t.Errorf("slot %s retains %d bytes, want at least what was written since it was created", tc.name, o.RetainedBytes)
		case o.RetainedBytes < 0:
			t.Errorf("slot %s retains %d bytes", tc.name, o.RetainedBytes)
		}
	}
}
