package mysql

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
)

// TestDropRemovesOffset: Owned reports the stored binlog position with
// the binlog bytes the server wrote since; a dry run of Drop removes
// nothing; Drop removes the offset from its store (the file, or the
// Kafka record by a tombstone) and the signal table's rows, after which
// Owned has nothing.
func TestDropRemovesOffset(t *testing.T) {
	for _, store := range []string{"file", "kafka"} {
		t.Run(store, func(t *testing.T) {
			h := newHarness(t)
			ctx := context.Background()
			table, signal := "lc_"+store, "lc_"+store+"_signal"
			h.exec("DROP TABLE IF EXISTS "+table, "DROP TABLE IF EXISTS "+signal, "CREATE TABLE "+table+" (id int PRIMARY KEY, v varchar(200))")
			t.Cleanup(func() { h.db.Execute("DROP TABLE IF EXISTS " + table + ", " + signal) })
			offsets := map[string]any{"flush_interval": "20ms"}
			var brokers []string
			topic := fmt.Sprintf("sluice_test_lc_%s_%s", h.name, store)
			if store == "kafka" {
				b := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
				brokers = strings.Split(b, ",")
				testenv.DeleteTopicsAtEnd(t, b, topic)
				offsets = map[string]any{"flush_interval": "20ms", "store": "kafka", "brokers": b, "topic": topic}
			}
			extra := map[string]any{"tables": []any{table}, "offsets": offsets, "signal_table": signal}
			h.start(extra)
			h.streaming()
			h.exec("INSERT INTO "+signal+" VALUES ('lc-1', 'log', '{\"message\": \"retiring\"}')", "INSERT INTO "+table+" VALUES (1, 'a')")
			h.wait(1)
			if err := h.stop(); err != nil {
				t.Fatal(err)
			}
			src := h.newSource(extra)
			stored := func() bool {
				t.Helper()
				o, err := src.storedOffset(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return o != nil
			}
			if !stored() {
				t.Fatal("no offset stored after a clean stop")
			}
			// The server writes on; the stored position stays behind.
			for i := 2; i < 12; i++ {
				h.exec(fmt.Sprintf("INSERT INTO %s VALUES (%d, REPEAT('x', 200))", table, i))
			}
			owned, err := src.Owned(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(owned) != 1 {
				t.Fatalf("Owned = %+v, want the stored position", owned)
			}
			o := owned[0]
			if o.Kind != source.KindBinlog || o.Server != src.Owner().Server || !strings.Contains(o.Name, ":") || o.Active != nil {
				t.Errorf("Owned = %+v", o)
			}
			if o.RetainedBytes < 10*200 {
				t.Errorf("retained %d bytes, want at least the 2000 written since the position", o.RetainedBytes)
			}

			plan, err := src.Drop(ctx, source.DropOptions{DryRun: true})
			if err != nil {
				t.Fatal(err)
			}
			signalRows := func() string {
				t.Helper()
				r, err := h.db.Execute("SELECT COUNT(*) FROM " + signal)
				if err != nil {
					t.Fatal(err)
				}
				n, _ := r.GetString(0, 0)
				return n
			}
			if len(plan.Removed) != 2 || !stored() || signalRows() != "1" {
				t.Fatalf("dry run: listed %v, offset still stored %v, %s signal row(s); want two items, still stored, 1 row", plan.Removed, stored(), signalRows())
			}
			rep, err := src.Drop(ctx, source.DropOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Removed) != 2 || rep.Removed[0].Kind != plan.Removed[0].Kind || rep.Removed[1].Kind != "signal table rows" {
				t.Errorf("removed %v, want %v", rep.Removed, plan.Removed)
			}
			if stored() || signalRows() != "0" {
				t.Errorf("after Drop: offset still stored %v, %s signal row(s); want none", stored(), signalRows())
			}
			switch store {
			case "file":
				if _, err := os.Stat(src.offsetFile()); !os.IsNotExist(err) {
					t.Errorf("offset file: %v, want it gone", err)
				}
			case "kafka":
				v, err := source.KafkaKeyValue(ctx, brokers, nil, topic, []byte(h.name))
				if err != nil || v != nil {
					t.Errorf("offsets topic holds %q (%v) for %s, want a tombstone", v, err, h.name)
				}
			}
			if owned, err := src.Owned(ctx, nil); err != nil || len(owned) != 0 {
				t.Errorf("Owned after Drop = %+v (%v), want nothing", owned, err)
			}
			if again, err := src.Drop(ctx, source.DropOptions{}); err != nil || len(again.Removed) != 0 {
				t.Errorf("second Drop removed %v (%v), want nothing", again.Removed, err)
			}
		})
	}
}
