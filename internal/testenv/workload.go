package testenv

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// SQLConn is one database connection a Workload writes through: Exec runs
// one statement, so that BEGIN … COMMIT make one transaction. The
// PostgreSQL and MySQL tests adapt their clients to it.
type SQLConn interface {
	Exec(stmt string) error
	Close()
}

// Workload writes to a table (id bigint primary key, v bigint not null,
// pad text) the way a busy application does, from several connections at
// once, until Stop: single-row inserts, updates (v = v + 1, so a row's
// versions only grow), deletes and primary-key changes, transactions that
// mix them (a key updated twice, a row inserted and deleted, a key changed
// and then updated), and now and then a big transaction (an update of up
// to 1000 rows, 200 inserts, 50 deletes). Some
// inserted rows carry a pad of 8000 random hex digits, a value PostgreSQL
// stores out of line (TOAST), which later updates leave unchanged.
//
// The statements are plain SQL that PostgreSQL and MySQL/MariaDB both
// accept. Each writer owns the keys id % writers == its number and keeps
// the set of its live keys, so every statement hits a row that exists and
// writers seldom wait for each other's locks. The table must hold the keys
// 1 … seeded when the workload starts. A transaction rolled back as a
// deadlock victim is run again; any other failed statement fails the
// test (at Stop).
type Workload struct {
	t     testing.TB
	table string
	stop  atomic.Bool
	wg    sync.WaitGroup
	txs   atomic.Int64 // committed transactions
	big   atomic.Int64 // committed big transactions
	stmts atomic.Int64 // statements in committed transactions
	// retries counts transactions run again after a deadlock.
	retries atomic.Int64
	mu      sync.Mutex
	err     error
}

// WorkloadStats are a stopped Workload's totals.
type WorkloadStats struct {
	Txs, BigTxs, Statements, Retries int64
}

func (s WorkloadStats) String() string {
	return fmt.Sprintf("%d transactions (%d big), %d statements, %d run again after a deadlock", s.Txs, s.BigTxs, s.Statements, s.Retries)
}

// StartWorkload starts writers goroutines, each on its own connection from
// connect, writing to table. seed makes the choice of statements
// repeatable (log it).
func StartWorkload(t testing.TB, table string, seeded, writers int, seed uint64, connect func() (SQLConn, error)) *Workload {
	t.Helper()
	w := &Workload{t: t, table: table}
	for n := range writers {
		conn, err := connect()
		if err != nil {
			w.stop.Store(true)
			w.wg.Wait()
			t.Fatalf("workload: connect: %v", err)
		}
		wr := &writer{w: w, conn: conn, rng: rand.New(rand.NewPCG(seed, uint64(n))), writers: int64(writers), n: int64(n), pos: map[int64]int{}}
		for id := int64(1); id <= int64(seeded); id++ {
			if id%wr.writers == wr.n {
				wr.add(id)
			}
		}
		wr.target = len(wr.live)
		wr.next = int64(seeded) + 1
		for wr.next%wr.writers != wr.n {
			wr.next++
		}
		w.wg.Add(1)
		go wr.run()
	}
	t.Cleanup(func() { w.stop.Store(true); w.wg.Wait() })
	return w
}

// Txs is the number of transactions committed so far.
func (w *Workload) Txs() int64 { return w.txs.Load() }

// WaitTxs waits until n more transactions than now were committed. It
// fails the test when a writer failed or after WaitLimit.
func (w *Workload) WaitTxs(n int64) {
	w.t.Helper()
	want := w.txs.Load() + n
	deadline := time.Now().Add(WaitLimit)
	for w.txs.Load() < want {
		if err := w.failure(); err != nil {
			w.t.Fatalf("workload: %v", err)
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("workload: stuck at %d transactions, waiting for %d", w.txs.Load(), want)
		}
		time.Sleep(pollEvery)
	}
}

// Stop stops the writers after their current transaction, waits for
// them, and returns the totals. It fails the test when a writer failed.
func (w *Workload) Stop() WorkloadStats {
	w.t.Helper()
	w.stop.Store(true)
	w.wg.Wait()
	if err := w.failure(); err != nil {
		w.t.Errorf("workload: %v", err)
	}
	return WorkloadStats{Txs: w.txs.Load(), BigTxs: w.big.Load(), Statements: w.stmts.Load(), Retries: w.retries.Load()}
}

func (w *Workload) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// writer is one connection of a Workload and the keys it owns.
type writer struct {
	w       *Workload
	conn    SQLConn
	rng     *rand.Rand
	writers int64
	n       int64 // owns the keys id % writers == n
	next    int64 // the next new key
	live    []int64
	pos     map[int64]int // index in live
	target  int           // the number of live keys to hover around
}

func (wr *writer) add(id int64) {
	wr.pos[id] = len(wr.live)
	wr.live = append(wr.live, id)
}

func (wr *writer) remove(id int64) {
	i := wr.pos[id]
	last := wr.live[len(wr.live)-1]
	wr.live[i], wr.pos[last] = last, i
	wr.live = wr.live[:len(wr.live)-1]
	delete(wr.pos, id)
}

func (wr *writer) newKey() int64 {
	id := wr.next
	wr.next += wr.writers
	return id
}

// pick returns a live key, or 0 when there is none.
func (wr *writer) pick() int64 {
	if len(wr.live) == 0 {
		return 0
	}
	return wr.live[wr.rng.IntN(len(wr.live))]
}

func (wr *writer) run() {
	defer wr.w.wg.Done()
	defer wr.conn.Close()
	for i := 1; !wr.w.stop.Load(); i++ {
		var stmts []string
		big := i%200 == 0
		switch r := wr.rng.IntN(100); {
		case big:
			stmts = wr.bigTx()
		case r < 70:
			stmts = []string{wr.op()}
		default:
			stmts = []string{"BEGIN"}
			for range 1 + wr.rng.IntN(6) {
				stmts = append(stmts, wr.op())
			}
			stmts = append(stmts, wr.combo()...)
			stmts = append(stmts, "COMMIT")
		}
		if err := wr.exec(stmts); err != nil {
			// The live set now lies, but the workload stops.
			wr.w.mu.Lock()
			if wr.w.err == nil {
				wr.w.err = err
			}
			wr.w.mu.Unlock()
			wr.w.stop.Store(true)
			return
		}
		wr.w.txs.Add(1)
		wr.w.stmts.Add(int64(len(stmts)))
		if big {
			wr.w.big.Add(1)
		}
		time.Sleep(time.Millisecond) // a busy application, not a flood the stream can never catch up with
	}
}

// maxDeadlockRetries bounds how often a transaction the server chose as
// a deadlock victim is run again.
const maxDeadlockRetries = 20

// exec runs one transaction. One the server rolled back as a deadlock
// victim (or a serialization failure) is run again from its start: the
// writers own disjoint keys, but InnoDB's next-key locks on a big
// transaction's key list reach rows between them, so deadlocks happen,
// as in any application, which retries them.
func (wr *writer) exec(stmts []string) error {
	for try := 0; ; try++ {
		err := wr.try(stmts)
		if err == nil || try == maxDeadlockRetries || !deadlock(err) {
			return err
		}
		wr.w.retries.Add(1)
	}
}

func (wr *writer) try(stmts []string) error {
	for _, s := range stmts {
		if err := wr.conn.Exec(s); err != nil {
			if stmts[0] == "BEGIN" {
				wr.conn.Exec("ROLLBACK")
			}
			if len(s) > 200 {
				s = s[:200] + "…"
			}
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// deadlock reports whether err is a transaction rolled back for a
// deadlock or a serialization failure: MySQL's error 1213 and SQLSTATE
// 40001, PostgreSQL's 40P01 and 40001, as their clients spell them.
func deadlock(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "40001") || strings.Contains(msg, "40P01") || strings.Contains(msg, "ERROR 1213")
}

// op returns one statement on a live key (or an insert when there is
// none), updating the live set as if it committed. Inserts and deletes
// keep the number of live keys near where it started.
func (wr *writer) op() string {
	id := wr.pick()
	r := wr.rng.IntN(100)
	grown := len(wr.live) > wr.target+wr.target/5
	if id == 0 || (r < 15 && !grown) || (r < 30 && len(wr.live) < wr.target) {
		return wr.insert()
	}
	switch {
	case r < 30:
		wr.remove(id)
		return fmt.Sprintf("DELETE FROM %s WHERE id = %d", wr.w.table, id)
	case r < 42:
		nid := wr.newKey()
		wr.remove(id)
		wr.add(nid)
		return fmt.Sprintf("UPDATE %s SET id = %d, v = v + 1 WHERE id = %d", wr.w.table, nid, id)
	default:
		return fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = %d", wr.w.table, id)
	}
}

// combo returns statements that change one row several times inside a
// transaction: a row inserted, updated and deleted; a key changed and the
// row updated under its new key; a row updated twice.
func (wr *writer) combo() []string {
	t := wr.w.table
	switch id := wr.pick(); {
	case id == 0 || wr.rng.IntN(3) == 0:
		ins := wr.insert()
		nid := wr.live[len(wr.live)-1]
		wr.remove(nid)
		return []string{ins, fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = %d", t, nid), fmt.Sprintf("DELETE FROM %s WHERE id = %d", t, nid)}
	case wr.rng.IntN(2) == 0:
		nid := wr.newKey()
		wr.remove(id)
		wr.add(nid)
		return []string{fmt.Sprintf("UPDATE %s SET id = %d, v = v + 1 WHERE id = %d", t, nid, id), fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = %d", t, nid)}
	default:
		up := fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id = %d", t, id)
		return []string{up, up}
	}
}

func (wr *writer) insert() string {
	id := wr.newKey()
	wr.add(id)
	return fmt.Sprintf("INSERT INTO %s (id, v, pad) VALUES (%d, 1, '%s')", wr.w.table, id, wr.pad())
}

// pad is a short text, or one time in ten 8000 random hex digits, which
// PostgreSQL cannot compress below its TOAST threshold.
func (wr *writer) pad() string {
	if wr.rng.IntN(10) != 0 {
		return "p" + strconv.Itoa(wr.rng.IntN(1000))
	}
	var b strings.Builder
	for range 1000 {
		fmt.Fprintf(&b, "%08x", wr.rng.Uint32())
	}
	return b.String()
}

// bigTx updates up to 1000 rows the writer owns, inserts 200 rows in one
// statement, deletes 50 and changes two keys, in one transaction. The
// rows are named by key (not by a scan, which InnoDB would lock whole,
// other writers' rows included).
func (wr *writer) bigTx() []string {
	// Up to 1000 live rows from a random place in the (unordered) live set.
	from := wr.rng.IntN(len(wr.live) + 1)
	var ids []string
	for _, id := range wr.live[from:min(len(wr.live), from+1000)] {
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	stmts := []string{"BEGIN"}
	if len(ids) > 0 {
		stmts = append(stmts, fmt.Sprintf("UPDATE %s SET v = v + 1 WHERE id IN (%s)", wr.w.table, strings.Join(ids, ", ")))
	}
	var vals []string
	for range 200 {
		id := wr.newKey()
		wr.add(id)
		vals = append(vals, fmt.Sprintf("(%d, 1, 'big%d')", id, id))
	}
	stmts = append(stmts, fmt.Sprintf("INSERT INTO %s (id, v, pad) VALUES %s", wr.w.table, strings.Join(vals, ", ")))
	var del []string
	for range min(50, len(wr.live)/2) {
		id := wr.pick()
		wr.remove(id)
		del = append(del, strconv.FormatInt(id, 10))
	}
	if len(del) > 0 {
		stmts = append(stmts, fmt.Sprintf("DELETE FROM %s WHERE id IN (%s)", wr.w.table, strings.Join(del, ", ")))
	}
	for range 2 {
		if id := wr.pick(); id != 0 {
			nid := wr.newKey()
			wr.remove(id)
			wr.add(nid)
			stmts = append(stmts, fmt.Sprintf("UPDATE %s SET id = %d, v = v + 1 WHERE id = %d", wr.w.table, nid, id))
		}
	}
	return append(stmts, "COMMIT")
}
