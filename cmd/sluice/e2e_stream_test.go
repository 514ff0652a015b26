package main

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// eventOrder parses the sluice.event.id header "X/Y:n" into a sortable
// pair (commit LSN, index in transaction).
func eventOrder(t *testing.T, id string) (uint64, int) {
	t.Helper()
	lsn, n, ok := strings.Cut(id, ":")
	hi, lo, ok2 := strings.Cut(lsn, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	i, err3 := strconv.Atoi(n)
	if !ok || !ok2 || err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("bad event id %q", id)
	}
	return h<<32 | l, i
}

// TestKafkaChangeStream: every kind of change on a real Postgres arrives on
// a real Kafka topic with the golden key/value bytes, in commit order,
// partitioned by key as the Java client would.
func TestKafkaChangeStream(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_customers;
		CREATE TABLE e2e_customers (id int PRIMARY KEY, first_name text NOT NULL, last_name text, zip text, city text)`)
	e.writeConfig([]string{"public.e2e_customers"}, "snapshot: {mode: never}", "")
	d := e.start()
	e.exec(`INSERT INTO e2e_customers VALUES (11, 'Peter', 'Muster', '3010', 'Berne')`)
	e.exec(`INSERT INTO e2e_customers VALUES (12, 'Paul', 'Steffen', '8001', 'Zurich')`)
	e.exec(`UPDATE e2e_customers SET city = 'Bern' WHERE id = 11`)
	e.exec(`UPDATE e2e_customers SET id = 13 WHERE id = 12`)
	e.exec(`DELETE FROM e2e_customers WHERE id = 11`)
	e.exec(`BEGIN; INSERT INTO e2e_customers VALUES (14, 'Anna', NULL, NULL, NULL); SELECT pg_logical_emit_message(true, 'audit', 'hello'); COMMIT`)
	e.exec(`TRUNCATE e2e_customers`)

	topic, msgTopic := e.name+".public.e2e_customers", e.name+".message"
	// c, c, u, d+tombstone+c (key change), d+tombstone, c, m; the
	// truncate is not written (skipped_operations: t, Debezium's default).
	// The truncate's commit comes last: once the slot confirmed it, all
	// that will be written is, and the topics are read to their end.
	e.consume([]string{topic, msgTopic}, 10, 60*time.Second)
	e.caughtUp(t)
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	recs := e.consumeAll([]string{topic, msgTopic})
	if len(recs) != 10 {
		t.Fatalf("got %d records, want 10", len(recs))
	}
	all := inEventOrder(t, recs, topic, 3)
	checkGolden(t, "kafka_changes.txt", e.render(all, normalize, true))
}

// render writes records for a golden file: in the order given, the
// pipeline's name (the topic prefix) as <prefix>, run-dependent values
// blanked by norm, tombstones and missing keys as null, and with headers,
// each record's headers, its event id without the commit LSN.
func (e *env) render(all []ordered, norm func([]byte) string, headers bool) []byte {
	var buf bytes.Buffer
	for i, r := range all {
		key, value := "null", "null"
		if r.key != nil {
			key = strings.ReplaceAll(string(r.key), e.name, "<prefix>")
		}
		if r.value != nil {
			value = strings.ReplaceAll(norm(r.value), e.name, "<prefix>")
		}
		fmt.Fprintf(&buf, "#%d %s\nkey: %s\nvalue: %s\n", i+1, strings.Replace(r.topic, e.name, "<prefix>", 1), key, value)
		if headers {
			var hs []string
			for k, v := range r.headers {
				if k == "sluice.event.id" {
					v = "_:" + strconv.Itoa(r.n)
				}
				// The key headers name the key schema after the prefix.
				hs = append(hs, k+"="+strings.ReplaceAll(v, e.name, "<prefix>"))
			}
			sort.Strings(hs)
			fmt.Fprintf(&buf, "headers: %s\n", strings.Join(hs, " "))
		}
	}
	return buf.Bytes()
}

// ordered is a consumed record with its place in the source's event
// order, from its sluice.event.id header.
type ordered struct {
	record
	lsn uint64
	n   int
}

// inEventOrder sorts records by event id (a tombstone after its delete),
// checks that the keyed records of keyTopic sit in the partition Java's
// murmur2 picks among partitions, and that per key the offsets grow in
// event order (commit order).
func inEventOrder(t *testing.T, recs []record, keyTopic string, partitions int32) []ordered {
	t.Helper()
	var all []ordered
	for _, r := range recs {
		lsn, n := eventOrder(t, r.headers["sluice.event.id"])
		all = append(all, ordered{r, lsn, n})
		if r.key != nil && r.topic == keyTopic {
			if want := testenv.JavaPartition(r.key, partitions); r.partition != want {
				t.Errorf("key %s in partition %d, Java's murmur2 says %d", r.key, r.partition, want)
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].lsn != all[j].lsn {
			return all[i].lsn < all[j].lsn
		}
		if all[i].n != all[j].n {
			return all[i].n < all[j].n
		}
		return all[i].value != nil && all[j].value == nil // tombstone after its delete
	})
	last := map[string]int64{}
	for _, r := range all {
		k := fmt.Sprint(r.topic, r.partition, string(r.key))
		if off, ok := last[k]; ok && r.offset < off {
			t.Errorf("key %s: offset %d after %d: out of commit order", r.key, r.offset, off)
		}
		last[k] = r.offset
	}
	return all
}
