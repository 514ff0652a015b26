package main

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// opsOf counts a topic's records by op and by source.snapshot.
func (e *env) opsOf(t *testing.T, topic string) (ops map[string]int, snapshot map[string]int) {
	t.Helper()
	ops, snapshot = map[string]int{}, map[string]int{}
	for _, r := range e.consumeAll([]string{topic}) {
		if r.value == nil {
			continue
		}
		var v struct {
			Op     string `json:"op"`
			Source struct {
				Snapshot string `json:"snapshot"`
			} `json:"source"`
		}
		if err := json.Unmarshal(r.value, &v); err != nil {
			t.Fatalf("%s: %v", r.value, err)
		}
		ops[v.Op]++
		if v.Op == "r" {
			snapshot[v.Source.Snapshot]++
		}
	}
	return ops, snapshot
}

// TestTableJoinsPipeline: a daemon captures orders; customers is added
// to the YAML and the daemon restarted. customers' rows arrive as
// incremental snapshot reads and its changes stream; orders' changes
// made while the daemon was down arrive, and orders is not read again.
func TestTableJoinsPipeline(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_tj_orders, e2e_tj_customers;
		CREATE TABLE e2e_tj_orders (id int PRIMARY KEY, v bigint NOT NULL);
		CREATE TABLE e2e_tj_customers (id int PRIMARY KEY, v bigint NOT NULL);
		INSERT INTO e2e_tj_orders SELECT g, 0 FROM generate_series(1, 100) g;
		INSERT INTO e2e_tj_customers SELECT g, 0 FROM generate_series(1, 50) g`)
	t.Cleanup(func() {
		e.exec(`DROP TABLE IF EXISTS e2e_tj_orders, e2e_tj_customers`)
		e.exec(`DELETE FROM public.sluice_state WHERE slot = $1`, "sluice_"+e.name)
	})
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	orders, customers := e.name+".public.e2e_tj_orders", e.name+".public.e2e_tj_customers"
	const snap = "snapshot: {mode: initial, chunk_size: 20}"

	e.writeConfig([]string{"public.e2e_tj_orders"}, snap, "")
	d := e.start()
	e.waitUntil(t, "the initial snapshot", 2*time.Minute, e.snapshotDone)
	e.exec(`UPDATE e2e_tj_orders SET v = 1 WHERE id <= 10`)
	e.caughtUp(t)
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	// Changes while the daemon is down: orders' must stream at the
	// restart, customers' is read by its snapshot.
	e.exec(`UPDATE e2e_tj_orders SET v = 2 WHERE id <= 5`)
	e.exec(`UPDATE e2e_tj_customers SET v = 2 WHERE id <= 5`)
	e.writeConfig([]string{"public.e2e_tj_orders", "public.e2e_tj_customers"}, snap, "")
	d = e.start()
	e.exec(`UPDATE e2e_tj_customers SET v = 3 WHERE id % 10 = 0`)
	e.exec(`INSERT INTO e2e_tj_customers VALUES (51, 3)`)
	e.exec(`UPDATE e2e_tj_orders SET v = 3 WHERE id > 90`)
	e.waitUntil(t, "customers' snapshot", 2*time.Minute, e.snapshotDone)
	e.caughtUp(t)

	got, reads := e.kafkaState(t, orders)
	testenv.SameState(t, got, e.tableState(t, "e2e_tj_orders"))
	if reads != 100 {
		t.Errorf("orders: %d snapshot reads, want the initial snapshot's 100 only (no second snapshot)", reads)
	}
	if ops, _ := e.opsOf(t, orders); ops["u"] != 10+5+10 {
		t.Errorf("orders: %d updates, want 25 (no gap): %v", ops["u"], ops)
	}
	got, reads = e.kafkaState(t, customers)
	testenv.SameState(t, got, e.tableState(t, "e2e_tj_customers"))
	// A chunk leaves out the rows changed while it was read (their
	// change streams instead): up to 5 of the 50, plus 51 if it was read.
	if reads < 45 || reads > 51 {
		t.Errorf("customers: %d snapshot reads, want its 50 rows less those updated during their chunk", reads)
	}
	ops, kinds := e.opsOf(t, customers)
	if kinds["incremental"] != reads {
		t.Errorf("customers: reads by source.snapshot %v, want all incremental", kinds)
	}
	// The update made while the daemon was down precedes the table's
	// ALTER PUBLICATION in the WAL: not streamed, its rows are read.
	if ops["c"] != 1 || ops["u"] != 5 {
		t.Errorf("customers: ops %v, want the insert and the 5 updates made after the restart streamed, and no other", ops)
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
