package main

import (
	"fmt"
	"strings"
)

// A workload is what one benchmark case writes to PostgreSQL: a table of
// one row width and a kind of change stream. The driver writes it with
// server-side DO blocks (COMMIT inside the loop gives real single-row
// transactions at a rate no client round trip could reach), so that the
// change stream sits in the WAL before sluice and the ceiling readers
// start: they all read the same backlog, and the writer never limits the
// rate measured.
type workload struct {
	Kind  string // single, batch, update, mixed, huge, snapshot
	Width string // small, wide
	// Events is the number of row changes (for snapshot: the rows of the
	// table); Batch the rows per transaction (batch, update, mixed).
	Events int
	Batch  int
	// ChunkSize is the snapshot's source.snapshot.chunk_size (0: sluice's
	// default).
	ChunkSize int
}

// Workload kinds and row widths the driver knows.
var (
	kinds  = []string{"single", "batch", "update", "mixed", "huge", "snapshot"}
	widths = []string{"small", "wide"}
)

func (w workload) name() string { return w.Kind + "/" + w.Width }

// wholeRun tells that the PostgreSQL workload's rates are compared from start to
// end (process start or connect → last event) instead of first to last
// event. The huge transaction is larger than the server's
// logical_decoding_work_mem, so it arrives streamed while in progress: a
// ceiling reader's first message comes while the server still decodes
// it, and sluice's first event only after the commit, when it replays
// its spool. First-to-last rates would compare the receiving of the
// transaction with the replay of a transaction already received.
// MySQL writes a transaction to the binlog at its commit, so there the
// first-to-last rates compare the same span.
func (w workload) wholeRun(source string) bool { return source != "mysql" && w.Kind == "huge" }

// expected counts the change events and tombstones the workload must
// produce on the topic.
type expected struct {
	Inserts, Updates, Deletes, Reads int
}

func (e expected) events() int { return e.Inserts + e.Updates + e.Deletes + e.Reads }

// records is what lands on the topic: every change, plus a tombstone
// after each delete (sluice's default tombstones_on_delete).
func (e expected) records() int { return e.events() + e.Deletes }

// Mixed workload shape: of every 10 changes, 5 insert, 3 update, 2 delete.
func mixedOp(j int) byte {
	switch r := j % 10; {
	case r < 5:
		return 'c'
	case r < 8:
		return 'u'
	}
	return 'd'
}

func (w workload) expected() expected {
	switch w.Kind {
	case "update":
		return expected{Updates: w.Events}
	case "snapshot":
		return expected{Reads: w.Events}
	case "mixed":
		var e expected
		for j := range w.Events {
			switch mixedOp(j) {
			case 'c':
				e.Inserts++
			case 'u':
				e.Updates++
			default:
				e.Deletes++
			}
		}
		return e
	}
	return expected{Inserts: w.Events}
}

// preload is the number of rows that exist before the slots are created
// (not captured by the stream): the rows the update and mixed workloads
// change, and the table the snapshot workload reads.
func (w workload) preload() int {
	switch w.Kind {
	case "update", "mixed", "snapshot":
		return w.Events
	}
	return 0
}

// createSQL creates the table. Small rows are about 100 bytes in
// pgoutput's text form, wide rows about 2 KB with text, jsonb, numeric,
// uuid, array and time columns. toast_tuple_target keeps wide rows inline
// and uncompressed, so every change carries the whole row (an update of a
// TOASTed row would send "unchanged" markers instead and shrink the event).
func createSQL(table, width string) string {
	if width == "wide" {
		return fmt.Sprintf(`CREATE TABLE %s (
  id bigint PRIMARY KEY,
  customer_id integer NOT NULL,
  amount numeric(14,4) NOT NULL,
  tax numeric NOT NULL,
  ratio double precision,
  active boolean NOT NULL,
  sku uuid NOT NULL,
  status text NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamp NOT NULL,
  title text NOT NULL,
  body text NOT NULL,
  attrs jsonb NOT NULL,
  tags text[] NOT NULL
) WITH (toast_tuple_target = 8160)`, table)
	}
	return fmt.Sprintf(`CREATE TABLE %s (
  id bigint PRIMARY KEY,
  account integer NOT NULL,
  amount numeric(12,2) NOT NULL,
  status text NOT NULL,
  created_at timestamptz NOT NULL,
  note text
)`, table)
}

// rowSQL is the select list of row number i (an SQL expression).
func rowSQL(width, i string) string {
	r := strings.NewReplacer("$i", i)
	if width == "wide" {
		return r.Replace(`$i, ($i % 100000)::int, ($i % 1000000) / 7.0, ($i % 9973) * 0.0825, ($i % 1000) / 3.0, $i % 3 <> 0,
  md5($i::text)::uuid, (ARRAY['new','paid','shipped','delivered','returned'])[1 + $i % 5],
  timestamptz '2024-01-01 00:00:00+00' + $i * interval '1.000123 second',
  timestamp '2024-01-01 00:00:00' + $i * interval '2 second',
  'Order ' || $i || ' for customer ' || ($i % 100000) || ': ' || md5(($i * 3)::text) || md5(($i * 5)::text),
  (SELECT string_agg(md5(($i * 31 + g)::text), ' ') FROM generate_series(1, 33) g),
  jsonb_build_object('color', (ARRAY['red','green','blue'])[1 + $i % 3], 'size', $i % 50, 'weight', ($i % 1000) / 10.0,
    'dims', jsonb_build_array($i % 10, $i % 20, $i % 30), 'flags', jsonb_build_object('gift', $i % 2 = 0, 'express', $i % 7 = 0),
    'comment', (SELECT string_agg(md5(($i * 17 + g)::text), ' ') FROM generate_series(1, 12) g)),
  ARRAY['tag' || ($i % 7), 'tag' || ($i % 11), 'category-' || ($i % 13), md5(($i * 7)::text)]`)
	}
	return r.Replace(`$i, ($i % 10000)::int, ($i % 1000000) / 100.0, (ARRAY['new','paid','shipped','cancelled'])[1 + $i % 4],
  timestamptz '2024-01-01 00:00:00+00' + $i * interval '1.000123 second', 'note ' || md5($i::text)`)
}

// updateSet is the SET list of the update statements.
func updateSet(width string) string {
	if width == "wide" {
		return `amount = amount + 1, status = 'updated', updated_at = updated_at + interval '1 hour', active = NOT active`
	}
	return `amount = amount + 1, status = 'updated'`
}

// preloadSQL inserts the rows the update and mixed workloads change.
func preloadSQL(table string, w workload) string {
	return fmt.Sprintf(`INSERT INTO %s SELECT %s FROM generate_series(1, %d) i`, table, rowSQL(w.Width, "i"), w.preload())
}

// writeSQL is the statement that writes the captured workload. Row ids of
// inserts continue after the preloaded rows. The snapshot workload writes
// nothing: sluice reads the preloaded table.
func writeSQL(table string, w workload) string {
	n, b := w.Events, max(w.Batch, 1)
	switch w.Kind {
	case "single":
		return fmt.Sprintf(`DO $$ BEGIN
  FOR i IN 1..%d LOOP
    INSERT INTO %s SELECT %s;
    COMMIT;
  END LOOP;
END $$`, n, table, rowSQL(w.Width, "i"))
	case "batch":
		return fmt.Sprintf(`DO $$ DECLARE lo bigint := 1; BEGIN
  WHILE lo <= %[1]d LOOP
    INSERT INTO %[2]s SELECT %[3]s FROM generate_series(lo, least(lo + %[4]d - 1, %[1]d)) i;
    COMMIT;
    lo := lo + %[4]d;
  END LOOP;
END $$`, n, table, rowSQL(w.Width, "i"), b)
	case "update":
		return fmt.Sprintf(`DO $$ DECLARE lo bigint := 1; BEGIN
  WHILE lo <= %[1]d LOOP
    UPDATE %[2]s SET %[3]s WHERE id BETWEEN lo AND least(lo + %[4]d - 1, %[1]d);
    COMMIT;
    lo := lo + %[4]d;
  END LOOP;
END $$`, n, table, updateSet(w.Width), b)
	case "mixed":
		// Deletes take ids 1, 2, … from the bottom; updates cycle through
		// the top half, which deletes never reach (they remove at most
		// 20% of the preloaded rows); inserts use new ids. Every statement
		// changes exactly one row, so the event count is exact.
		p := w.preload()
		return fmt.Sprintf(`DO $$ DECLARE nid bigint := %[1]d; did bigint := 0; u bigint := 0; BEGIN
  FOR j IN 0..%[2]d - 1 LOOP
    CASE
      WHEN j %% 10 < 5 THEN nid := nid + 1; INSERT INTO %[3]s SELECT %[4]s;
      WHEN j %% 10 < 8 THEN UPDATE %[3]s SET %[5]s WHERE id = %[6]d + 1 + u %% %[6]d; u := u + 1;
      ELSE did := did + 1; DELETE FROM %[3]s WHERE id = did;
    END CASE;
    IF j %% %[7]d = %[7]d - 1 THEN COMMIT; END IF;
  END LOOP;
END $$`, p, n, table, rowSQL(w.Width, "nid"), updateSet(w.Width), p/2, b)
	case "huge":
		return fmt.Sprintf(`INSERT INTO %s SELECT %s FROM generate_series(1, %d) i`, table, rowSQL(w.Width, "i"), n)
	case "snapshot":
		return ""
	}
	panic("unknown workload " + w.Kind)
}

// pacedSQL writes single-row insert transactions at rate per second for
// the n rows with ids from+1..from+n, pacing itself against the wall clock
// every millisecond's worth of rows (for the latency measurement). Several
// writers with disjoint id ranges may run side by side.
func pacedSQL(table, width string, from, n int, rate float64) string {
	step := max(int(rate/1000), 1)
	return fmt.Sprintf(`DO $$ DECLARE t0 timestamptz := clock_timestamp(); ahead float8; rid bigint; BEGIN
  FOR i IN 1..%[1]d LOOP
    rid := %[6]d + i;
    INSERT INTO %[2]s SELECT %[3]s;
    COMMIT;
    IF i %% %[4]d = 0 THEN
      ahead := i / %[5]f - extract(epoch FROM clock_timestamp() - t0);
      IF ahead > 0 THEN PERFORM pg_sleep(ahead); END IF;
    END IF;
  END LOOP;
END $$`, n, table, rowSQL(width, "rid"), step, rate, from)
}

// splitRows divides n rows among w writers: writer k writes count[k] rows
// with ids from[k]+1..from[k]+count[k], so the ranges are disjoint and
// cover 1..n.
func splitRows(n, w int) (from, count []int) {
	w = max(min(w, n), 1)
	from, count = make([]int, w), make([]int, w)
	next := 0
	for k := range w {
		count[k] = n / w
		if k < n%w {
			count[k]++
		}
		from[k] = next
		next += count[k]
	}
	return from, count
}
