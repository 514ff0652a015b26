package elasticsearch

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/pipeline"
	_ "github.com/sluice-cdc/sluice/source/postgres"
	"github.com/sluice-cdc/sluice/transform"
)

// linesColumns are the columns of every table of the deprecated columns
// tests: a key, a listed column, one never listed.
var linesColumns = []sluice.Column{
	{Name: "ID", DBType: "int4", Type: sluice.TypeInt32, Key: true},
	{Name: "Note", DBType: "text", Type: sluice.TypeText, Optional: true},
	{Name: "Secret", DBType: "text", Type: sluice.TypeText, Optional: true},
}

// TestDeprecatedColumnsGiveTheSameDocuments: the former columns option,
// now translated into columns transform entries, selects what it did,
// naming tables as the database spells them (a MySQL table by db.table, a
// PostgreSQL one with its capitals and spaces, glob characters as
// themselves). One difference: a key column that is not listed is in the
// document now (the transform keeps the key whole), where the option
// kept it out and used it for the id only; the id is the same.
func TestDeprecatedColumnsGiveTheSameDocuments(t *testing.T) {
	table := func(db, schema, name string) *sluice.Table {
		return &sluice.Table{DB: db, Schema: schema, Name: name, Columns: linesColumns, Key: []int{0}}
	}
	columns := map[string]any{
		"Shop.OrderLines":   []any{"ID", "Note"},
		"Sales.Order Lines": []any{"Note"},
		"Sales.Lines[1]":    []any{"Note", "Gone"},
	}
	for _, c := range []struct {
		name  string
		table *sluice.Table
		id    int64
		want  string
	}{
		{"MySQL db.table, key listed", table("Shop", "", "OrderLines"), 1, `{"ID":1,"Note":"n"}`},
		{"mixed case and a space, key not listed but kept", table("shop", "Sales", "Order Lines"), 2, `{"ID":2,"Note":"n"}`},
		{"glob characters match themselves; a missing column is ignored", table("shop", "Sales", "Lines[1]"), 3, `{"ID":3,"Note":"n"}`},
		{"not matched by the glob Lines[1]", table("shop", "Sales", "Lines1"), 4, `{"ID":4,"Note":"n","Secret":"hidden"}`},
		{"table not listed", table("shop", "Sales", "Other"), 5, `{"ID":5,"Note":"n","Secret":"hidden"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeES(t)
			s := f.sink(map[string]any{"index": "lines", "columns": columns})
			evs := (&eventtest.TxClock{}).Tx(eventtest.Insert(c.table, eventtest.Int(c.id), eventtest.Text("n"), eventtest.Text("hidden")))
			for _, dt := range s.DeprecatedTransforms() {
				tr, err := transform.New(dt.Entry, transform.Env{Pipeline: "unit", Path: dt.Key, Logger: zap.NewNop()})
				if err != nil {
					t.Fatalf("%s: %v", dt.Key, err)
				}
				if keep, err := tr.Apply(evs[0]); err != nil || !keep {
					t.Fatalf("%s: Apply = %v, %v", dt.Key, keep, err)
				}
			}
			acks := write(t, s, evs)
			closeSink(t, s)
			acks.check(t)
			d, ok := f.doc("lines", strconv.FormatInt(c.id, 10))
			if !ok {
				t.Fatalf("document %d missing", c.id)
			}
			if !jsonEqual(d.source, []byte(c.want)) {
				t.Errorf("document %s, want %s", d.source, c.want)
			}
		})
	}
}

// deprecatedFile is a configuration whose one sink, of type typ, has the
// keys in sink (indented for its block): the second line of sink is line
// 9 of the file.
func deprecatedFile(typ, sink string) []byte {
	return []byte(`pipelines:
  shop:
    source: {type: postgres, dsn: "postgres://sluice@127.0.0.1:5432/shop"}
    sinks:
      search:
        type: ` + typ + `
        urls: [http://127.0.0.1:9200]
` + sink)
}

// TestDeprecatedColumnsThroughBuild: a file with the old key builds; its
// entries run after the sink's own transforms (the option applied to
// what the sink received) under the old key's path; one warning gives
// the replacement, which builds to the same result; a bad table key is
// still reported with its key and line.
func TestDeprecatedColumnsThroughBuild(t *testing.T) {
	const own = `        transforms:
          - {type: columns, mask: {Note: "***"}}
`
	const replacement = `  - {type: columns, tables: ["Sales.Order Lines"], include: ["Note"], include_key: true}
`
	build := func(t *testing.T, file []byte, log *zap.Logger) (*config.File, *pipeline.Pipeline, error) {
		t.Helper()
		f, err := config.Parse(file)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pipeline.Build("shop", f.Pipelines["shop"], t.TempDir(), log)
		return f, p, err
	}
	for _, typ := range []string{TypeElasticsearch, TypeOpenSearch} {
		t.Run(typ, func(t *testing.T) {
			core, logs := observer.New(zapcore.WarnLevel)
			_, old, err := build(t, deprecatedFile(typ, "        columns:\n          Sales.Order Lines: [Note]\n"+own), zap.New(core))
			if err != nil {
				t.Fatal(err)
			}
			warn := logs.FilterMessageSnippet("columns option is deprecated").All()
			if len(warn) != 1 {
				t.Fatalf("%d deprecation warnings, want 1: %v", len(warn), logs.All())
			}
			fields := warn[0].ContextMap()
			if r, _ := fields["replacement"].(string); fields["key"] != "pipelines.shop.sinks.search.columns" || !strings.HasSuffix(r, "\n"+replacement) {
				t.Errorf("warning fields %v, want the replacement\n%s", fields, replacement)
			}
			_, repl, err := build(t, deprecatedFile(typ, own+strings.ReplaceAll(replacement, "  - ", "          - ")), nil)
			if err != nil {
				t.Fatalf("the replacement does not build: %v", err)
			}

			for _, c := range []struct {
				name     string
				p        *pipeline.Pipeline
				lastPath string
			}{
				{"old key", old, "pipelines.shop.sinks.search.columns.Sales.Order Lines"},
				{"replacement", repl, "pipelines.shop.sinks.search.transforms[1]"},
			} {
				var paths []string
				for _, tr := range c.p.SinkTransforms[0] {
					paths = append(paths, tr.Path)
				}
				if want := []string{"pipelines.shop.sinks.search.transforms[0]", c.lastPath}; !slices.Equal(paths, want) {
					t.Errorf("%s: sink transforms %q, want %q", c.name, paths, want)
				}
				ev := eventtest.Insert(&sluice.Table{DB: "shop", Schema: "Sales", Name: "Order Lines", Columns: linesColumns, Key: []int{0}},
					eventtest.Int(7), eventtest.Text("n"), eventtest.Text("hidden"))
				for _, tr := range c.p.SinkTransforms[0] {
					if keep, err := tr.Transform.Apply(ev); err != nil || !keep {
						t.Fatalf("%s: %s: Apply = %v, %v", c.name, tr.Path, keep, err)
					}
				}
				if doc, _ := (&docEncoder{}).appendDoc(nil, ev.Table, ev.After); string(doc) != `{"ID":7,"Note":"***"}` {
					t.Errorf("%s: document %s", c.name, doc)
				}
			}

			f, _, err := build(t, deprecatedFile(typ, "        columns:\n          orders: [Note]\n"), nil)
			const want = "line 9: pipelines.shop.sinks.search.columns.orders: key must be schema.table"
			if err == nil || !strings.Contains(f.WithLines(err).Error(), want) {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
}
