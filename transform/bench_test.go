package transform

import (
	"testing"

	"github.com/sluice-cdc/sluice"
)

// BenchmarkTransforms measures each built-in alone and a chain on an
// insert of Sales.Customers (5 columns), the tables' plans cached as in a
// running pipeline.
//
//	go test -run '^$' -bench . -benchmem ./transform
func BenchmarkTransforms(b *testing.B) {
	for _, c := range []struct {
		name string
		raws []map[string]any
	}{
		{"filter", []map[string]any{{"type": "filter", "expression": `op != "d" && after.Age > 40 && after.Email endsWith ".com"`}}},
		{"columns", []map[string]any{{"type": "columns", "exclude": []any{"Notes"}, "mask": map[string]any{"Email": "***"}}}},
		{"columns_hash", []map[string]any{{"type": "columns", "hash": []any{"Email"}, "salt": "pepper"}}},
		{"key", []map[string]any{{"type": "key", "columns": []any{"Email"}}}},
		{"unwrap", []map[string]any{{"type": "unwrap"}}},
		{"route", []map[string]any{{"type": "route", "topic_regex": `(.*)\.Cust.*`, "topic_replacement": "${1}.all"}}},
		{"headers_fixed", []map[string]any{{"type": "headers", "headers": []any{map[string]any{"name": "tenant", "value": "acme"}}}}},
		{"headers_computed", []map[string]any{{"type": "headers", "headers": []any{map[string]any{"name": "age", "expression": "after.Age", "type": "int"}}}}},
		{"filter_columns_key", []map[string]any{
			{"type": "filter", "expression": `op != "d" && after.Age > 40`},
			{"type": "columns", "exclude": []any{"Notes"}, "mask": map[string]any{"Email": "***"}},
			{"type": "key", "columns": []any{"Id", "Age"}},
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var ts []sluice.Transform
			for _, raw := range c.raws {
				tr, err := New(raw, Env{Path: "bench"})
				if err != nil {
					b.Fatal(err)
				}
				ts = append(ts, tr)
			}
			in, ev := customer(), new(sluice.Event)
			b.ReportAllocs()
			for b.Loop() {
				*ev = *in // the source's event, as the runner hands it to the chain
				for _, tr := range ts {
					if keep, err := tr.Apply(ev); err != nil || !keep {
						b.Fatal(keep, err)
					}
				}
			}
		})
	}
}
