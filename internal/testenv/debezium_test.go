package testenv

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseJSONRoundTrip(t *testing.T) {
	for _, s := range []string{`{"a":1,"b":[true,false,null],"c":{"d":"x\"y\u00fc"},"e":2.0,"f":-1e300}`, `[]`, `{}`, `"s"`, `null`} {
		n, err := ParseJSON([]byte(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if got := n.String(); got != s {
			t.Errorf("round trip of %s gave %s", s, got)
		}
	}
	for _, s := range []string{`{"a": 1}`, `{"a":1,}`, `[1 ]`, `01x`, `"a`, `{"a":1}x`} {
		if _, err := ParseJSON([]byte(s)); err == nil {
			t.Errorf("%s: parsed, want an error", s)
		}
	}
}

func TestDiffJSON(t *testing.T) {
	parse := func(s string) *JSONNode {
		n, err := ParseJSON([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := []struct{ want, got, diffs string }{
		{`{"a":1,"b":2}`, `{"a":1,"b":2}`, ``},
		{`{"a":1,"b":2}`, `{"b":2,"a":1}`, `v: order`},
		{`{"a":1,"b":2.0}`, `{"a":1,"b":2}`, `v.b: value`},
		{`{"a":1,"b":null}`, `{"a":1}`, `v.b: missing`},
		{`{"a":1}`, `{"a":1,"x":{"y":1}}`, `v.x: extra`},
		{`{"fields":[{"field":"id","type":"int32"}]}`, `{"fields":[{"field":"id","type":"int64"}]}`, `v.fields[id].type: value`},
		{`[1,2]`, `[1,2,3]`, `v: length`},
		{`{"a":1,"b":2,"c":3}`, `{"b":2,"a":1}`, `v.c: missing; v: order`},
	}
	for _, c := range cases {
		var got []string
		for _, d := range DiffJSON("v", parse(c.want), parse(c.got)) {
			got = append(got, d.Path+": "+d.What)
		}
		if s := strings.Join(got, "; "); s != c.diffs {
			t.Errorf("%s vs %s: got %q, want %q", c.want, c.got, s, c.diffs)
		}
	}
}

func TestNormalizeMasksOnlyRunValues(t *testing.T) {
	v := `{"before":null,"after":{"id":1,"ts_ms":5},"source":{"version":"3.6.1.Final","ts_ms":17,"sequence":"[null,\"1359775280\"]","txId":656939,"lsn":null,"xmin":null,"gtid":"0-1-155033","file":"mysql-bin.000002","pos":43509528,"row":0},"transaction":{"id":"656966:1359847328","total_order":1},"op":"r","ts_ms":1,"ts_us":2,"ts_ns":3}`
	n, err := NormalizeValue("p.public.t", []byte(v))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"before":null,"after":{"id":1,"ts_ms":5},"source":{"version":"#","ts_ms":#,"sequence":"[null,\"#\"]","txId":#,"lsn":null,"xmin":null,"gtid":"#-#-#","file":"mysql-bin.#","pos":#,"row":0},"transaction":{"id":"#:#","total_order":1},"op":"r","ts_ms":#,"ts_us":#,"ts_ns":#}`
	if got := n.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	tx := `{"status":"END","id":"2149146:1627466032","event_count":5,"data_collections":[{"data_collection":"io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@47c4cfd7","event_count":1}],"ts_ms":1796017287458}`
	n, err = NormalizeValue("p.transaction", []byte(tx))
	if err != nil {
		t.Fatal(err)
	}
	want = `{"status":"END","id":"#:#","event_count":5,"data_collections":[{"data_collection":"io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@#","event_count":1}],"ts_ms":#}`
	if got := n.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestCompareTopicAligns(t *testing.T) {
	rec := func(key, value string) Record {
		r := Record{Topic: "p.public.t", Key: []byte(key)}
		if value != "" {
			r.Value = []byte(value)
		}
		return r
	}
	want := []Record{rec(`{"id":1}`, `{"op":"c","x":1}`), rec(`{"id":1}`, `{"op":"d","x":1}`), rec(`{"id":1}`, ""), rec(`{"id":2}`, `{"op":"c","x":1}`)}
	got := []Record{rec(`{"id":1}`, `{"op":"c","x":1}`), rec(`{"id":1}`, `{"op":"d","x":2}`), rec(`{"id":2}`, `{"op":"c","x":1}`), rec(``, `{"op":"t"}`)}
	var paths []string
	for _, d := range CompareTopic("p.public.t", want, got, "sluice.") {
		for _, x := range d.Diffs {
			paths = append(paths, x.Path)
		}
	}
	if s := strings.Join(paths, " "); s != "value.x -record.tombstone +record.t" {
		t.Errorf("diff paths %q", s)
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		ok   bool
	}{{"", "x", true}, {"*", "x", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "abc", true}, {"a*d", "abc", false},
		{"value.after.*", "value.after.c_2d", true}, {"value.after.*", "value.before.x", false}, {"abc", "abc", true}, {"abc", "abcd", false}} {
		if Glob(c.p, c.s) != c.ok {
			t.Errorf("Glob(%q, %q) = %v", c.p, c.s, !c.ok)
		}
	}
}

func TestSQLStatements(t *testing.T) {
	stmts, err := SQLStatements(filepath.Join("..", "..", "testdata", "debezium", "postgres", "stream.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) < 10 || stmts[0] != "SET client_encoding = 'UTF8'" || !strings.HasPrefix(stmts[len(stmts)-1], "INSERT INTO end_marker") {
		t.Errorf("statements: %q", stmts)
	}
}

// TestValidateConnectOnDebezium runs the validator over Debezium's own
// records with schemas, which all validate, and over broken documents,
// which must not.
func TestValidateConnectOnDebezium(t *testing.T) {
	bad := map[string]int{}
	for _, source := range []string{"postgres", "mariadb"} {
		files, err := SortedFiles(filepath.Join("..", "..", "testdata", "golden", "debezium", source, "schemas"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			recs, err := ReadRecorded(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range recs {
				for _, b := range [][]byte{r.Key, r.Value} {
					if b == nil {
						continue
					}
					if err := ValidateConnect(b); err != nil {
						path, _, _ := strings.Cut(err.Error(), ":")
						bad[filepath.Base(f)+" "+path]++
						t.Logf("%s record %d: %v", filepath.Base(f), i, err)
					}
				}
			}
		}
	}
	for k, n := range bad {
		t.Errorf("%s: %d records fail validation", k, n)
	}
	for _, bin := range []string{`{"schema":{"type":"int32","optional":false},"payload":null}`, `{"schema":{"type":"struct","fields":[{"type":"int16","optional":false,"field":"a"}],"optional":false},"payload":{"a":40000}}`,
		`{"schema":{"type":"struct","fields":[],"optional":false},"payload":{"a":1}}`, `{"schema":{"type":"array","items":{"type":"string","optional":false},"optional":false},"payload":["a",null]}`,
		`{"schema":{"type":"bytes","optional":false},"payload":"not base64!"}`} {
		if err := ValidateConnect([]byte(bin)); err == nil {
			t.Errorf("%s validates", bin)
		}
	}
}
