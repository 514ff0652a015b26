package mysql

import (
	"fmt"
	"strings"
	"testing"
)

// Every event carries the server's identity (MySQL: server_uuid; MariaDB:
// server_id), followed by the operator's epoch key, as its position's epoch.
func TestEventsCarryTheServerEpoch(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS epoch_rows", "CREATE TABLE epoch_rows (id int PRIMARY KEY)")
	t.Cleanup(func() { h.exec("DROP TABLE IF EXISTS epoch_rows") })
	r, err := h.db.Execute("SELECT @@server_id, @@version")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := r.GetInt(0, 0)
	version, _ := r.GetString(0, 1)
	h.start(map[string]any{"tables": []any{"epoch_rows"}, "epoch": "reset-3"})
	h.streaming()
	h.exec("INSERT INTO epoch_rows VALUES (1)")
	ev := h.c.Wait(1)[0]
	want := fmt.Sprintf("mariadb:%d/reset-3", id)
	if !strings.Contains(version, "MariaDB") {
		r, err := h.db.Execute("SELECT @@server_uuid")
		if err != nil {
			t.Fatal(err)
		}
		uuid, _ := r.GetString(0, 0)
		want = "mysql:" + uuid + "/reset-3"
	}
	if ev.Pos.Epoch != want {
		t.Errorf("epoch = %q, want %q", ev.Pos.Epoch, want)
	}
}
