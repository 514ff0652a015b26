package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// TestSlotRetentionReported: the source reports what its slot retains
// (bytes, wal_status, safe size) and whether it is above wal_warn_bytes,
// while it streams.
func TestSlotRetentionReported(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS retained; CREATE TABLE retained (id int PRIMARY KEY, pad text)`)
	h.startWith(map[string]any{"tables": []any{"public.retained"}, "slot_check_interval": "1s", "wal_warn_bytes": 1})
	defer h.stop()
	var r sluice.Retention
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		h.exec(`INSERT INTO retained VALUES ($1, repeat('x', 2000))`, i)
		if r = h.src.Retention(); r.Known && r.OverThreshold {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reading above a threshold of 1 byte in 30s: %+v", r)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r.RetainedBytes <= 1 || r.LagBytes < 0 || r.RetainedBytes < r.LagBytes {
		t.Errorf("retained %d, lag %d", r.RetainedBytes, r.LagBytes)
	}
	switch r.Status {
	case "reserved", "extended":
	default:
		t.Errorf("wal_status %q", r.Status)
	}
	if r.SafeBytes != -1 && r.SafeBytes <= 0 {
		t.Errorf("safe_wal_size %d", r.SafeBytes)
	}
}

// TestInvalidatedSlotIsPermanent: a slot the server invalidated
// (max_slot_wal_keep_size exceeded while nothing read it) stops the
// source with a permanent error that says how to recover, instead of a
// crash loop.
func TestInvalidatedSlotIsPermanent(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.exec(`DROP TABLE IF EXISTS lost; CREATE TABLE lost (id int PRIMARY KEY, pad text)`)
	h.exec(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, "sluice_"+h.name)
	// The smallest limit; restored at the end for the other tests.
	h.exec(`ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`)
	t.Cleanup(func() {
		h.exec(`ALTER SYSTEM RESET max_slot_wal_keep_size`)
		h.exec(`SELECT pg_reload_conf()`)
	})
	h.exec(`SELECT pg_reload_conf()`)
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; ; i++ {
		var status string
		if err := h.db.QueryRow(ctx, "SELECT COALESCE(wal_status, '') FROM pg_replication_slots WHERE slot_name = $1", "sluice_"+h.name).Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status == "lost" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot was not invalidated within 60s (wal_status %s)", status)
		}
		// Fill and switch WAL segments, then checkpoint: the checkpoint
		// invalidates slots behind the limit.
		h.exec(`INSERT INTO lost SELECT g, repeat('x', 1000) FROM generate_series($1::int * 1000, $1::int * 1000 + 999) g`, i)
		h.exec(`SELECT pg_switch_wal()`)
		h.exec(`CHECKPOINT`)
	}
	// snapshot.mode initial: the lost slot is reported before the
	// snapshot state (unknown here) is looked at.
	src := h.newSource(map[string]any{"tables": []any{"public.lost"}, "snapshot": map[string]any{"mode": "initial"}})
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := src.Run(runCtx, func(*sluice.Event) error { return nil })
	if !errors.Is(err, ErrSlotLost) || !sluice.IsPermanent(err) {
		t.Fatalf("Run = %v, want a permanent ErrSlotLost", err)
	}
	for _, want := range []string{"pg_drop_replication_slot('sluice_" + h.name + "')", "snapshot.mode: when_needed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}
