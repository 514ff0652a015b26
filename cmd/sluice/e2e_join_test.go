package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The shape of the join consistency runs: customers (few, so that they
// change often while orders refer to them), orders, writer connections,
// and the transactions of the run without kills.
const (
	jcCustomers = 10
	jcOrders    = 300
	jcWriters   = 4
	jcTxs       = 2400
	jcKills     = 3
)

// TestJoinConsistency: PostgreSQL → Kafka through the join transform
// under concurrent writers. Each order write reads its customer's version
// FOR SHARE (so the customer cannot change before the order commits) and
// records it in jc_history beside the order's revision; some transactions
// update a customer and then write orders of that customer (which see the
// new version), one of them twice. The join must enrich every order event
// with the customer as of the event's own position: after.customer.version
// equals the history's version for (after.id, after.rev), and the name is
// that version's. Every history row has its event; the customers' own
// events still reach their topic.
//
// kill_9 does the same while the daemon is killed with kill -9 and
// restarted during the load: at-least-once, a replayed event must carry
// the version it carried the first time.
func TestJoinConsistency(t *testing.T) {
	t.Run("steady", func(t *testing.T) { jcRun(t, false) })
	t.Run("kill_9", func(t *testing.T) { jcRun(t, true) })
}

// jcEnv is one run's env and its tables.
type jcEnv struct {
	*env
	customers, orders, history string
}

func jcNewEnv(t *testing.T) *jcEnv {
	t.Helper()
	n := time.Now().UnixNano() % 1000000
	c, o, h := fmt.Sprintf("jc_customers_%d", n), fmt.Sprintf("jc_orders_%d", n), fmt.Sprintf("jc_history_%d", n)
	e := newEnv(t, fmt.Sprintf(`DROP TABLE IF EXISTS %[1]s, %[2]s, %[3]s;
		CREATE TABLE %[1]s (id int PRIMARY KEY, name text NOT NULL, version int NOT NULL);
		CREATE TABLE %[2]s (id int PRIMARY KEY, customer_id int NOT NULL, rev int NOT NULL, note text);
		CREATE TABLE %[3]s (order_id int, rev int, customer_id int NOT NULL, customer_version int NOT NULL, PRIMARY KEY (order_id, rev));
		INSERT INTO %[1]s SELECT g, 'c' || g || '-v1', 1 FROM generate_series(1, %[4]d) g`, c, o, h, jcCustomers))
	t.Cleanup(func() { e.exec(fmt.Sprintf("DROP TABLE IF EXISTS %s, %s, %s", c, o, h)) })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.admin = freeAddr(t)
	e.writeDaemon(fmt.Sprintf(`type: postgres
dsn: %q
tables: [public.%s, public.%s]
status_interval: 1s
drain_timeout: 20s
snapshot: {mode: initial}`, e.pgDSN, c, o), fmt.Sprintf(`kafka:
  brokers: [%s]
  linger: 1ms
  topic_creation: {partitions: 3}`, e.brokers))
	e.addPipelineKey(`transforms:
  - type: join
    tables: [public.%s]
    lookup: public.%s
    on: {customer_id: id}
    as: customer
    columns: [name, version]`, o, c)
	return &jcEnv{env: e, customers: c, orders: o, history: h}
}

func jcRun(t *testing.T, kill bool) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("seed %d", seed)
	e := jcNewEnv(t)
	began := time.Now()
	d := e.start()
	// Changes made while the initial snapshot runs may reach a topic
	// before the snapshot's rows (DESIGN.md): write once it is done.
	e.waitUntil(t, "the initial snapshot", time.Minute, e.snapshotDone)

	maxTxs := int64(jcTxs)
	if kill {
		maxTxs = 0 // until stopped, once the kills are done
	}
	loadBegan := time.Now()
	load := jcStartLoad(t, e, seed, maxTxs)
	if kill {
		for k := 1; k <= jcKills; k++ {
			seen := e.waitEvents(t, d, float64(300+rng.IntN(1200)))
			d.stop(t, syscall.SIGKILL)
			backlog := int64(rng.IntN(300))
			load.waitMore(t, backlog)
			t.Logf("kill -9 #%d after %.0f events (load at %d transactions); restart after %d more", k, seen, load.txs.Load(), backlog)
			d = e.launch()
		}
		e.waitEvents(t, d, 300) // the last daemon streams under load too
	}
	load.finish(t)
	writing := time.Since(loadBegan)

	e.caughtUp(t)
	history := e.jcHistory(t)
	recs := e.consumeAll([]string{e.name + ".public." + e.orders})
	custRecs := e.consumeAll([]string{e.name + ".public." + e.customers})
	e.jcCheck(t, recs, history, !kill)

	var custUpdates, custReads int
	for _, r := range custRecs {
		switch opOf(r) {
		case "u":
			custUpdates++
		case "r":
			custReads++
		}
	}
	t.Logf("%d transactions (%d customer updates, %d deadlock retries) in %v; %d order records for %d history rows; %d customer records (%d r, %d u); %v in all",
		load.txs.Load(), load.custUpdates.Load(), load.retries.Load(), writing.Round(time.Millisecond),
		len(recs), len(history), len(custRecs), custReads, custUpdates, time.Since(began).Round(time.Millisecond))
	if len(custRecs) == 0 {
		t.Errorf("no records on the customers' topic")
	}
	if custReads < jcCustomers || int64(custUpdates) < load.custUpdates.Load() || !kill && int64(custUpdates) != load.custUpdates.Load() {
		t.Errorf("customers' topic: %d reads, %d updates; want %d reads and %d updates", custReads, custUpdates, jcCustomers, load.custUpdates.Load())
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// jcKey is an order's revision: the history's primary key.
type jcKey struct{ order, rev int64 }

// jcHist is what a history row recorded for an order's revision.
type jcHist struct{ customer, version int64 }

func (e *jcEnv) jcHistory(t *testing.T) map[jcKey]jcHist {
	t.Helper()
	e.reconnect()
	rows, err := e.db.Query(context.Background(), "SELECT order_id, rev, customer_id, customer_version FROM "+e.history)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[jcKey]jcHist{}
	for rows.Next() {
		var k jcKey
		var h jcHist
		if err := rows.Scan(&k.order, &k.rev, &h.customer, &h.version); err != nil {
			t.Fatal(err)
		}
		out[k] = h
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// jcCheck compares the orders' records with the history: every c or u
// event carries the customer (id, name and version) the history recorded
// for its revision, and every history row has its event. With once, an
// event may not appear twice (a run without kills); else a duplicate must
// carry what the first one carried.
func (e *jcEnv) jcCheck(t *testing.T, recs []record, history map[jcKey]jcHist, once bool) {
	t.Helper()
	seen := map[jcKey]int64{} // version carried
	dups, bad := 0, 0
	report := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	for _, r := range recs {
		if r.value == nil {
			report("order record %s at %d/%d: a tombstone, but no order is deleted", r.key, r.partition, r.offset)
			continue
		}
		var v struct {
			Op    string `json:"op"`
			After *struct {
				ID         int64 `json:"id"`
				CustomerID int64 `json:"customer_id"`
				Rev        int64 `json:"rev"`
				Customer   *struct {
					Name    string `json:"name"`
					Version int64  `json:"version"`
				} `json:"customer"`
			} `json:"after"`
		}
		if err := json.Unmarshal(r.value, &v); err != nil {
			t.Fatalf("order record at %d/%d: %v: %s", r.partition, r.offset, err, r.value)
		}
		if v.Op != "c" && v.Op != "u" {
			report("order record at %d/%d: op %q, want c or u: %s", r.partition, r.offset, v.Op, r.value)
			continue
		}
		if v.After == nil {
			report("order record at %d/%d: no after: %s", r.partition, r.offset, r.value)
			continue
		}
		a := v.After
		k := jcKey{a.ID, a.Rev}
		h, ok := history[k]
		carried := int64(-1) // the version the event carries, -1: none
		if a.Customer != nil {
			carried = a.Customer.Version
		}
		switch {
		case !ok:
			report("order %d rev %d: an event (at %d/%d) but no history row: %s", a.ID, a.Rev, r.partition, r.offset, r.value)
		case a.Customer == nil:
			first := "no event before it"
			if p, dup := seen[k]; dup {
				first = fmt.Sprintf("an event before it carried version %d", p)
			}
			report("order %d rev %d: after.customer is null, the order was written with version %d; %s (event at %d/%d, event id %s): %s",
				a.ID, a.Rev, h.version, first, r.partition, r.offset, r.headers["sluice.event.id"], r.value)
		case h.customer != a.CustomerID:
			report("order %d rev %d: customer_id %d, the history recorded %d: %s", a.ID, a.Rev, a.CustomerID, h.customer, r.value)
		case h.version != a.Customer.Version:
			report("order %d rev %d: after.customer.version %d, the order was written with version %d (event at %d/%d, event id %s): %s",
				a.ID, a.Rev, a.Customer.Version, h.version, r.partition, r.offset, r.headers["sluice.event.id"], r.value)
		case a.Customer.Name != fmt.Sprintf("c%d-v%d", a.CustomerID, a.Customer.Version):
			report("order %d rev %d: after.customer.name %q is not version %d's name: %s", a.ID, a.Rev, a.Customer.Name, a.Customer.Version, r.value)
		}
		if prev, dup := seen[k]; dup {
			dups++
			if once {
				report("order %d rev %d: a second event (at %d/%d) in a run without failures", a.ID, a.Rev, r.partition, r.offset)
			} else if prev != carried && prev != -1 && carried != -1 { // a null one is reported above
				report("order %d rev %d: a replayed event (at %d/%d) carries version %d, the first one %d", a.ID, a.Rev, r.partition, r.offset, carried, prev)
			}
			continue
		}
		seen[k] = carried
	}
	missing := 0
	for k, h := range history {
		if _, ok := seen[k]; !ok {
			if missing++; missing <= 10 {
				t.Errorf("order %d rev %d (customer %d version %d): no event", k.order, k.rev, h.customer, h.version)
			}
		}
	}
	t.Logf("%d order records: %d revisions, %d duplicates, %d wrong; %d history rows without an event", len(recs), len(seen), dups, bad, missing)
}

// jcLoad is the concurrent writers: customer updates, order writes that
// record the customer's version they saw, and transactions that update a
// customer and then write its orders.
type jcLoad struct {
	e    *jcEnv
	max  int64 // transactions to write, 0: until stopped
	stop atomic.Bool
	// started counts the transactions begun, txs those committed.
	started, txs, custUpdates, retries atomic.Int64
	wg                                 sync.WaitGroup
	mu                                 sync.Mutex
	err                                error
}

func jcStartLoad(t *testing.T, e *jcEnv, seed uint64, max int64) *jcLoad {
	t.Helper()
	l := &jcLoad{e: e, max: max}
	for n := range jcWriters {
		conn, err := pgx.Connect(context.Background(), e.pgDSN)
		if err != nil {
			l.stop.Store(true)
			l.wg.Wait()
			t.Fatalf("load: connect: %v", err)
		}
		l.wg.Add(1)
		go l.run(conn, rand.New(rand.NewPCG(seed, uint64(10+n))))
	}
	t.Cleanup(func() { l.stop.Store(true); l.wg.Wait() })
	return l
}

func (l *jcLoad) fail(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.stop.Store(true)
}

func (l *jcLoad) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *jcLoad) run(conn *pgx.Conn, rng *rand.Rand) {
	defer l.wg.Done()
	defer conn.Close(context.Background())
	ctx := context.Background()
	for !l.stop.Load() {
		if l.started.Add(1) > l.max && l.max > 0 {
			return
		}
		cust := 1 + rng.Int64N(jcCustomers)
		var body func(pgx.Tx) error
		updates := int64(0)
		switch p := rng.IntN(100); {
		case p < 30: // a customer changes
			updates = 1
			body = func(tx pgx.Tx) error { return jcUpdateCustomer(ctx, tx, l.e.customers, cust) }
		case p < 75: // an order is written (or moves to another customer)
			order := 1 + rng.Int64N(jcOrders)
			body = func(tx pgx.Tx) error { return l.writeOrder(ctx, tx, order, cust) }
		default: // a customer changes, then its orders are written, the second after another change
			o1, o2 := 1+rng.Int64N(jcOrders), 1+rng.Int64N(jcOrders)
			if o2 < o1 { // orders locked in id order: no deadlock between two such transactions
				o1, o2 = o2, o1
			}
			twice := rng.IntN(2) == 0
			updates = 1
			if twice {
				updates = 2
			}
			body = func(tx pgx.Tx) error {
				if err := jcUpdateCustomer(ctx, tx, l.e.customers, cust); err != nil {
					return err
				}
				if err := l.writeOrder(ctx, tx, o1, cust); err != nil || !twice {
					return err
				}
				if err := jcUpdateCustomer(ctx, tx, l.e.customers, cust); err != nil {
					return err
				}
				return l.writeOrder(ctx, tx, o2, cust)
			}
		}
		for {
			err := pgx.BeginFunc(ctx, conn, body)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001") {
				l.retries.Add(1)
				continue
			}
			if err != nil {
				l.fail(err)
				return
			}
			break
		}
		l.custUpdates.Add(updates)
		l.txs.Add(1)
	}
}

// jcUpdateCustomer gives a customer its next version and that version's name.
func jcUpdateCustomer(ctx context.Context, tx pgx.Tx, table string, cust int64) error {
	_, err := tx.Exec(ctx, "UPDATE "+table+" SET version = version + 1, name = 'c' || id || '-v' || (version + 1) WHERE id = $1", cust)
	return err
}

// writeOrder writes the next revision of an order of customer cust
// (inserting it, or moving it to cust) and records in the history the
// customer's version, locked until the commit.
func (l *jcLoad) writeOrder(ctx context.Context, tx pgx.Tx, order, cust int64) error {
	var version, rev int64
	if err := tx.QueryRow(ctx, "SELECT version FROM "+l.e.customers+" WHERE id = $1 FOR SHARE", cust).Scan(&version); err != nil {
		return err
	}
	o := l.e.orders
	err := tx.QueryRow(ctx, "INSERT INTO "+o+" (id, customer_id, rev, note) VALUES ($1, $2, 1, $3) "+
		"ON CONFLICT (id) DO UPDATE SET customer_id = EXCLUDED.customer_id, rev = "+o+".rev + 1, note = EXCLUDED.note RETURNING rev",
		order, cust, fmt.Sprintf("seen v%d", version)).Scan(&rev)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, "INSERT INTO "+l.e.history+" VALUES ($1, $2, $3, $4)", order, rev, cust, version)
	return err
}

// waitMore waits until n more transactions than now were committed.
func (l *jcLoad) waitMore(t *testing.T, n int64) {
	t.Helper()
	want := l.txs.Load() + n
	deadline := time.Now().Add(time.Minute)
	for l.txs.Load() < want {
		if err := l.failure(); err != nil {
			t.Fatalf("load: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("load: stuck at %d transactions, waiting for %d", l.txs.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finish waits for the writers to write their transactions (with a
// bound) or stops them (without), and fails the test when one failed.
func (l *jcLoad) finish(t *testing.T) {
	t.Helper()
	if l.max == 0 {
		l.stop.Store(true)
	}
	l.wg.Wait()
	if err := l.failure(); err != nil {
		t.Fatalf("load: %v", err)
	}
}
