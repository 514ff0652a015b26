package postgres

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// Tests of what Debezium writes and sluice's PostgreSQL source must give
// the codec the same: the snapshot transaction's id, the last-commit LSN
// of source.sequence, the key's order, and values read by the snapshot
// in the form the stream decodes.

// TestSnapshotLikeDebezium: an initial snapshot of a table whose primary
// key is declared (c, a) on columns a, b, c, then two streamed
// transactions.
//   - Key order: snapshot reads and streamed changes are keyed (c, a).
//   - Snapshot reads carry a transaction id (the high watermark's, as
//     Debezium writes its snapshot transaction's); they have char(4) with
//     its padding and inet '::1' as "::1", as the stream decodes them.
//   - The first transaction streamed after the snapshot has no previous
//     commit (PrevTxLSN 0: Debezium's null), though sluice's watermark
//     transactions committed before it; the next has the first's.
func TestSnapshotLikeDebezium(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS dbz_like; CREATE TABLE dbz_like (a int, b text, c int, ch char(4), ip inet, PRIMARY KEY (c, a))`)
	h.dropAtEnd("dbz_like")
	h.exec(`INSERT INTO dbz_like VALUES (1, 'x', 10, 'ab', '::1'), (2, 'y', 5, '    ', '192.168.0.1/24'), (3, 'z', 5, NULL, '::1/64')`)
	h.startWith(map[string]any{"tables": []any{"public.dbz_like"}, "snapshot": map[string]any{"mode": "initial", "chunk_size": 2}})
	h.c.WaitFor("3 reads", func(evs []*sluice.Event) bool { r, _ := countReads(evs, 0); return r == 3 && h.snapshotIdle() })
	h.exec(`INSERT INTO dbz_like VALUES (4, 'w', 1, 'abcd', '::1')`)
	h.exec(`UPDATE dbz_like SET b = 'v' WHERE a = 4`)
	evs := h.wait(5)

	type read struct{ ch, ip string }
	want := map[int64]read{1: {"ab  ", "::1"}, 2: {"    ", "192.168.0.1/24"}, 3: {"", "::1/64"}}
	var order []int64
	for _, ev := range evs {
		if got := keyNames(ev.Table); got != "c,a" {
			t.Errorf("%s event keyed by (%s), want (c,a)", ev.Op, got)
		}
		if ev.Op != sluice.OpRead {
			continue
		}
		a := ev.After[0].Int
		order = append(order, a)
		if ev.TxID == 0 {
			t.Errorf("snapshot read of a = %d has no transaction id", a)
		}
		w := want[a]
		if got := string(ev.After[3].Bytes); got != w.ch {
			t.Errorf("snapshot read of a = %d: ch %q, want %q", a, got, w.ch)
		}
		if got := string(ev.After[4].Bytes); got != w.ip {
			t.Errorf("snapshot read of a = %d: ip %q, want %q", a, got, w.ip)
		}
	}
	if !slices.Equal(order, []int64{2, 3, 1}) { // (c, a) order: (5,2), (5,3), (10,1)
		t.Errorf("snapshot read a = %v, want [2 3 1] (primary key order)", order)
	}
	ins, upd := evs[3], evs[4]
	if ins.Op != sluice.OpCreate || upd.Op != sluice.OpUpdate {
		t.Fatalf("streamed %s, %s; want c, u", ins.Op, upd.Op)
	}
	if got := string(ins.After[3].Bytes); got != "abcd" {
		t.Errorf("streamed ch %q", got)
	}
	if ins.Pos.PrevTxLSN != 0 {
		t.Errorf("first transaction after the snapshot: PrevTxLSN %d, want 0 (no commit streamed before it)", ins.Pos.PrevTxLSN)
	}
	if upd.Pos.PrevTxLSN != ins.Pos.TxLSN {
		t.Errorf("second transaction: PrevTxLSN %d, want the first's commit LSN %d", upd.Pos.PrevTxLSN, ins.Pos.TxLSN)
	}
}

// TestKeyFollowsIndexOrder: the key lists its columns in the order of the
// index that defines it, for every replica identity: the primary key
// under DEFAULT and FULL, the index under USING INDEX.
func TestKeyFollowsIndexOrder(t *testing.T) {
	h := newHarness(t)
	h.exec(`DROP TABLE IF EXISTS ko_default, ko_full, ko_index;
		CREATE TABLE ko_default (a int, b int, c int, PRIMARY KEY (c, a));
		CREATE TABLE ko_full (a int, b int, c int, PRIMARY KEY (c, b, a)); ALTER TABLE ko_full REPLICA IDENTITY FULL;
		CREATE TABLE ko_index (a int PRIMARY KEY, b int NOT NULL, c int NOT NULL);
		CREATE UNIQUE INDEX ko_index_cb ON ko_index (c, b); ALTER TABLE ko_index REPLICA IDENTITY USING INDEX ko_index_cb`)
	h.dropAtEnd("ko_default", "ko_full", "ko_index")
	want := map[string]string{"ko_default": "c,a", "ko_full": "c,b,a", "ko_index": "c,b"}
	h.start("public.ko_default", "public.ko_full", "public.ko_index")
	for tb := range want {
		h.exec(`INSERT INTO ` + tb + ` VALUES (1, 2, 3)`)
		h.exec(`DELETE FROM ` + tb)
	}
	for _, ev := range h.wait(6) {
		if got := keyNames(ev.Table); got != want[ev.Table.Name] {
			t.Errorf("%s: %s keyed by (%s), want (%s)", ev.Table.Name, ev.Op, got, want[ev.Table.Name])
		}
	}
	ctx := context.Background()
	for tb, w := range want {
		rel, err := h.src.describeTable(ctx, h.db, "public", tb)
		if err != nil {
			t.Fatal(err)
		}
		if got := keyNames(rel.table); got != w {
			t.Errorf("%s: described with key (%s), want (%s)", tb, got, w)
		}
	}
}

// TestSnapshotResumesInKeyOrder: a snapshot of a table keyed (c, a) on
// columns a, b, c stops after some chunks; the restart resumes after the
// saved key, which the state names, and reads exactly the rows left.
func TestSnapshotResumesInKeyOrder(t *testing.T) {
	const rows, chunk, saved = 30, 4, 3
	h := newHarness(t)
	// c descends as a ascends: column order and key order disagree on
	// every row, so a key read back in the wrong order would skip or
	// repeat rows.
	h.exec(`DROP TABLE IF EXISTS ko_resume; CREATE TABLE ko_resume (a int, b int, c int, PRIMARY KEY (c, a))`)
	h.exec(`INSERT INTO ko_resume SELECT g, g, 100 - g FROM generate_series(1, $1) g`, rows)
	h.dropAtEnd("ko_resume")
	cfg := map[string]any{"tables": []any{"public.ko_resume"}, "state": map[string]any{"store": "file"},
		"snapshot": map[string]any{"mode": "initial", "chunk_size": chunk, "workers": 1}}

	var read atomic.Int64
	count := testenv.Reject(func(ev *sluice.Event) error {
		if ev.Op == sluice.OpRead {
			read.Add(1)
		}
		return nil
	})
	h.hooks = &chunkHooks{serial: true, beforeLow: func(ctx context.Context, table string) error {
		if read.Load() >= saved*chunk {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}}
	h.startWith(cfg, count)
	h.c.WaitFor("the saved progress", func([]*sluice.Event) bool {
		st, err := h.stored()
		return err == nil && len(st.Jobs) == 1 && st.Jobs[0].Rows == saved*chunk
	})
	st, err := h.stored()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(st.Jobs[0].LastKeyColumns, ","); got != "c,a" {
		t.Errorf("saved last key names (%s), want (c,a)", got)
	}
	h.stop()
	h.hooks = nil

	h.startWith(cfg)
	h.c.WaitFor("the finished snapshot", func([]*sluice.Event) bool {
		st, err := h.stored()
		return err == nil && st.InitialDone && len(st.Jobs) == 0
	})
	var got, want []int64
	for _, ev := range h.wait(0) {
		if ev.Op == sluice.OpRead {
			got = append(got, ev.After[0].Int)
		}
	}
	for a := int64(rows - saved*chunk); a >= 1; a-- { // c ascending is a descending
		want = append(want, a)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the restart read a = %v, want %v", got, want)
	}
}

// TestResumeKey: a saved last key is used only under the key it was read
// in; states without LastKeyColumns hold the key in column order.
func TestResumeKey(t *testing.T) {
	s := func(v string) *string { return &v }
	cols := []sluice.Column{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	ca := &sluice.Table{Columns: cols, Key: []int{2, 0}}
	ac := &sluice.Table{Columns: cols, Key: []int{0, 2}}
	none := &sluice.Table{Columns: cols}
	last := []*string{s("1"), s("2")}
	cases := []struct {
		name   string
		job    snapshotJob
		t      *sluice.Table
		resume bool
	}{
		{"same names", snapshotJob{LastKey: last, LastKeyColumns: []string{"c", "a"}}, ca, true},
		{"other order", snapshotJob{LastKey: last, LastKeyColumns: []string{"a", "c"}}, ca, false},
		{"other key", snapshotJob{LastKey: last, LastKeyColumns: []string{"b", "c"}}, ac, false},
		{"legacy, key in column order", snapshotJob{LastKey: last}, ac, true},
		{"legacy, key order differs", snapshotJob{LastKey: last}, ca, false},
		{"legacy ctid", snapshotJob{LastKey: []*string{s("(0,1)")}}, none, true},
		{"ctid", snapshotJob{LastKey: []*string{s("(0,1)")}, LastKeyColumns: []string{"ctid"}}, none, true},
		{"ctid, now keyed", snapshotJob{LastKey: []*string{s("(0,1)")}, LastKeyColumns: []string{"ctid"}}, ca, false},
		{"nothing saved", snapshotJob{LastKeyColumns: []string{"c", "a"}}, ca, false},
	}
	for _, c := range cases {
		if got := resumeKey(&c.job, c.t) != nil; got != c.resume {
			t.Errorf("%s: resumes %v, want %v", c.name, got, c.resume)
		}
	}
	q, _ := chunkQuery(ca, &snapshotFilter{}, last, 10)
	if !strings.Contains(q, `(s."c", s."a") > ($1, $2)`) || !strings.HasSuffix(q, `ORDER BY s."c", s."a" LIMIT 10`) {
		t.Errorf("chunk query not in key order: %s", q)
	}
}
