package testenv

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// ConformanceHarness connects SourceConformance to one database. A
// source's test package implements it on top of the harness it already
// has; every method fails the test itself when something goes wrong.
type ConformanceHarness interface {
	// Exec runs SQL statements one by one on one connection, so that
	// BEGIN … COMMIT make one transaction.
	Exec(stmts ...string)
	// NewSource builds a source that captures only table (an unqualified
	// name in the test's database or schema) and takes no snapshot. The
	// sources a harness builds in one test share one resume position (a
	// replication slot, an offset store): each resumes where the one
	// before it stopped. The harness removes what they leave behind
	// (slots, publications, offsets) when the test ends.
	NewSource(table string) sluice.Source
	// Streaming returns once the source c runs follows the change log:
	// a transaction committed from then on is delivered.
	Streaming(c *Collector)
}

// conformanceTable is the table SourceConformance writes: the columns
// are integers, n is the row's index in transaction tx.
const conformanceTable = "sluice_conformance"

// The shape of the conformance run: transactions of conformanceRows rows;
// conformanceTxs before the restart, of which the first conformanceAcked
// are confirmed.
const (
	conformanceTxs   = 6
	conformanceRows  = 3
	conformanceAcked = 3
)

// SourceConformance checks, against a real database, what the pipeline
// relies on from every source (plugin.go, DESIGN.md "Delivery
// guarantee"):
//
//   - marks come only at transaction boundaries: after the last event of
//     each transaction a mark follows before the next transaction's first
//     event, and no mark falls inside a transaction;
//   - the positions (Pos.TxLSN) of marks only grow, also across restarts;
//   - resume at the first unconfirmed transaction: with marks confirmed in
//     order up to the end of transaction k and the source stopped, a new
//     source delivers every transaction after k again, complete and in
//     order (events after k may repeat), and none up to k;
//   - a restart after everything was confirmed delivers nothing older
//     than the confirmed position.
//
// The runner confirms marks in the order they were emitted, so "out of
// order" acknowledgement reaches a source only as confirmations that
// stop short of what was read: that is the resume check.
func SourceConformance(t *testing.T, h ConformanceHarness) {
	t.Helper()
	table := conformanceTable
	h.Exec("DROP TABLE IF EXISTS "+table, "CREATE TABLE "+table+" (id int PRIMARY KEY, tx int NOT NULL, n int NOT NULL)")
	t.Cleanup(func() { h.Exec("DROP TABLE IF EXISTS " + table) })
	insert := func(tx int) {
		stmts := []string{"BEGIN"}
		for n := 1; n <= conformanceRows; n++ {
			stmts = append(stmts, fmt.Sprintf("INSERT INTO %s VALUES (%d, %d, %d)", table, tx*1000+n, tx, n))
		}
		h.Exec(append(stmts, "COMMIT")...)
	}

	// First run: the test holds the marks back.
	c1 := Collect(t, h.NewSource(table), HoldMarks())
	h.Streaming(c1)
	for tx := 1; tx <= conformanceTxs; tx++ {
		insert(tx)
	}
	log1 := waitMarkAfter(c1, conformanceTxs)
	t.Logf("first run (marks held): %s", describe(log1))
	t.Run("marks at transaction boundaries", func(t *testing.T) { checkBoundaries(t, log1) })
	t.Run("every transaction complete and in order", func(t *testing.T) {
		checkTransactions(t, log1, 1, conformanceTxs)
	})
	t.Run("positions grow", func(t *testing.T) { checkGrowing(t, log1, 0) })

	// Confirm in order, as the runner does, every mark up to the first
	// one after transaction conformanceAcked, then stop.
	boundary := markAfter(log1, conformanceAcked)
	if boundary < 0 {
		t.Fatalf("no mark after transaction %d: %s", conformanceAcked, describe(log1))
	}
	for _, ev := range log1[:boundary+1] {
		if ev.Op == sluice.OpMark {
			c1.Confirm(ev)
		}
	}
	confirmed := log1[boundary].Pos.TxLSN
	if err := c1.Stop(); err != nil {
		t.Fatalf("first run: Run returned %v on shutdown", err)
	}

	// Second run: it resumes at transaction conformanceAcked+1; one more
	// transaction shows it streams on.
	c2 := Collect(t, h.NewSource(table))
	h.Streaming(c2)
	insert(conformanceTxs + 1)
	log2 := waitMarkAfter(c2, conformanceTxs+1)
	t.Logf("after a restart with transactions up to %d confirmed (at %d): %s", conformanceAcked, confirmed, describe(log2))
	t.Run("resume at the first unconfirmed transaction", func(t *testing.T) {
		checkTransactions(t, log2, conformanceAcked+1, conformanceTxs+1)
	})
	t.Run("marks at transaction boundaries after the restart", func(t *testing.T) { checkBoundaries(t, log2) })
	t.Run("positions grow past the confirmed one", func(t *testing.T) { checkGrowing(t, log2, confirmed) })
	if err := c2.Stop(); err != nil {
		t.Fatalf("second run: Run returned %v on shutdown", err)
	}
	var last uint64 // every mark of the second run was confirmed at once
	for _, m := range c2.Marks() {
		last = max(last, m.Pos.TxLSN)
	}

	// Third run, after a restart with everything confirmed: only what is
	// new arrives.
	c3 := Collect(t, h.NewSource(table))
	h.Streaming(c3)
	insert(conformanceTxs + 2)
	log3 := waitMarkAfter(c3, conformanceTxs+2)
	t.Logf("after a restart with everything confirmed (at %d): %s", last, describe(log3))
	t.Run("nothing older than the confirmed position after a restart", func(t *testing.T) {
		checkTransactions(t, log3, conformanceTxs+2, conformanceTxs+2)
		if n := len(events(log3)); n != conformanceRows {
			t.Errorf("%d events after a restart with everything confirmed, want the %d of the new transaction: %s", n, conformanceRows, describe(log3))
		}
		checkGrowing(t, log3, last)
	})
	if err := c3.Stop(); err != nil {
		t.Fatalf("third run: Run returned %v on shutdown", err)
	}
}

// row is where an event of the conformance table belongs: transaction tx,
// row n of it; ok is false for anything else.
func row(ev *sluice.Event) (tx, n int64, ok bool) {
	if ev.Op != sluice.OpCreate || len(ev.After) < 3 {
		return 0, 0, false
	}
	return ev.After[1].Int, ev.After[2].Int, true
}

func events(log []*sluice.Event) []*sluice.Event {
	var out []*sluice.Event
	for _, ev := range log {
		if ev.Op != sluice.OpMark {
			out = append(out, ev)
		}
	}
	return out
}

// markAfter is the index in log of the first mark after the last row of
// transaction tx, or -1.
func markAfter(log []*sluice.Event, tx int) int {
	lastRow := -1
	for i, ev := range log {
		if t, n, ok := row(ev); ok && t == int64(tx) && n == conformanceRows {
			lastRow = i
		}
	}
	if lastRow < 0 {
		return -1
	}
	for i := lastRow + 1; i < len(log); i++ {
		if log[i].Op == sluice.OpMark {
			return i
		}
	}
	return -1
}

// waitMarkAfter returns everything c collected once a mark follows the
// last row of transaction tx.
func waitMarkAfter(c *Collector, tx int) []*sluice.Event {
	c.t.Helper()
	var log []*sluice.Event
	c.WaitFor(fmt.Sprintf("the mark after transaction %d", tx), func([]*sluice.Event) bool {
		log = c.Log()
		return markAfter(log, tx) >= 0
	})
	return log
}

// checkBoundaries checks that a mark follows every transaction before
// the next one starts and that none falls inside one.
func checkBoundaries(t testing.TB, log []*sluice.Event) {
	t.Helper()
	var (
		tx, n  int64 // the last row seen
		marked = true
	)
	for i, ev := range log {
		if ev.Op == sluice.OpMark {
			if n != 0 && n != conformanceRows {
				t.Errorf("entry %d: a mark inside transaction %d, after its row %d of %d: %s", i, tx, n, conformanceRows, describe(log))
				return
			}
			marked = true
			continue
		}
		etx, en, ok := row(ev)
		if !ok {
			t.Errorf("entry %d: unexpected %s event", i, ev.Op)
			continue
		}
		if etx != tx || en != n+1 { // a transaction starts (or one repeats)
			if n != 0 && n != conformanceRows {
				t.Errorf("entry %d: transaction %d starts inside transaction %d (after its row %d): %s", i, etx, tx, n, describe(log))
				return
			}
			if !marked {
				t.Errorf("entry %d: transaction %d starts with no mark after transaction %d: %s", i, etx, tx, describe(log))
				return
			}
		}
		tx, n, marked = etx, en, false
	}
	if !marked {
		t.Errorf("no mark after the last transaction %d: %s", tx, describe(log))
	}
}

// checkTransactions checks that the events of log are the transactions
// from … to, each complete and in order, once repeats of what was already
// delivered are set aside.
func checkTransactions(t testing.TB, log []*sluice.Event, from, to int) {
	t.Helper()
	seen := map[[2]int64]bool{}
	var got []string
	for _, ev := range events(log) {
		tx, n, ok := row(ev)
		if !ok {
			t.Errorf("unexpected %s event", ev.Op)
			continue
		}
		if tx < int64(from) {
			t.Errorf("transaction %d delivered again, though confirmed before the restart: %s", tx, describe(log))
			return
		}
		if k := [2]int64{tx, n}; !seen[k] {
			seen[k] = true
			got = append(got, fmt.Sprintf("%d.%d", tx, n))
		}
	}
	var want []string
	for tx := from; tx <= to; tx++ {
		for n := 1; n <= conformanceRows; n++ {
			want = append(want, fmt.Sprintf("%d.%d", tx, n))
		}
	}
	if g, w := strings.Join(got, " "), strings.Join(want, " "); g != w {
		t.Errorf("rows (tx.n, repeats left out):\n got %s\nwant %s\nlog: %s", g, w, describe(log))
	}
}

// checkGrowing checks that the marks' positions grow: each above the one
// before it, the first above after.
func checkGrowing(t testing.TB, log []*sluice.Event, after uint64) {
	t.Helper()
	prev := after
	for i, ev := range log {
		if ev.Op != sluice.OpMark {
			continue
		}
		if ev.Pos.TxLSN <= prev {
			t.Errorf("entry %d: mark at %d after %d: positions must grow: %s", i, ev.Pos.TxLSN, prev, describe(log))
			return
		}
		prev = ev.Pos.TxLSN
	}
}

// describe renders a log compactly: "1.1 1.2 | 2.1 …", a bar per mark.
func describe(log []*sluice.Event) string {
	var b strings.Builder
	for i, ev := range log {
		if i > 0 {
			b.WriteByte(' ')
		}
		if ev.Op == sluice.OpMark {
			fmt.Fprintf(&b, "|%d", ev.Pos.TxLSN)
			continue
		}
		if tx, n, ok := row(ev); ok {
			fmt.Fprintf(&b, "%d.%d", tx, n)
		} else {
			b.WriteString(ev.Op.String())
		}
	}
	return b.String()
}
