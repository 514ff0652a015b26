package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestTransformsEndToEnd: transforms from the YAML file through the daemon
// into Kafka, on a table with mixed-case names and on a keyless table. The
// pipeline's transforms (columns: rename, exclude, hash; key: a key for
// the keyless table; filter: drops one of its rows; set_field) apply to
// both Kafka sinks; each sink's own transforms (route: the audit table's
// topic renamed; columns: mask; headers) only to its records.
func TestTransformsEndToEnd(t *testing.T) {
	schema := fmt.Sprintf("Shop%d", time.Now().UnixNano()%100000)
	e := newEnv(t, fmt.Sprintf(`CREATE SCHEMA %[1]q;
		CREATE TABLE %[1]q."Customers" ("Id" int PRIMARY KEY, "Email" text, "Notes" text, "Age" int);
		CREATE TABLE %[1]q.audit (at bigint NOT NULL, msg text)`, schema))
	t.Cleanup(func() { e.exec(fmt.Sprintf("DROP SCHEMA IF EXISTS %q CASCADE", schema)) })
	testenv.DeleteTopicsAtEnd(t, e.brokers, e.name)
	e.writeDaemon(fmt.Sprintf(`type: postgres
dsn: %q
tables: [%[2]s.Customers, %[2]s.audit]
messages: false
status_interval: 1s
snapshot: {mode: never}`, e.pgDSN, schema), fmt.Sprintf(`events:
  type: kafka
  brokers: [%[1]s]
  linger: 1ms
  transforms:
    - {type: route, topic_regex: '(.*)\.audit', topic_replacement: '${1}.audit_all'}
masked:
  type: kafka
  brokers: [%[1]s]
  linger: 1ms
  topic: "{prefix}.masked.{table}"
  transforms:
    - type: headers
      tables: ["*.Customers"]
      encoding: raw
      headers: [{name: tenant, value: acme}, {name: mail-domain, expression: 'after.mail == nil ? nil : split(after.mail, "@")[1]'}]
    - type: columns
      tables: ["*.Customers"]
      ops: [c, u]
      mask: {mail: "***"}`, e.brokers))
	// The pipeline's transforms go beside source and sinks.
	e.addPipelineKey(`transforms:
  - type: columns
    tables: [%[1]s.Customers]
    rename: {Email: mail}
    exclude: [Notes]
    hash: [Age]
    salt: pepper
  - type: key
    tables: ["%[1]s.aud*"]
    columns: [at]
  - type: filter
    tables: ["%[1]s.audit"]
    expression: 'after.msg != "skip" && name == "audit"'
  - type: set_field
    tables: ["%[1]s.audit"]
    fields: [{name: tenant, value: acme}, {name: loud, expression: 'upper(after.msg)'}]`, schema)
	d := e.start()
	tbl := fmt.Sprintf("%q.%q", schema, "Customers")
	e.exec(`INSERT INTO ` + tbl + ` VALUES (1, 'ann@example.com', 'n1', 41)`)
	e.exec(`UPDATE ` + tbl + ` SET "Email" = 'ann@example.org' WHERE "Id" = 1`)
	e.exec(`DELETE FROM ` + tbl + ` WHERE "Id" = 1`)
	e.exec(fmt.Sprintf(`INSERT INTO %q.audit VALUES (4, 'skip')`, schema))
	e.exec(fmt.Sprintf(`INSERT INTO %q.audit VALUES (5, 'x')`, schema))

	topics := []string{e.name + "." + schema + ".Customers", e.name + ".masked.Customers", e.name + "." + schema + ".audit_all"}
	recs := e.consume(topics, 4+4+1, time.Minute) // c, u, d, tombstone per Customers topic; the audit insert the filter keeps
	got := map[string][]string{}
	var hs []string // the masked sink's headers transform: tenant, mail-domain (raw)
	for _, r := range recs {
		after := "-"
		if r.value != nil {
			after = afterOf(t, r.value)
		}
		got[r.topic] = append(got[r.topic], string(r.key)+" "+after)
		if r.topic == topics[1] {
			hs = append(hs, r.headers["tenant"]+" "+r.headers["mail-domain"])
		}
	}
	// printf 'pepper%s' 41 | sha256sum
	const age = `"ecc8f6f1dd59b3fbf7571bbeb7531732623d430f12bfc1ed2a82a858daee09bd"`
	want := map[string][]string{
		topics[0]: {
			`{"Id":1} {"Id":1,"mail":"ann@example.com","Age":` + age + `}`,
			`{"Id":1} {"Id":1,"mail":"ann@example.org","Age":` + age + `}`,
			`{"Id":1} null`,
			`{"Id":1} -`,
		},
		topics[1]: {
			`{"Id":1} {"Id":1,"mail":"***","Age":` + age + `}`,
			`{"Id":1} {"Id":1,"mail":"***","Age":` + age + `}`,
			`{"Id":1} null`,
			`{"Id":1} -`,
		},
		// The route keeps merged keys apart with the physical table's
		// topic, as Debezium's router does by default.
		topics[2]: {`{"at":5,"__dbz__physicalTableIdentifier":"` + e.name + "." + schema + `.audit"} {"at":5,"msg":"x","tenant":"acme","loud":"X"}`},
	}
	// The headers see the row as the pipeline's columns transform left
	// it (Email renamed mail), before the sink's mask; a delete has no
	// after (a null header, read as ""), and its tombstone carries the
	// delete's headers.
	if g, w := strings.Join(hs, "|"), "acme example.com|acme example.org|acme |acme "; g != w {
		t.Errorf("masked sink's headers %q, want %q", g, w)
	}
	for _, topic := range topics {
		if g, w := strings.Join(got[topic], "\n"), strings.Join(want[topic], "\n"); g != w {
			t.Errorf("%s:\n got\n%s\n want\n%s", topic, g, w)
		}
	}
	if code := d.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// addPipelineKey appends a key (a YAML block written without
// indentation, formatted with args) to the pipeline writeDaemon wrote.
func (e *env) addPipelineKey(format string, args ...any) {
	e.t.Helper()
	b, err := os.ReadFile(e.cfgPath)
	if err == nil {
		err = os.WriteFile(e.cfgPath, append(b, indent(fmt.Sprintf(format, args...), 4)...), 0o644)
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

// afterOf is the after image of a change event's value, as written.
func afterOf(t *testing.T, value []byte) string {
	t.Helper()
	var v struct {
		After json.RawMessage `json:"after"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		t.Fatalf("%v: %s", err, value)
	}
	return string(v.After)
}
