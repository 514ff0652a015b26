package postgres

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestSpool: blocks of two transactions interleave; a rolled-back
// subtransaction's changes are skipped at replay but its relation
// message is not; an aborted transaction and an unknown one leave
// nothing; records longer than the buffer survive.
func TestSpool(t *testing.T) {
	sp := newSpool(t.TempDir())
	defer sp.close()
	at := time.UnixMicro(1_700_000_000_000_000)
	big := strings.Repeat("x", 3*spoolBuffer)
	add := func(xid, subxid uint32, typ byte, body string) {
		t.Helper()
		if err := sp.start(xid); err != nil {
			t.Fatal(err)
		}
		if err := sp.append(uint64(len(body)), at, subxid, typ, []byte(body)); err != nil {
			t.Fatal(err)
		}
		sp.stop()
	}
	add(10, 10, 'R', "rel")
	add(20, 20, 'I', "b1")
	add(10, 10, 'I', "a1")
	add(10, 11, 'R', "rel-in-sub")
	add(10, 11, 'I', "a-sub")
	add(10, 10, 'I', big)
	add(30, 30, 'I', "gone")
	sp.abort(10, 11)
	sp.abort(30, 30)
	sp.abort(99, 99) // never streamed: nothing to do

	replayed := func(xid uint32) []string {
		t.Helper()
		tx := sp.take(xid)
		if tx == nil {
			return nil
		}
		defer tx.close()
		var got []string
		err := tx.replay(func(msg []byte, lsn uint64, when time.Time) error {
			if int(lsn) != len(msg)-1 || !when.Equal(at) {
				t.Errorf("record %q: lsn %d, time %v", msg[:min(len(msg), 8)], lsn, when)
			}
			got = append(got, string(msg[:min(len(msg), 12)]))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got, want := replayed(10), []string{"Rrel", "Ia1", "Rrel-in-sub", "I" + big[:11]}; !slices.Equal(got, want) {
		t.Errorf("xid 10 replayed %q, want %q", got, want)
	}
	if got := replayed(20); !slices.Equal(got, []string{"Ib1"}) {
		t.Errorf("xid 20 replayed %q", got)
	}
	if got := replayed(30); got != nil {
		t.Errorf("the aborted xid 30 replayed %q", got)
	}
	if len(sp.txs) != 0 {
		t.Errorf("%d transactions left in the spool", len(sp.txs))
	}
}

// streamingDSN is the test DSN with logical_decoding_work_mem at its
// minimum for the replication session, so that transactions of a few
// thousand rows are streamed while they run.
func streamingDSN(t *testing.T, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-c logical_decoding_work_mem=64kB")
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String()
}

// TestStreamedTransactions: with streaming on, large transactions reach
// the source while they run; their events come out only after their
// commit, in commit order, each transaction's events together: a
// committed one, a rolled-back one (nothing), one with a rolled-back
// subtransaction (its rows skipped), two that interleave, and a small
// one that commits while a large one runs. The server streamed
// (pg_stat_replication_slots.stream_txns) and spilled nothing.
func TestStreamedTransactions(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS streamed; CREATE TABLE streamed (id int PRIMARY KEY, v int NOT NULL, pad text)`)
	h.startWith(map[string]any{"tables": []string{"public.streamed"}, "dsn": streamingDSN(t, h.dsn)})
	ctx := context.Background()
	pad := strings.Repeat("p", 100)
	insert := func(from, to int) string {
		return fmt.Sprintf("INSERT INTO streamed SELECT g, 0, '%s' FROM generate_series(%d, %d) g", pad, from, to)
	}
	other, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	run := func(c *pgx.Conn, sql string) {
		t.Helper()
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	// 1. committed; 2. rolled back.
	run(h.db, "BEGIN; "+insert(1, 3000)+"; COMMIT")
	run(h.db, "BEGIN; "+insert(100001, 103000)+"; ROLLBACK")
	// 3. a rolled-back subtransaction between two kept parts.
	run(h.db, "BEGIN; "+insert(3001, 6000)+"; SAVEPOINT a; "+insert(200001, 203000)+"; ROLLBACK TO a; UPDATE streamed SET v = 1 WHERE id <= 1000; COMMIT")
	// 4. two that interleave, the later one committing first; 5. a small
	// one committing while the large one runs.
	run(h.db, "BEGIN")
	run(h.db, insert(10001, 13000))
	run(other, "BEGIN")
	run(other, insert(20001, 23000))
	run(h.db, insert(13001, 15000))
	run(other, "COMMIT")
	run(other, "INSERT INTO streamed VALUES (30001, 0, 'small')")
	run(h.db, "COMMIT")

	want := 3000 + 3000 + 1000 + 5000 + 3000 + 1
	evs := h.wait(want)
	if len(evs) != want {
		t.Fatalf("%d events, want %d", len(evs), want)
	}
	// Each transaction's events are contiguous and share its commit.
	type txn struct {
		id, txLSN uint64
		ids       []int64
	}
	var txs []*txn
	for _, ev := range evs {
		if len(txs) == 0 || txs[len(txs)-1].id != ev.TxID {
			txs = append(txs, &txn{id: ev.TxID, txLSN: ev.Pos.TxLSN})
		}
		tx := txs[len(txs)-1]
		if ev.Pos.TxLSN != tx.txLSN {
			t.Fatalf("transaction %d: events with commit %d and %d", tx.id, tx.txLSN, ev.Pos.TxLSN)
		}
		id := ev.After[0].Int
		if ev.Op == sluice.OpUpdate && ev.After[1].Int != 1 {
			t.Errorf("update of %d: v %d, want 1", id, ev.After[1].Int)
		}
		tx.ids = append(tx.ids, id)
	}
	span := func(from, to int64) []int64 {
		var s []int64
		for i := from; i <= to; i++ {
			s = append(s, i)
		}
		return s
	}
	wantTx := [][]int64{
		span(1, 3000),
		append(span(3001, 6000), span(1, 1000)...),
		span(20001, 23000),
		{30001},
		span(10001, 15000),
	}
	if len(txs) != len(wantTx) {
		t.Fatalf("%d transactions, want %d", len(txs), len(wantTx))
	}
	for i, tx := range txs {
		got := slices.Clone(tx.ids)
		if i == 1 {
			slices.Sort(got[3000:]) // the update's rows in any order
		}
		if !slices.Equal(got, wantTx[i]) {
			t.Errorf("transaction %d: %d rows %v…, want %d rows %v…", i, len(got), got[:min(len(got), 3)], len(wantTx[i]), wantTx[i][:min(len(wantTx[i]), 3)])
		}
		if i > 0 && tx.txLSN <= txs[i-1].txLSN {
			t.Errorf("transaction %d committed at %d, after %d: not in commit order", i, tx.txLSN, txs[i-1].txLSN)
		}
	}

	// The server's statistics are flushed now and then: wait for them.
	var streamed, spilled int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := h.db.QueryRow(ctx, "SELECT stream_txns, spill_bytes FROM pg_stat_replication_slots WHERE slot_name = $1", "sluice_"+h.name).Scan(&streamed, &spilled)
		if err != nil && err != pgx.ErrNoRows {
			t.Fatal(err)
		}
		if streamed > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if streamed < 4 || spilled != 0 {
		t.Errorf("pg_stat_replication_slots: stream_txns %d, spill_bytes %d; want at least 4 streamed, nothing spilled", streamed, spilled)
	}
}

// TestStreamedTransactionRestart: a transaction the server streamed in
// part before the source stopped arrives whole, once, after its commit
// under the next source: the spool does not outlive its session, and the
// server streams the transaction again.
func TestStreamedTransactionRestart(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS streamed_restart; CREATE TABLE streamed_restart (id int PRIMARY KEY, pad text)`)
	extra := map[string]any{"tables": []string{"public.streamed_restart"}, "dsn": streamingDSN(t, h.dsn)}
	h.startWith(extra)
	ctx := context.Background()
	streamedBytes := func() int64 {
		var n int64
		err := h.db.QueryRow(ctx, "SELECT COALESCE((SELECT stream_bytes FROM pg_stat_replication_slots WHERE slot_name = $1), 0)", "sluice_"+h.name).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := streamedBytes()
	tx, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close(ctx)
	pad := strings.Repeat("p", 100)
	for _, sql := range []string{"BEGIN", fmt.Sprintf("INSERT INTO streamed_restart SELECT g, '%s' FROM generate_series(1, 3000) g", pad)} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for streamedBytes() <= before {
		if time.Now().After(deadline) {
			t.Fatal("the server streamed nothing of the open transaction in 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.stop()
	h.startWith(extra)
	for _, sql := range []string{fmt.Sprintf("INSERT INTO streamed_restart SELECT g, '%s' FROM generate_series(3001, 4000) g", pad), "COMMIT"} {
		if _, err := tx.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	evs := h.wait(4000)
	seen := map[int64]int{}
	for _, ev := range evs {
		seen[ev.After[0].Int]++
	}
	if len(evs) != 4000 || len(seen) != 4000 {
		t.Fatalf("%d events for %d keys, want 4000 once each", len(evs), len(seen))
	}
}

// TestStreamedReplayKeepsSessionAlive: replaying a streamed transaction
// takes as long as the sinks take; the session keeps answering the
// server meanwhile, so a replay longer than wal_sender_timeout does not
// get the connection cut (and the transaction sent and emitted again).
func TestStreamedReplayKeepsSessionAlive(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS streamed_slow; CREATE TABLE streamed_slow (id int PRIMARY KEY, pad text)`)
	dsn := streamingDSN(t, h.dsn)
	dsn = strings.Replace(dsn, "options=-c%20logical_decoding_work_mem%3D64kB", "options=-c%20logical_decoding_work_mem%3D64kB%20-c%20wal_sender_timeout%3D2s", 1)
	slow := testenv.Reject(func(*sluice.Event) error { time.Sleep(time.Millisecond); return nil })
	h.startWith(map[string]any{"tables": []string{"public.streamed_slow"}, "dsn": dsn, "status_interval": "200ms"}, slow)
	// 4,000 rows at a millisecond each: a replay of four seconds, twice
	// the session's wal_sender_timeout.
	h.exec(fmt.Sprintf("INSERT INTO streamed_slow SELECT g, '%s' FROM generate_series(1, 4000) g", strings.Repeat("p", 100)))
	evs := h.wait(4000)
	select {
	case <-h.c.Done():
		t.Fatalf("the source stopped: %v", h.c.Stop())
	default:
	}
	if len(evs) != 4000 {
		t.Fatalf("%d events, want 4000", len(evs))
	}
}
