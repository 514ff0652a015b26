package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluice-cdc/sluice/internal/avrotest"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// avroReader decodes the records of an Avro run: the schema id from
// Confluent's wire format, the schema from the registry by id (an
// independent Avro decoder then reads the body).
type avroReader struct {
	t     *testing.T
	admin *sr.Client
}

func newAvroReader(t *testing.T, subjects ...string) (*avroReader, string) {
	reg := testenv.Get(t, "SLUICE_TEST_REGISTRY_URL")
	a := &avroReader{t: t, admin: avrotest.AdminClient(t, reg)}
	avrotest.DeleteSubjectsAtEnd(t, a.admin, subjects...)
	return a, reg
}

// decode returns the schema id of b and its record.
func (a *avroReader) decode(b []byte) (int, map[string]any) {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, v, err := avrotest.DecodeWire(ctx, a.admin, b)
	if err != nil {
		a.t.Fatal(err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		a.t.Fatalf("schema %d: decoded %T, want a record", id, v)
	}
	return id, m
}

// row is the after (or before) image of a decoded envelope, out of its
// union.
func row(m map[string]any, image string) map[string]any {
	r, _ := m[image].(map[string]any)
	if len(r) == 1 {
		for k, v := range r {
			if inner, ok := v.(map[string]any); ok && strings.HasSuffix(k, ".Value") {
				return inner
			}
		}
	}
	return r
}

// versions is the number of versions of a subject.
func (a *avroReader) versions(subject string) int {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vs, err := a.admin.SubjectVersions(ctx, subject)
	if err != nil {
		a.t.Fatalf("versions of %s: %v", subject, err)
	}
	return len(vs)
}

// TestAvroPostgres runs the daemon from PostgreSQL to Kafka with format
// avro and a real registry (Apicurio), across an ALTER TABLE … ADD
// COLUMN: the rows before and after it carry the ids of two versions of
// the value schema, registered under TopicNameStrategy's subject, and
// decode to the rows written, the new column only in the second version.
func TestAvroPostgres(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_avro; CREATE TABLE e2e_avro (id int PRIMARY KEY, note text, amount numeric(10,2), at timestamptz)`)
	topic := e.name + ".public.e2e_avro"
	a, reg := newAvroReader(t, topic+"-key", topic+"-value")
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.writeConfig([]string{"public.e2e_avro"}, "snapshot: {mode: never}", fmt.Sprintf("format: avro\n        registry: {url: %q}", reg))
	d := e.start()
	e.exec(`INSERT INTO e2e_avro VALUES (1, 'first', 12.50, '2024-01-02 03:04:05+00')`)
	e.exec(`ALTER TABLE e2e_avro ADD COLUMN extra int`)
	e.exec(`INSERT INTO e2e_avro VALUES (2, 'second', NULL, NULL, 7)`)
	e.exec(`DELETE FROM e2e_avro WHERE id = 1`)
	recs := e.consume([]string{topic}, 4, 60*time.Second) // 3 changes and a tombstone
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	// Rows of one key are in order; ids 1 and 2 may share a partition.
	byKey := map[int][]record{}
	for _, r := range recs {
		_, k := a.decode(r.key)
		id := k["id"].(int)
		byKey[id] = append(byKey[id], r)
	}
	if len(byKey[1]) != 3 || len(byKey[2]) != 1 || byKey[1][2].value != nil {
		t.Fatalf("records per key: 1: %d, 2: %d; want the insert, delete and tombstone of 1 and the insert of 2", len(byKey[1]), len(byKey[2]))
	}
	v1, ins1 := a.decode(byKey[1][0].value)
	v2, ins2 := a.decode(byKey[2][0].value)
	if v1 == v2 {
		t.Errorf("the rows before and after ADD COLUMN carry the same schema id %d", v1)
	}
	a1, a2 := row(ins1, "after"), row(ins2, "after")
	if a1["note"] != "first" || a2["note"] != "second" || fmt.Sprint(a2["extra"]) != "7" {
		t.Errorf("after images %v and %v; want notes first and second, extra 7 in the second", a1, a2)
	}
	if _, ok := a1["extra"]; ok {
		t.Errorf("the first row's schema has the column added after it: %v", a1)
	}
	if ins1["op"] != "c" || ins2["op"] != "c" {
		t.Errorf("ops %v and %v, want c", ins1["op"], ins2["op"])
	}
	if n := a.versions(topic + "-value"); n != 2 {
		t.Errorf("%d versions of %s-value, want 2", n, topic)
	}
}

// TestAvroEvolution: under the subject's BACKWARD rule, dropping a column
// and widening int to bigint register new versions that consumers read
// with the rows' own schemas; changing int to text is refused by the
// registry (409), and the pipeline stops with an error that names the
// subject, writing nothing under the refused schema.
func TestAvroEvolution(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_avro_evo; CREATE TABLE e2e_avro_evo (id int PRIMARY KEY, n int, note text)`)
	topic := e.name + ".public.e2e_avro_evo"
	a, reg := newAvroReader(t, topic+"-key", topic+"-value")
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.writeConfig([]string{"public.e2e_avro_evo"}, "snapshot: {mode: never}", fmt.Sprintf("format: avro\n        registry: {url: %q}", reg))
	d := e.start()
	e.exec(`INSERT INTO e2e_avro_evo VALUES (1, 1, 'one')`)
	if n := len(e.consume([]string{topic}, 1, 60*time.Second)); n != 1 {
		t.Fatalf("%d records, want the first insert", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, res := range a.admin.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, topic+"-value") {
		if res.Err != nil {
			t.Fatalf("set BACKWARD on %s-value: %v", topic, res.Err)
		}
	}
	for _, stmt := range []string{
		`ALTER TABLE e2e_avro_evo DROP COLUMN note`,
		`INSERT INTO e2e_avro_evo VALUES (2, 2)`,
		`ALTER TABLE e2e_avro_evo ALTER COLUMN n TYPE bigint`,
		`INSERT INTO e2e_avro_evo VALUES (3, 3000000000)`,
		`ALTER TABLE e2e_avro_evo ALTER COLUMN n TYPE text USING n::text`,
		`INSERT INTO e2e_avro_evo VALUES (4, 'four')`,
	} {
		e.exec(stmt)
	}
	select {
	case <-d.done:
	case <-time.After(90 * time.Second):
		t.Fatal("the daemon did not stop after the registry refused a schema")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	logs := d.logs.String()
	if !strings.Contains(logs, topic+"-value") || !strings.Contains(logs, "incompatible") {
		t.Errorf("the daemon's log does not name the subject and the refusal")
	}
	recs := e.consume([]string{topic}, 3, 30*time.Second)
	got := map[int]map[string]any{}
	for _, r := range recs {
		_, v := a.decode(r.value)
		after := row(v, "after")
		got[after["id"].(int)] = after
	}
	want := map[int]string{1: "map[id:1 n:1 note:one]", 2: "map[id:2 n:2]", 3: "map[id:3 n:3000000000]"}
	if len(got) != 3 {
		t.Fatalf("rows %v, want 1 to 3 and not 4", got)
	}
	for id, w := range want {
		if g := fmt.Sprint(avrotest.Plain(got[id])); g != w {
			t.Errorf("row %d decoded as %s, want %s", id, g, w)
		}
	}
	if n := a.versions(topic + "-value"); n != 3 {
		t.Errorf("%d versions of %s-value, want 3 (the refused one not among them)", n, topic)
	}
}

// TestAvroRegistryDown: the registry goes away for 30 s while rows that
// need a new schema version keep coming. The pipeline waits (nothing
// reaches the topic, /readyz says the registry is unreachable), and when
// the registry is back every row arrives once, none lost.
func TestAvroRegistryDown(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_avro_down; CREATE TABLE e2e_avro_down (id int PRIMARY KEY, v int)`)
	topic := e.name + ".public.e2e_avro_down"
	a, reg := newAvroReader(t, topic+"-key", topic+"-value")
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	host := strings.TrimPrefix(strings.SplitN(reg, "/apis", 2)[0], "http://")
	outage := testenv.NewOutage(t, host)
	proxied := strings.Replace(reg, host, outage.Addr(), 1)
	e.admin = freeAddr(t)
	e.writeConfig([]string{"public.e2e_avro_down"}, "snapshot: {mode: never}", fmt.Sprintf("format: avro\n        registry: {url: %q, retry_max: 1s}", proxied))
	d := e.start()
	e.exec(`INSERT INTO e2e_avro_down VALUES (0, 0)`)
	if n := len(e.consume([]string{topic}, 1, 60*time.Second)); n != 1 {
		t.Fatalf("%d records, want the first insert", n)
	}
	outage.Down()
	downAt := time.Now()
	e.exec(`ALTER TABLE e2e_avro_down ADD COLUMN w int`) // the next rows need a new version
	const rows = 200
	for i := 1; i <= rows; i++ {
		e.exec(fmt.Sprintf(`INSERT INTO e2e_avro_down VALUES (%d, %d, %d)`, i, i, i))
	}
	body := e.waitReadyz(t, 503, 60*time.Second)
	if !strings.Contains(body, "schema registry") {
		t.Errorf("/readyz says %q, want the schema registry named", body)
	}
	if n := len(e.consumeAll([]string{topic})); n != 1 {
		t.Errorf("%d records while the registry is down, want 1", n)
	}
	time.Sleep(30*time.Second - time.Since(downAt)) // the outage's length, not a wait for an event
	outage.Up()
	e.waitReadyz(t, 200, 60*time.Second)
	recs := e.consume([]string{topic}, rows+1, 90*time.Second)
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	seen := map[int]int{}
	for _, r := range recs {
		_, k := a.decode(r.key)
		seen[k["id"].(int)]++
	}
	for i := 0; i <= rows; i++ {
		if seen[i] == 0 {
			t.Errorf("row %d lost", i)
		}
	}
	if len(recs) != rows+1 {
		t.Logf("%d records for %d rows (at-least-once: a restart may repeat some)", len(recs), rows+1)
	}
}

// TestAvroMySQL: MariaDB to Kafka in Avro, with the schema-change
// events on their own topic in Avro too.
func TestAvroMySQL(t *testing.T) {
	e := newMyEnv(t, "DROP TABLE IF EXISTS e2e_avro", "CREATE TABLE e2e_avro (id int PRIMARY KEY, note varchar(20), amount decimal(10,2), at datetime(3))")
	t.Cleanup(func() { e.db.Execute("DROP TABLE IF EXISTS e2e_avro") })
	topic := e.name + ".sluice.e2e_avro"
	a, reg := newAvroReader(t, topic+"-key", topic+"-value", e.name+"-key", e.name+"-value")
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.writePipeline(fmt.Sprintf("type: mysql\n      dsn: \"%s\"\n      tables: [e2e_avro]\n      heartbeat: 1s", e.dsn),
		"snapshot: {mode: never}", fmt.Sprintf("format: avro\n        registry: {url: %q}", reg))
	d := e.start()
	e.exec("INSERT INTO e2e_avro VALUES (1, 'first', 12.50, '2024-01-02 03:04:05.678')",
		"ALTER TABLE e2e_avro ADD COLUMN extra int",
		"INSERT INTO e2e_avro VALUES (2, 'second', NULL, NULL, 7)")
	recs := e.consume([]string{topic}, 2, 60*time.Second)
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	byID := map[int]map[string]any{}
	ids := map[int]bool{}
	for _, r := range recs {
		id, v := a.decode(r.value)
		ids[id] = true
		after := row(v, "after")
		byID[after["id"].(int)] = after
	}
	if len(ids) != 2 {
		t.Errorf("the rows before and after ADD COLUMN share a schema id")
	}
	if fmt.Sprint(byID[1]["note"]) != "first" && fmt.Sprint(byID[1]["note"]) != "map[string:first]" {
		t.Errorf("row 1: %v", byID[1])
	}
	if _, ok := byID[2]["extra"]; !ok {
		t.Errorf("row 2 has no extra column: %v", byID[2])
	}
	// The schema changes (ALTER TABLE) went to the prefix's topic in Avro.
	ddl := e.consumeAll([]string{e.name})
	if len(ddl) == 0 {
		t.Fatalf("no schema-change records on %s", e.name)
	}
	for _, r := range ddl {
		_, v := a.decode(r.value)
		if !strings.Contains(fmt.Sprint(v["ddl"]), "e2e_avro") {
			t.Errorf("schema change %v does not name the table", v["ddl"])
		}
	}
}
