package main

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/avrotest"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestAvroPostgres runs the daemon from PostgreSQL to Kafka with format
// avro and a real registry (Apicurio), across an ALTER TABLE … ADD
// COLUMN: the rows before and after it carry the ids of two versions of
// the value schema, registered under TopicNameStrategy's subject, and
// decode (schema fetched by id, an independent Avro decoder) to the rows
// written, the new column only in the second version.
func TestAvroPostgres(t *testing.T) {
	e := newEnv(t, `DROP TABLE IF EXISTS e2e_avro; CREATE TABLE e2e_avro (id int PRIMARY KEY, note text, amount numeric(10,2), at timestamptz)`)
	reg := testenv.Get(t, "SLUICE_TEST_REGISTRY_URL")
	topic := e.name + ".public.e2e_avro"
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	admin := avrotest.AdminClient(t, reg)
	avrotest.DeleteSubjectsAtEnd(t, admin, topic+"-key", topic+"-value")
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	decode := func(b []byte) (int, map[string]any) {
		t.Helper()
		id, body, err := avrotest.Wire(b)
		if err != nil {
			t.Fatal(err)
		}
		s, err := avrotest.SchemaByID(ctx, admin, id)
		if err != nil {
			t.Fatalf("schema %d: %v", id, err)
		}
		v, err := avrotest.Decode(s, body)
		if err != nil {
			t.Fatalf("schema %d: %v", id, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("schema %d: decoded %T, want a record", id, v)
		}
		return id, m
	}
	// Rows of one key are in order; ids 1 and 2 may share a partition.
	byKey := map[int][]record{}
	for _, r := range recs {
		_, k := decode(r.key)
		byKey[int(k["id"].(int))] = append(byKey[int(k["id"].(int))], r)
	}
	if len(byKey[1]) != 3 || len(byKey[2]) != 1 || byKey[1][2].value != nil {
		t.Fatalf("records per key: 1: %d, 2: %d; want the insert, delete and tombstone of 1 and the insert of 2", len(byKey[1]), len(byKey[2]))
	}
	v1, ins1 := decode(byKey[1][0].value)
	v2, ins2 := decode(byKey[2][0].value)
	if v1 == v2 {
		t.Errorf("the rows before and after ADD COLUMN carry the same schema id %d", v1)
	}
	after := func(m map[string]any) map[string]any {
		a, _ := m["after"].(map[string]any)
		if u, ok := a[e.name+".public.e2e_avro.Value"]; ok { // the union's branch
			a, _ = u.(map[string]any)
		}
		return a
	}
	a1, a2 := after(ins1), after(ins2)
	if a1["note"] != "first" || a2["note"] != "second" || fmt.Sprint(a2["extra"]) != "7" {
		t.Errorf("after images %v and %v; want notes first and second, extra 7 in the second", a1, a2)
	}
	if _, ok := a1["extra"]; ok {
		t.Errorf("the first row's schema has the column added after it: %v", a1)
	}
	if ins1["op"] != "c" || ins2["op"] != "c" {
		t.Errorf("ops %v and %v, want c", ins1["op"], ins2["op"])
	}
	vers, err := admin.SubjectVersions(ctx, topic+"-value")
	if err != nil || len(vers) != 2 {
		t.Errorf("versions of %s-value: %v, %v; want 2", topic, vers, err)
	}
}
