package mysql

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestSilentConnectionIsDetected: when the network to the server goes
// silent (no reset, no close), the stream notices within a few heartbeat
// periods and Run returns an error, so the pipeline restarts from its
// offset, instead of waiting forever.
func TestSilentConnectionIsDetected(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS stall", "CREATE TABLE stall (id int PRIMARY KEY)")
	h.dropAfter("stall")
	d, err := parseDSN(h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	f := testenv.NewFreezer(t, d.addr())
	h.start(map[string]any{"dsn": fmt.Sprintf("%s:%s@tcp(%s)/%s", d.User, d.Password, f.Addr(), d.DB),
		"tables": []any{"stall"}, "heartbeat": "1s"})
	h.streaming()
	h.exec("INSERT INTO stall VALUES (1)")
	h.wait(1)

	f.Freeze()
	select {
	case <-h.c.Done():
		if err := h.stop(); err == nil || !strings.Contains(err.Error(), "no binlog event or heartbeat") {
			t.Fatalf("Run returned %v, want the stall error", err)
		}
	case <-time.After(3*time.Second*stallTicks + closeTimeout + 10*time.Second):
		t.Fatal("the source did not notice the silent connection")
	}
}
