package avro

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestDebeziumSchemas converts the Connect schemas Debezium Server wrote
// with its JSON converter (testdata/golden/debezium/<source>/schemas) and
// compares them with the Avro schemas the same Debezium Server registered
// through Apicurio's Avro converter for the same tables
// (testdata/golden/debezium-avro/<source>/resolved, references inlined):
// equal once names are spelled out in full, whatever the key order. The
// two recordings differ only in their topic prefix and database name.
func TestDebeziumSchemas(t *testing.T) {
	for _, src := range []struct {
		dir, jsonPrefix, avroPrefix string
	}{
		{"postgres", "dbzpg.", "dbzavro."},
		{"mariadb", "dbzmaria.dbz.", "dbzavromaria.dbzavro."},
	} {
		files, err := filepath.Glob(filepath.Join("../../testdata/golden/debezium", src.dir, "schemas", "*.jsonl"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no recordings: %v", src.dir, err)
		}
		compared := 0
		for _, f := range files {
			key, value := lastSchemas(t, f)
			topic := strings.TrimSuffix(filepath.Base(f), ".jsonl")
			avroTopic := src.avroPrefix + strings.TrimPrefix(topic, src.jsonPrefix)
			for part, connect := range map[string][]byte{"key": key, "value": value} {
				want := filepath.Join("../../testdata/golden/debezium-avro", src.dir, "resolved", avroTopic+"-"+part+".avsc")
				raw, err := os.ReadFile(want)
				if os.IsNotExist(err) || connect == nil {
					continue // no such record (a keyless table's key, a topic Debezium did not write as Avro)
				}
				if err != nil {
					t.Fatal(err)
				}
				renamed := strings.ReplaceAll(string(connect), `"`+src.jsonPrefix, `"`+src.avroPrefix)
				s, err := Convert([]byte(renamed))
				if err != nil {
					t.Errorf("%s %s: %v", topic, part, err)
					continue
				}
				if diff := sameSchema(t, raw, []byte(s.JSON)); diff != "" {
					t.Errorf("%s %s: %s\ngot:  %s", avroTopic, part, diff, s.JSON)
				}
				compared++
			}
		}
		t.Logf("%s: %d schemas compared", src.dir, compared)
		if compared < 10 {
			t.Errorf("%s: only %d schemas compared", src.dir, compared)
		}
	}
}

// lastSchemas returns the Connect schemas of the last record of a
// recording with a key and a value.
func lastSchemas(t *testing.T, path string) (key, value []byte) {
	t.Helper()
	recs, err := testenv.ReadRecorded(path)
	if err != nil {
		t.Fatal(err)
	}
	schemaOf := func(b []byte) []byte {
		var env struct{ Schema json.RawMessage }
		if json.Unmarshal(b, &env) != nil || len(env.Schema) == 0 || string(env.Schema) == "null" {
			return nil
		}
		return env.Schema
	}
	for _, r := range recs {
		if k := schemaOf(r.Key); k != nil {
			key = k
		}
		if v := schemaOf(r.Value); v != nil {
			value = v
		}
	}
	return key, value
}

// sameSchema compares two Avro schemas' JSON after giving every named
// type its full name and defining it where it is first used.
func sameSchema(t *testing.T, want, got []byte) string {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Sprintf("not JSON: %v", err)
	}
	w, g = fullNames(w, "", map[string]any{}), fullNames(g, "", map[string]any{})
	return diff(w, g, "")
}

// fullNames rewrites names as full names without namespaces, and inlines
// references to named types defined earlier.
func fullNames(v any, ns string, defs map[string]any) any {
	switch x := v.(type) {
	case string:
		full := x
		if !strings.Contains(x, ".") && ns != "" {
			full = ns + "." + x
		}
		if d, ok := defs[full]; ok {
			return d
		}
		if d, ok := defs[x]; ok {
			return d
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = fullNames(x[i], ns, defs)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			out[k] = val
		}
		if name, ok := x["name"].(string); ok && (x["type"] == "record" || x["type"] == "enum" || x["type"] == "fixed") {
			space := ns
			if s, ok := x["namespace"].(string); ok {
				space = s
			}
			full := name
			if !strings.Contains(name, ".") && space != "" {
				full = space + "." + name
			}
			if i := strings.LastIndexByte(full, '.'); i >= 0 {
				ns = full[:i]
			}
			out["name"] = full
			delete(out, "namespace")
			defs[full] = out
		}
		for k, val := range x {
			switch k {
			case "type", "items", "values", "fields":
				out[k] = fullNames(val, ns, defs)
			}
		}
		if fs, ok := out["fields"].([]any); ok {
			for i, f := range fs {
				if fm, ok := f.(map[string]any); ok {
					fm2 := map[string]any{}
					for k, val := range fm {
						fm2[k] = val
					}
					fm2["type"] = fullNames(fm["type"], ns, defs)
					fs[i] = fm2
				}
			}
		}
		return out
	}
	return v
}

func diff(w, g any, path string) string {
	switch wv := w.(type) {
	case map[string]any:
		gv, ok := g.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want %v, got %v", path, short(w), short(g))
		}
		for k := range wv {
			if d := diff(wv[k], gv[k], path+"."+k); d != "" {
				return d
			}
		}
		for k := range gv {
			if _, ok := wv[k]; !ok {
				return fmt.Sprintf("%s.%s: not in Debezium's schema: %v", path, k, short(gv[k]))
			}
		}
		return ""
	case []any:
		gv, ok := g.([]any)
		if !ok || len(gv) != len(wv) {
			return fmt.Sprintf("%s: want %v, got %v", path, short(w), short(g))
		}
		for i := range wv {
			name := fmt.Sprintf("%s[%d]", path, i)
			if m, ok := wv[i].(map[string]any); ok {
				if n, ok := m["name"].(string); ok {
					name = path + "[" + n + "]"
				}
			}
			if d := diff(wv[i], gv[i], name); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(w, g) {
		return fmt.Sprintf("%s: want %v, got %v", path, short(w), short(g))
	}
	return ""
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
