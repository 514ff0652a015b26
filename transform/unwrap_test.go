package transform

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// TestUnwrapOptions: Debezium's options parse into the mark, named as
// Debezium names the added fields.
func TestUnwrapOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  map[string]any
		want sluice.Unwrap
	}{
		{"defaults", map[string]any{}, sluice.Unwrap{}},
		{"rewrite with fields and headers", map[string]any{"delete_handling": "rewrite",
			"add_fields": []any{"op", "table", "lsn", "source.ts_ms"}, "add_headers": []any{"db", "op"}},
			sluice.Unwrap{Deletes: sluice.DeleteRewrite,
				Fields: []sluice.UnwrapField{{Field: "op", Name: "__op"}, {Struct: "source", Field: "table", Name: "__table"},
					{Struct: "source", Field: "lsn", Name: "__lsn"}, {Struct: "source", Field: "ts_ms", Name: "__source_ts_ms"}},
				Headers: []sluice.UnwrapField{{Struct: "source", Field: "db", Name: "__db"}, {Field: "op", Name: "__op"}}}},
		{"delete-to-tombstone", map[string]any{"delete_handling": "delete-to-tombstone"}, sluice.Unwrap{Deletes: sluice.DeleteToTombstone}},
		{"rewrite-with-tombstone", map[string]any{"delete_handling": "rewrite-with-tombstone"}, sluice.Unwrap{Deletes: sluice.DeleteRewriteWithTombstone}},
		{"drop, envelope ts_ms, alias", map[string]any{"delete_handling": "drop", "add_fields": []any{"ts_ms", "source.table:tbl"}},
			sluice.Unwrap{Deletes: sluice.DeleteDrop,
				Fields: []sluice.UnwrapField{{Field: "ts_ms", Name: "__ts_ms"}, {Struct: "source", Field: "table", Name: "__tbl"}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := map[string]any{"type": "unwrap"}
			for k, v := range c.raw {
				raw[k] = v
			}
			ev := eventtest.Insert(customers, eventtest.Int(7))
			if keep, err := build(t, raw).Apply(ev); err != nil || !keep {
				t.Fatalf("Apply: %v %v", keep, err)
			}
			if ev.Unwrap == nil || !reflect.DeepEqual(*ev.Unwrap, c.want) {
				t.Fatalf("mark %+v, want %+v", ev.Unwrap, c.want)
			}
		})
	}
}

// TestUnwrapInvalid: unknown modes and fields are errors naming the key;
// the modes not pinned down against Debezium are refused.
func TestUnwrapInvalid(t *testing.T) {
	for _, c := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"delete_handling": "keep"}, `delete_handling: "keep" is not one of tombstone, rewrite, drop, delete-to-tombstone, rewrite-with-tombstone`},
		{map[string]any{"add_fields": []any{"op", "colour"}}, `add_fields[1]: "colour" is not a field`},
		{map[string]any{"add_headers": []any{"transaction.id"}}, `add_headers[0]: "transaction.id" is not a field`},
		{map[string]any{"add_fields": []any{"op", "op"}}, `add_fields[1]: __op is added twice`},
		{map[string]any{"add_fields": []any{"op:"}}, `add_fields[0]: "op:" has an empty alias`},
	} {
		raw := map[string]any{"type": "unwrap"}
		for k, v := range c.raw {
			raw[k] = v
		}
		_, err := New(raw, Env{Pipeline: "shop", Path: "pipelines.shop.transforms[0]"})
		if err == nil || !strings.Contains(err.Error(), "pipelines.shop.transforms[0]."+c.want) {
			t.Errorf("%v: error %v, want %s", c.raw, err, c.want)
		}
	}
}

// TestUnwrapApply: rows are marked (never changed); truncates are
// dropped, and deletes in drop mode; messages pass unmarked.
func TestUnwrapApply(t *testing.T) {
	msg := eventtest.Message("p", "x")
	for _, c := range []struct {
		name   string
		mode   string
		ev     *sluice.Event
		keep   bool
		marked bool
	}{
		{"insert", "", customer(), true, true},
		{"delete", "", eventtest.Delete(customers, eventtest.Int(7)), true, true},
		{"delete rewritten", "rewrite", eventtest.Delete(customers, eventtest.Int(7)), true, true},
		{"delete dropped", "drop", eventtest.Delete(customers, eventtest.Int(7)), false, false},
		{"insert in drop mode", "drop", customer(), true, true},
		{"truncate", "", eventtest.Truncate(customers), false, false},
		{"message", "", msg, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := map[string]any{"type": "unwrap"}
			if c.mode != "" {
				raw["delete_handling"] = c.mode
			}
			before, after := c.ev.Before, c.ev.After
			keep, err := build(t, raw).Apply(c.ev)
			if err != nil || keep != c.keep {
				t.Fatalf("Apply: keep %v (%v), want %v", keep, err, c.keep)
			}
			if (c.ev.Unwrap != nil) != c.marked {
				t.Fatalf("marked %v, want %v", c.ev.Unwrap != nil, c.marked)
			}
			if !reflect.DeepEqual(before, c.ev.Before) || !reflect.DeepEqual(after, c.ev.After) {
				t.Fatal("rows changed")
			}
		})
	}
}
