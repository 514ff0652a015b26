package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestDebeziumConfigTranslates: testdata/config/debezium-postgres.properties,
// a Debezium Server configuration, translated by README's table "Debezium
// property → sluice key" alone (the test reads the table from README.md),
// gives exactly the dbzKeys and values of testdata/config/debezium-postgres.yaml,
// and that file is a valid sluice configuration. Every property of the
// recordings in testdata/golden/debezium must be in the table too.
func TestDebeziumConfigTranslates(t *testing.T) {
	table := dbzReadTable(t, "../../README.md")
	props, err := testenv.ReadProperties("../../testdata/config/debezium-postgres.properties")
	if err != nil {
		t.Fatal(err)
	}
	want := dbzTranslateProperties(t, table, props)

	raw, err := os.ReadFile("../../testdata/config/debezium-postgres.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	pipes, _ := doc["pipelines"].(map[string]any)
	if len(pipes) != 1 {
		t.Fatalf("want one pipeline, got %d", len(pipes))
	}
	got := map[string]string{}
	for _, p := range pipes {
		dbzFlatten("", p, got)
	}
	for _, k := range dbzUnion(dbzKeys(want), dbzKeys(got)) {
		switch {
		case got[k] == "" && want[k] != "":
			t.Errorf("%s: the translation gives %q, the YAML has no such key", k, want[k])
		case want[k] == "" && got[k] != "":
			t.Errorf("%s: %q is in the YAML but no property translates to it", k, got[k])
		case got[k] != want[k]:
			t.Errorf("%s: the translation gives %q, the YAML has %q", k, want[k], got[k])
		}
	}

	var stderr bytes.Buffer
	root := newRoot()
	root.SetArgs([]string{"validate", "--config", "../../testdata/config/debezium-postgres.yaml"})
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&stderr)
	if err := root.Execute(); err != nil {
		t.Errorf("sluice validate: %v\n%s", err, stderr.String())
	}

	// The recordings' properties are all in the table.
	for _, source := range []string{"postgres", "mariadb"} {
		modes, err := os.ReadDir(dbzGoldenDir + "/" + source)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range modes {
			if !m.IsDir() {
				continue
			}
			props, err := testenv.ReadProperties(dbzGoldenDir + "/" + source + "/" + m.Name() + "/application.properties")
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range props {
				if strings.HasPrefix(kv[0], "quarkus.") {
					continue // Debezium Server's own
				}
				if _, ok := table.row(dbzPropertyName(kv[0])); !ok {
					t.Errorf("%s/%s: property %s is not in README's table", source, m.Name(), kv[0])
				}
			}
		}
	}
}

// dbzTableRow is one row of README's table.
type dbzTableRow struct {
	props []string // the Debezium properties of the row
	key   string   // the sluice key, "" for "—"
	value string   // how the value translates
}

type dbzTable []dbzTableRow

func (t dbzTable) row(prop string) (dbzTableRow, bool) {
	for _, r := range t {
		for _, p := range r.props {
			if p == prop || strings.HasSuffix(p, ".*") && strings.HasPrefix(prop, strings.TrimSuffix(p, "*")) {
				return r, true
			}
		}
	}
	return dbzTableRow{}, false
}

var dbzBackticked = regexp.MustCompile("`([^`]+)`")

// dbzReadTable parses the table that follows the debezium-table
// marker in README.md.
func dbzReadTable(t *testing.T, path string) dbzTable {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- debezium-table")
	if !ok {
		t.Fatal("README.md has no <!-- debezium-table --> marker before the Debezium property table")
	}
	var out dbzTable
	for i, line := range strings.Split(rest, "\n")[1:] {
		if !strings.HasPrefix(line, "|") {
			if i > 2 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 3 || strings.HasPrefix(cells[0], " ---") || strings.Contains(cells[0], "Debezium property") {
			continue
		}
		r := dbzTableRow{value: strings.TrimSpace(cells[2])}
		for _, m := range dbzBackticked.FindAllStringSubmatch(cells[0], -1) {
			r.props = append(r.props, m[1])
		}
		if m := dbzBackticked.FindStringSubmatch(cells[1]); m != nil {
			r.key = m[1]
		}
		out = append(out, r)
	}
	if len(out) < 20 {
		t.Fatalf("read only %d rows of the Debezium property table", len(out))
	}
	return out
}

// dbzPropertyName drops Debezium Server's prefixes.
func dbzPropertyName(p string) string {
	for _, prefix := range []string{"debezium.source.", "debezium.sink.kafka.producer.", "debezium.format.", "debezium."} {
		if s, ok := strings.CutPrefix(p, prefix); ok {
			return s
		}
	}
	return p
}

// dbzTranslateProperties applies the table's rules: "as is", "list",
// "milliseconds → duration", the DSN pattern, the connector class names;
// a row without a sluice key drops the property.
func dbzTranslateProperties(t *testing.T, table dbzTable, props [][2]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	dsnParts := map[string]string{}
	var dsnRow dbzTableRow
	for _, kv := range props {
		name := dbzPropertyName(kv[0])
		r, ok := table.row(name)
		if !ok {
			t.Errorf("property %s (%s) is not in README's table", kv[0], name)
			continue
		}
		v := kv[1]
		switch {
		case r.key == "":
		case r.key == "source.dsn" && strings.Contains(r.value, "<hostname>"):
			dsnParts[strings.TrimPrefix(name, "database.")] = v
			dsnRow = r
		case strings.HasPrefix(r.value, "as is"):
			out[r.key] = v
		case r.value == "list":
			out[r.key] = strings.Join(strings.Split(v, ","), ",")
		case r.value == "milliseconds → duration":
			ms, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s=%s: not milliseconds", kv[0], v)
			}
			out[r.key] = (time.Duration(ms) * time.Millisecond).String()
		case r.key == "source.type":
			for _, m := range regexp.MustCompile("`([a-z]+)` for `…([A-Za-z]+)`").FindAllStringSubmatch(r.value, -1) {
				if strings.HasSuffix(v, m[2]) {
					out[r.key] = m[1]
				}
			}
			if out[r.key] == "" {
				t.Errorf("%s=%s: no source type in the table's row", kv[0], v)
			}
		default:
			t.Errorf("%s: the table's rule %q is not one the test knows", kv[0], r.value)
		}
	}
	if len(dsnParts) > 0 {
		pattern := dbzBackticked.FindStringSubmatch(dsnRow.value)[1] // the PostgreSQL form comes first
		out["source.dsn"] = regexp.MustCompile(`<([a-z]+)>`).ReplaceAllStringFunc(pattern, func(m string) string {
			return dsnParts[strings.Trim(m, "<>")]
		})
	}
	return out
}

// dbzFlatten writes the leaves of v under prefix as dotted keys; lists are
// joined by commas.
func dbzFlatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		ks := make([]string, 0, len(x))
		for k := range x {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			dbzFlatten(p, x[k], out)
		}
	case []any:
		var s []string
		for _, e := range x {
			s = append(s, fmt.Sprint(e))
		}
		out[prefix] = strings.Join(s, ",")
	default:
		out[prefix] = fmt.Sprint(x)
	}
}
