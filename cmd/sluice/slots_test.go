package main

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/source"
)

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{-1, "?"},
		{0, "0 B (0)"},
		{1023, "1023 B (1023)"},
		{1024, "1.0 KiB (1024)"},
		{1536, "1.5 KiB (1536)"},
		{10 << 30, "10.0 GiB (10737418240)"},
	}
	for _, tt := range tests {
		if got := retained(tt.n); got != tt.want {
			t.Errorf("retained(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// fakeRetirer owns the slots it is given; Owned fails when err is set.
type fakeRetirer struct {
	owner source.Owner
	owned []source.OwnedSlot
	err   error
	calls *int
}

func (f fakeRetirer) Owner() source.Owner { return f.owner }
func (f fakeRetirer) Owned(context.Context, []string) ([]source.OwnedSlot, error) {
	*f.calls++
	return f.owned, f.err
}
func (f fakeRetirer) Drop(context.Context, source.DropOptions) (source.DropReport, error) {
	return source.DropReport{}, nil
}

// TestCollectSlots: a server is asked once for all its pipelines (the
// next pipeline's connection when one fails), each slot is attributed
// to the pipelines that name it, and a per-pipeline source is asked for
// its own entry.
func TestCollectSlots(t *testing.T) {
	var calls int
	slots := []source.OwnedSlot{{Kind: "slot", Name: "sluice_a"}, {Kind: "slot", Name: "sluice_b"}, {Kind: "slot", Name: "sluice_old"}}
	pg := func(name string, err error) fakeRetirer {
		return fakeRetirer{owner: source.Owner{Kind: "slot", Server: "pg:5432", Name: name, PerServer: true}, owned: slots, err: err, calls: &calls}
	}
	my := fakeRetirer{owner: source.Owner{Kind: "binlog", Server: "my:3306"}, owned: []source.OwnedSlot{{Kind: "binlog", Name: "bin.1:4"}}, calls: &calls}
	rows, errs := collectSlots(context.Background(), []retirer{{"a", pg("sluice_a", errors.New("refused"))}, {"b", pg("sluice_b", nil)}, {"m", my}})
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	if calls != 3 { // a's failed, b's, m's
		t.Errorf("%d calls to Owned, want 3", calls)
	}
	got := map[string][]string{}
	for _, r := range rows {
		got[r.Name] = r.Pipelines
	}
	want := map[string][]string{"sluice_a": {"a"}, "sluice_b": {"b"}, "sluice_old": {}, "bin.1:4": {"m"}}
	for k, v := range want {
		if g, ok := got[k]; !ok || !slices.Equal(g, v) {
			t.Errorf("%s: pipelines %v, want %v", k, g, v)
		}
	}
	var b strings.Builder
	printSlots(&b, rows)
	if !strings.Contains(b.String(), "(unconfigured)  slot") || strings.Count(b.String(), "\n") != 5 {
		t.Errorf("table:\n%s", b.String())
	}
}

// TestJoinDirs: the join stores under state_dir, of the pipeline's and
// the sinks' transforms; a store with its own dir is not sluice's to
// remove.
func TestJoinDirs(t *testing.T) {
	cfg := config.Pipeline{
		Transforms: []map[string]any{{"type": "join", "as": "customer"}, {"type": "filter"}, {"type": "join", "as": "own", "dir": "/data/j"}},
		Sinks:      map[string]map[string]any{"k": {"type": "kafka", "transforms": []any{map[string]any{"type": "join", "as": "order"}}}},
	}
	got := joinDirs("/s", "p", cfg)
	want := []string{filepath.Join("/s", "join", "p-customer"), filepath.Join("/s", "join", "p-order")}
	if !slices.Equal(got, want) {
		t.Errorf("joinDirs = %v, want %v", got, want)
	}
}
