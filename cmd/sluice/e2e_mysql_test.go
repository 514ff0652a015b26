package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// myEnv is an end-to-end scenario on MariaDB and Kafka: a pipeline named
// after the test with its own tables and topics.
type myEnv struct {
	*env
	dsn              string
	user, pass, addr string
	db               *client.Conn
}

func newMyEnv(t *testing.T, stmts ...string) *myEnv {
	t.Helper()
	dsn := testenv.Get(t, "SLUICE_TEST_MYSQL_DSN")
	e := &myEnv{env: &env{t: t, brokers: testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), dir: t.TempDir()}, dsn: dsn}
	e.name = "my" + strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(t.Name(), "")) + fmt.Sprint(time.Now().UnixNano()%100000)
	m := regexp.MustCompile(`^([^:@]+):([^@]*)@tcp\(([^)]+)\)/`).FindStringSubmatch(dsn)
	if m == nil {
		t.Fatalf("SLUICE_TEST_MYSQL_DSN %q is not user:password@tcp(host:port)/db", dsn)
	}
	e.user, e.pass, e.addr = m[1], m[2], m[3]
	db, err := client.Connect(e.addr, e.user, e.pass, "sluice")
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	t.Cleanup(func() { db.Close() })
	e.exec(stmts...)
	return e
}

func (e *myEnv) exec(stmts ...string) {
	e.t.Helper()
	for _, s := range stmts {
		if _, err := e.db.Execute(s); err != nil {
			e.t.Fatalf("%s: %v", s, err)
		}
	}
}

// writeConfig writes a mysql → kafka pipeline; srcExtra is added to the
// source block (YAML lines at the source's indentation).
func (e *myEnv) writeConfig(tables []string, srcExtra string) {
	e.t.Helper()
	e.writePipeline(fmt.Sprintf("type: mysql\n      dsn: \"%s\"\n      tables: [%s]\n      heartbeat: 1s",
		e.dsn, strings.Join(tables, ", ")), srcExtra, "")
}

// start runs the daemon and waits until it follows the binlog.
func (e *myEnv) start() *daemon {
	e.t.Helper()
	d := e.launch()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(d.logs.String(), `"msg":"streaming"`) {
		select {
		case err := <-d.done:
			e.t.Fatalf("sluice exited early (%v):\n%s", err, d.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("sluice never started streaming:\n%s", d.logs.String())
		}
	}
	return d
}

var mysqlVolatile = []*regexp.Regexp{
	regexp.MustCompile(`"(gtid|file)":"[^"]*"`),
	regexp.MustCompile(`"(pos|thread)":\d+`),
	regexp.MustCompile(`"id":"\d+-\d+-\d+"`),
}

func normalizeMySQL(b []byte) string { return blank(normalize(b), mysqlVolatile) }

// TestMySQLKafkaChangeStream: a snapshot row and single- and
// multi-statement transactions on a real MariaDB arrive on a real Kafka
// topic with the golden key/value bytes, in commit order.
func TestMySQLKafkaChangeStream(t *testing.T) {
	e := newMyEnv(t, "DROP TABLE IF EXISTS e2e_products",
		"CREATE TABLE e2e_products (id int PRIMARY KEY, name varchar(30) NOT NULL, price decimal(8,2), added datetime(3), tags set('new','sale'))",
		"INSERT INTO e2e_products VALUES (1, 'Kaffee', 4.20, '2024-01-02 03:04:05.678', 'new')")
	e.writeConfig([]string{"e2e_products"}, "snapshot: {mode: initial}")
	d := e.start()
	e.exec("INSERT INTO e2e_products VALUES (2, 'Tee', 3.10, NULL, '')",
		"BEGIN", "INSERT INTO e2e_products VALUES (3, 'Milch', 1.25, '2024-06-30 12:00:00', 'new,sale')",
		"UPDATE e2e_products SET price = 4.50 WHERE id = 1", "DELETE FROM e2e_products WHERE id = 2", "COMMIT",
		"UPDATE e2e_products SET id = 30 WHERE id = 3",
		"ALTER TABLE e2e_products ADD COLUMN note varchar(10)", "INSERT INTO e2e_products VALUES (4, 'Zucker', 0.99, NULL, '', 'süss')")
	topic := e.name + ".sluice.e2e_products"
	// the snapshot's schema changes (SET, DROP TABLE, DROP and CREATE
	// DATABASE, USE, CREATE TABLE), r, c, c, u, d+tombstone,
	// d+tombstone+c (key change), schema change, c
	recs := e.consume([]string{topic, e.name}, 17, 60*time.Second)
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if len(recs) != 17 {
		t.Fatalf("got %d records, want 17", len(recs))
	}
	all := inEventOrder(t, recs, topic, 3)
	checkGolden(t, "mysql_changes.txt", e.render(all, normalizeMySQL, false))
}

// TestMySQLKillRecovery: kill -9 while rows are written, restart: every
// committed row reaches Kafka, with the offsets in a file or in Kafka.
func TestMySQLKillRecovery(t *testing.T) {
	for _, store := range []string{"file", "kafka"} {
		t.Run(store, func(t *testing.T) {
			table := "e2e_kill_" + store
			e := newMyEnv(t, "DROP TABLE IF EXISTS "+table, "CREATE TABLE "+table+" (id int PRIMARY KEY, v int)")
			offsets := "offsets: {store: file, flush_interval: 100ms}"
			if store == "kafka" {
				offsets = fmt.Sprintf("offsets: {store: kafka, brokers: [%s], topic: sluice_offsets_%s, flush_interval: 100ms}", e.brokers, e.name)
			}
			// Mode never: a lost offset would start at the binlog's end and
			// lose the rows written while sluice was down.
			e.writeConfig([]string{table}, "snapshot: {mode: never}\n      "+offsets)
			d := e.start()
			const n = 3000
			var written atomic.Int64
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := client.Connect(e.addr, e.user, e.pass, "sluice")
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				for i := 1; i <= n; i++ {
					if _, err := c.Execute(fmt.Sprintf("INSERT INTO %s VALUES (%d, %d)", table, i, i*10)); err != nil {
						t.Error(err)
						return
					}
					written.Store(int64(i))
					time.Sleep(200 * time.Microsecond)
				}
			}()
			waitWritten := func(k int64) {
				t.Helper()
				deadline := time.Now().Add(2 * time.Minute)
				for written.Load() < k {
					select {
					case <-done:
						t.Fatalf("the writer stopped at %d rows", written.Load())
					default:
					}
					if time.Now().After(deadline) {
						t.Fatalf("the writer is stuck at %d of %d rows", written.Load(), k)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			waitWritten(n / 3)
			d.stop(t, syscall.SIGKILL)
			waitWritten(2 * n / 3)
			d = e.start()
			<-done
			topic := e.name + ".sluice." + table
			seen := map[string]bool{}
			total := 0
			deadline := time.Now().Add(2 * time.Minute)
			for len(seen) < n && time.Now().Before(deadline) {
				recs := e.consumeAll([]string{topic})
				total = len(recs)
				for _, r := range recs {
					seen[string(r.key)] = true
				}
				if len(seen) < n {
					time.Sleep(500 * time.Millisecond)
				}
			}
			if code := d.stop(t, syscall.SIGTERM); code != 0 {
				t.Errorf("exit code %d after SIGTERM", code)
			}
			missing := 0
			for i := 1; i <= n; i++ {
				if !seen[`{"id":`+strconv.Itoa(i)+`}`] {
					if missing++; missing <= 5 {
						t.Errorf("row %d never reached Kafka", i)
					}
				}
			}
			t.Logf("%d rows, %d records (%d replayed after kill -9), %d missing", n, total, total-len(seen), missing)
		})
	}
}
