package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/source"
)

// TestHeartbeatActionQuery: the statement runs at every heartbeat while
// the source streams; a failing one does not stop the stream.
func TestHeartbeatActionQuery(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS hb; CREATE TABLE hb (id int PRIMARY KEY, n int NOT NULL); INSERT INTO hb VALUES (1, 0);
		DROP TABLE IF EXISTS hb_captured; CREATE TABLE hb_captured (id int PRIMARY KEY)`)
	t.Cleanup(func() { h.exec(`DROP TABLE IF EXISTS hb; DROP TABLE IF EXISTS hb_captured`) })
	h.startWith(map[string]any{"tables": []any{"public.hb_captured"}, "heartbeat_interval": "100ms",
		"heartbeat_action_query": "UPDATE hb SET n = n + 1"})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := h.db.QueryRow(context.Background(), "SELECT n FROM hb").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the heartbeat ran %d times in 30s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.stop()

	h.startWith(map[string]any{"tables": []any{"public.hb_captured"}, "heartbeat_interval": "100ms",
		"heartbeat_action_query": "UPDATE hb_no_such_table SET n = 1"})
	time.Sleep(300 * time.Millisecond) // a few failing heartbeats
	h.exec(`INSERT INTO hb_captured VALUES (1)`)
	if evs := h.wait(1); len(evs) != 1 {
		t.Fatalf("got %d events while the heartbeat fails", len(evs))
	}
	h.stop()
}

// TestHeartbeatConfig: interval and query go together, within bounds.
func TestHeartbeatConfig(t *testing.T) {
	for _, c := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"heartbeat_interval": "10s"}, "src.heartbeat_action_query: required"},
		{map[string]any{"heartbeat_action_query": "SELECT 1"}, "src.heartbeat_interval: required"},
		{map[string]any{"heartbeat_interval": "10ms", "heartbeat_action_query": "SELECT 1"}, "outside 100ms to 24h"},
		{map[string]any{"heartbeat_records": true}, "src.heartbeat_interval: required with heartbeat_records"},
	} {
		c.raw["dsn"] = "postgres://u@h/db"
		_, err := source.Build(New, c.raw, testEnv())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.raw, err, c.want)
		}
	}
	if _, err := source.Build(New, map[string]any{"dsn": "postgres://u@h/db", "heartbeat_interval": "5s", "heartbeat_action_query": "SELECT 1"}, testEnv()); err != nil {
		t.Errorf("valid heartbeat: %v", err)
	}
	if _, err := source.Build(New, map[string]any{"dsn": "postgres://u@h/db", "heartbeat_interval": "5s", "heartbeat_records": true}, testEnv()); err != nil {
		t.Errorf("heartbeat records without an action query: %v", err)
	}
}
