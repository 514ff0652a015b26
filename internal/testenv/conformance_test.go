package testenv

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// memLog is an in-memory change log: committed transactions, and the
// position confirmed by the last source that stopped (a slot).
type memLog struct {
	mu        sync.Mutex
	txs       [][]*sluice.Event
	committed chan struct{} // closed and replaced at every commit
	confirmed uint64        // transactions 1 … confirmed are delivered
}

// memSource reads a memLog; the mark after transaction i is at i.
type memSource struct {
	log       *memLog
	mu        sync.Mutex
	confirmed uint64
}

func (s *memSource) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	s.log.mu.Lock()
	next := s.log.confirmed
	s.log.mu.Unlock()
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.log.mu.Lock()
		s.log.confirmed = max(s.log.confirmed, s.confirmed)
		s.log.mu.Unlock()
	}()
	for {
		s.log.mu.Lock()
		txs, committed := s.log.txs, s.log.committed
		s.log.mu.Unlock()
		for ; next < uint64(len(txs)); next++ {
			for _, ev := range txs[next] {
				if err := emit(ev); err != nil {
					return err
				}
			}
			if err := emit(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: next + 1}}); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-committed:
		}
	}
}

func (s *memSource) Confirm(pos sluice.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.confirmed = max(s.confirmed, pos.TxLSN)
}

// memHarness runs the statements SourceConformance writes against a
// memLog: INSERTs between BEGIN and COMMIT make one transaction.
type memHarness struct {
	log  *memLog
	open []*sluice.Event // the transaction being written
}

func (h *memHarness) NewSource(table string) sluice.Source { return &memSource{log: h.log} }
func (h *memHarness) Streaming(c *Collector)               {}

func (h *memHarness) Exec(stmts ...string) {
	for _, q := range stmts {
		var id, tx, n int64
		switch {
		case q == "BEGIN":
			h.open = nil
		case q == "COMMIT":
			h.log.mu.Lock()
			h.log.txs = append(h.log.txs, h.open)
			close(h.log.committed)
			h.log.committed = make(chan struct{})
			h.log.mu.Unlock()
		case strings.HasPrefix(q, "INSERT"):
			if _, err := fmt.Sscanf(q, "INSERT INTO "+conformanceTable+" VALUES (%d, %d, %d)", &id, &tx, &n); err != nil {
				panic(fmt.Sprintf("%s: %v", q, err))
			}
			h.open = append(h.open, &sluice.Event{Op: sluice.OpCreate, After: sluice.Row{
				{Kind: sluice.KindPresent, Int: id}, {Kind: sluice.KindPresent, Int: tx}, {Kind: sluice.KindPresent, Int: n}}})
		}
	}
}

// A source that keeps the contract passes.
func TestSourceConformanceInMemory(t *testing.T) {
	SourceConformance(t, &memHarness{log: &memLog{committed: make(chan struct{})}})
}

// parseLog reads describe's notation: "1.2" is row 2 of transaction 1,
// "|7" a mark at 7.
func parseLog(t *testing.T, s string) []*sluice.Event {
	t.Helper()
	var log []*sluice.Event
	for _, f := range strings.Fields(s) {
		if p, ok := strings.CutPrefix(f, "|"); ok {
			pos, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			log = append(log, &sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: pos}})
			continue
		}
		var tx, n int64
		if _, err := fmt.Sscanf(f, "%d.%d", &tx, &n); err != nil {
			t.Fatalf("%q: %v", f, err)
		}
		log = append(log, &sluice.Event{Op: sluice.OpCreate, After: sluice.Row{{Int: tx*1000 + n}, {Int: tx}, {Int: n}}})
	}
	if got := describe(log); got != s {
		t.Fatalf("describe(parseLog(%q)) = %q", s, got)
	}
	return log
}

// Each check catches the breach it is there for.
func TestConformanceChecks(t *testing.T) {
	tests := []struct {
		name, log string
		check     func(tb testing.TB, log []*sluice.Event)
		want      string // substring of the first error; "" for none
	}{
		{"boundaries ok", "1.1 1.2 1.3 |5 |6 2.1 2.2 2.3 |7", checkBoundaries, ""},
		{"boundaries with a repeat", "2.1 2.2 2.3 |7 2.1 2.2 2.3 |7", checkBoundaries, ""},
		{"mark inside a transaction", "1.1 1.2 |5 1.3 |6", checkBoundaries, "a mark inside transaction 1, after its row 2 of 3"},
		{"no mark between transactions", "1.1 1.2 1.3 2.1 2.2 2.3 |7", checkBoundaries, "transaction 2 starts with no mark after transaction 1"},
		{"interleaved transactions", "1.1 2.1 1.2", checkBoundaries, "transaction 2 starts inside transaction 1"},
		{"no mark at the end", "1.1 1.2 1.3 |5 2.1 2.2 2.3", checkBoundaries, "no mark after the last transaction 2"},

		{"transactions ok", "1.1 1.2 1.3 |5 2.1 2.2 2.3 |7", func(tb testing.TB, log []*sluice.Event) { checkTransactions(tb, log, 1, 2) }, ""},
		{"repeats after the confirmed one", "2.1 2.2 2.1 2.2 2.3 |7", func(tb testing.TB, log []*sluice.Event) { checkTransactions(tb, log, 2, 2) }, ""},
		{"confirmed transaction again", "1.3 |5 2.1 2.2 2.3 |7", func(tb testing.TB, log []*sluice.Event) { checkTransactions(tb, log, 2, 2) }, "transaction 1 delivered again"},
		{"gap", "1.1 1.2 1.3 |5 3.1 3.2 3.3 |9", func(tb testing.TB, log []*sluice.Event) { checkTransactions(tb, log, 1, 3) }, "got 1.1 1.2 1.3 3.1 3.2 3.3\nwant 1.1 1.2 1.3 2.1"},
		{"lost row", "1.1 1.3 |5", func(tb testing.TB, log []*sluice.Event) { checkTransactions(tb, log, 1, 1) }, "got 1.1 1.3\nwant 1.1 1.2 1.3"},
		{"out of order", "2.1 2.2 2.3 |7 1.1 1.2 1.3 |5", func(tb testing.TB, log []*sluice.Event) { checkTransactions(tb, log, 1, 2) }, "got 2.1 2.2 2.3 1.1"},

		{"growing", "1.1 |5 |6 2.1 |7", func(tb testing.TB, log []*sluice.Event) { checkGrowing(tb, log, 4) }, ""},
		{"repeated position", "1.1 |5 2.1 |5", func(tb testing.TB, log []*sluice.Event) { checkGrowing(tb, log, 0) }, "mark at 5 after 5"},
		{"at the confirmed position", "1.1 |5", func(tb testing.TB, log []*sluice.Event) { checkGrowing(tb, log, 5) }, "mark at 5 after 5"},
		{"backwards", "1.1 |7 2.1 |6", func(tb testing.TB, log []*sluice.Event) { checkGrowing(tb, log, 0) }, "mark at 6 after 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &fakeTB{TB: t}
			tt.check(e, parseLog(t, tt.log))
			switch {
			case tt.want == "" && len(e.errs) > 0:
				t.Errorf("unexpected errors %q", e.errs)
			case tt.want != "" && (len(e.errs) == 0 || !strings.Contains(e.errs[0], tt.want)):
				t.Errorf("errors %q, want one containing %q", e.errs, tt.want)
			}
		})
	}
}
