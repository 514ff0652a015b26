package transform

import (
	"fmt"

	"github.com/sluice-cdc/sluice"
)

func init() { Register("key", newKey, KeyConfig{}) }

// KeyConfig is the key transform's entry: the columns that form the
// event key of the tables it applies to (Debezium's message.key.columns).
// It gives tables without a primary key a stable key, and so compacted
// topics and documents with ids.
type KeyConfig struct {
	// Columns are the key columns, in key order.
	Columns []string `yaml:"columns"`
}

// keyT replaces the key of its tables' events. Key changes are still
// found by the source's key: an update that changes only the chosen
// columns is one update event, keyed by the new values.
type keyT struct {
	cols   []string
	tables perTable[*sluice.Table] // input → with the chosen key
}

func newKey(c KeyConfig, env Env) (*keyT, error) {
	if len(c.Columns) == 0 {
		return nil, fmt.Errorf("%s.columns: required: the key columns, e.g. [customer_id, line]", env.Path)
	}
	seen := map[string]bool{}
	for i, n := range c.Columns {
		if n == "" || seen[n] {
			return nil, fmt.Errorf("%s.columns[%d]: %q is empty or listed twice", env.Path, i, n)
		}
		seen[n] = true
	}
	return &keyT{cols: c.Columns}, nil
}

func (k *keyT) Apply(ev *sluice.Event) (bool, error) {
	if ev.Table == nil || ev.Op == sluice.OpTruncate {
		return true, nil
	}
	t, err := k.tables.get(ev.Table, k.derive)
	if err != nil {
		return false, err
	}
	// OtherKey holds the source's key columns only; the halves of a key
	// change keep their headers only when the key is the same.
	if ev.OtherKey != nil && !sameKey(ev.Table, t) {
		ev.OtherKey = nil
	}
	ev.Table = t
	return true, nil
}

// derive makes the description of in with the configured key.
func (k *keyT) derive(in *sluice.Table) (*sluice.Table, error) {
	t := *in
	t.Columns = append([]sluice.Column(nil), in.Columns...)
	for i := range t.Columns {
		t.Columns[i].Key = false
	}
	t.Key = make([]int, len(k.cols))
	for i, n := range k.cols {
		j := in.Index(n)
		if j < 0 {
			return nil, fmt.Errorf("columns[%d]: table %s has no column %q", i, in.QualifiedName(), n)
		}
		t.Key[i] = j
		t.Columns[j].Key = true
	}
	return &t, nil
}

func sameKey(a, b *sluice.Table) bool {
	if len(a.Key) != len(b.Key) {
		return false
	}
	for i := range a.Key {
		if a.Key[i] != b.Key[i] {
			return false
		}
	}
	return true
}
