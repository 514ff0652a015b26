package postgres

import (
	"encoding/json"
	"slices"
	"testing"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// FuzzSignal feeds signal rows to handleSignal. A signal never makes it
// fail (a bad one is logged and ignored), and what it queues names only
// tables the source captures: well-formed schema.table names listed in
// data-collections, among source.tables when that lists them, and never
// the signal table itself, whose rows are not emitted (README; the
// initial snapshot leaves it out too, see snapshotTables).
func FuzzSignal(f *testing.F) {
	// testdata/fuzz/FuzzSignal keeps the inputs that found the signal table
	// and an uncaptured table being snapshotted.
	for _, s := range []struct {
		typ, data string
		listed    bool
	}{
		{"execute-snapshot", `{"data-collections": ["public.orders"], "type": "incremental"}`, true},
		{"execute-snapshot", `{"data-collections": ["orders", "shop.items", "a.b.c", ".x", "x.", ""], "additional-condition": "id > 1"}`, true},
		{"execute-snapshot", `{"data-collections": ["public.orders"], "additional-conditions": [{"data-collection": "orders", "filter": "id > 1000"}]}`, true},
		{"execute-snapshot", `{"data-collections": "public.orders"}`, true},
		{"execute-snapshot", `{"data-collections": [1, null]}`, true},
		{"execute-snapshot", `null`, true},
		{"execute-snapshot", `[]`, false},
		{"execute-snapshot", "{\"data-collections\": [\"public.orders\xff\"]}", false},
		{"stop-snapshot", `{"data-collections": ["public.orders"]}`, true},
		{"", "", false},
	} {
		f.Add(s.typ, s.data, s.listed)
	}
	captured := []string{"public.orders", "shop.items"}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, typ, data string, listed bool) {
		cfg := Config{SignalTable: "public.sluice_signal", Slot: "fuzz"}
		if listed {
			cfg.Tables = captured
		}
		s := &Source{cfg: cfg, log: zap.NewNop(), stateDir: dir, pipeline: "fuzz"}
		st := &stream{src: s, log: s.log}
		st.snap = newSnapshotter(s, &state{Version: 1, Slot: "fuzz"}, &stateKeeper{store: s.fileStore(), log: s.log})
		rel := &relation{table: &sluice.Table{Schema: "public", Name: "sluice_signal", Columns: []sluice.Column{
			{Name: "id", Type: sluice.TypeText}, {Name: "type", Type: sluice.TypeText}, {Name: "data", Type: sluice.TypeText}}}, signal: true}
		row := sluice.Row{{Kind: sluice.KindPresent, Bytes: []byte("fuzz-1")}, {Kind: sluice.KindPresent, Bytes: []byte(typ)},
			{Kind: sluice.KindPresent, Bytes: []byte(data)}}
		if err := st.handleSignal(rel, row); err != nil {
			t.Fatalf("signal %q %q: %v", typ, data, err)
		}
		jobs := st.snap.queue
		if typ != "execute-snapshot" && len(jobs) > 0 {
			t.Fatalf("signal of type %q queued %d snapshots", typ, len(jobs))
		}
		var named []string
		if len(jobs) > 0 {
			var d struct {
				DataCollections []string `json:"data-collections"`
			}
			if err := json.Unmarshal([]byte(data), &d); err != nil {
				t.Fatalf("signal %q: queued %d snapshots of data encoding/json refuses: %v", data, len(jobs), err)
			}
			for _, dc := range d.DataCollections {
				if sc, n, ok := splitTable(dc); ok {
					named = append(named, sc+"."+n)
				}
			}
		}
		for _, j := range jobs {
			sc, n, ok := splitTable(j.Table)
			switch {
			case !ok || sc+"."+n != j.Table || !j.Incremental:
				t.Fatalf("signal %q: queued %+v, not a schema.table", data, j)
			case !slices.Contains(named, j.Table):
				t.Fatalf("signal %q: queued %s, which data-collections does not name", data, j.Table)
			case s.isSignalTable(j.Table):
				t.Fatalf("signal %q: queued a snapshot of %s, the signal table itself, whose rows must not be emitted", data, j.Table)
			case listed && !slices.Contains(captured, j.Table):
				t.Fatalf("signal %q: queued a snapshot of %s, which source.tables %v does not capture", data, j.Table, captured)
			}
		}
	})
}
