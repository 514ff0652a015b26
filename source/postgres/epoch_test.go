package postgres

import (
	"context"
	"fmt"
	"testing"
)

// Every event carries the cluster's identity and timeline, followed by the
// operator's epoch key, as its position's epoch.
func TestEventsCarryTheClusterEpoch(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS epoch_rows")
	h.exec("CREATE TABLE epoch_rows (id int PRIMARY KEY)")
	t.Cleanup(func() { h.exec("DROP TABLE IF EXISTS epoch_rows") })
	var sysid string
	var tli int
	if err := h.db.QueryRow(context.Background(), "SELECT system_identifier::text, timeline_id FROM pg_control_checkpoint(), pg_control_system()").Scan(&sysid, &tli); err != nil {
		t.Fatal(err)
	}
	h.startWith(map[string]any{"tables": []string{"public.epoch_rows"}, "epoch": "restored-2"})
	h.exec("INSERT INTO epoch_rows VALUES (1)")
	ev := h.c.Wait(1)[0]
	if want := fmt.Sprintf("postgresql:%s:%d/restored-2", sysid, tli); ev.Pos.Epoch != want {
		t.Errorf("epoch = %q, want %q", ev.Pos.Epoch, want)
	}
}
