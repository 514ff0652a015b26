package source

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/kvstore"
)

// A pipeline outlives its process: its source leaves a replication slot,
// a publication, stored offsets and snapshot state on servers and in
// stores. A retired pipeline whose slot stays pins WAL until the
// server's disk fills, so sources that own such things implement Retirer:
// `sluice drop` removes them, `sluice slots` lists them with what they
// retain, and the daemon warns at start about slots no configured
// pipeline uses.

// Retirer is implemented by sources that own something outside the
// process.
type Retirer interface {
	// Owner says where the source's own entry lives (its server) and
	// what it is called there.
	Owner() Owner
	// Owned lists what sluice owns on the source's server: with
	// Owner().PerServer every sluice-owned entry of the server (slots
	// named sluice_… and those named in names, the slots the
	// configuration gives the pipelines on that server), so one call per
	// server covers every pipeline on it; otherwise the pipeline's own
	// entry only.
	Owned(ctx context.Context, names []string) ([]OwnedSlot, error)
	// Drop removes what the pipeline's source owns on its server and in
	// its stores, or with opts.DryRun says what it would remove. It
	// refuses, removing nothing, with an error wrapping ErrInUse while a
	// running process uses it. What was removed before a failure is in
	// the report beside the error.
	Drop(ctx context.Context, opts DropOptions) (DropReport, error)
}

// Owner is what a pipeline's source owns on its server.
type Owner struct {
	// Kind is KindSlot or KindBinlog.
	Kind string
	// Server is host:port, the key by which `sluice slots` and the
	// start-up check query each server once.
	Server string
	// Name is the slot's name; empty for a binlog position.
	Name string
	// PerServer reports that Owned lists the whole server's entries.
	PerServer bool
}

// The kinds of OwnedSlot.
const (
	KindSlot   = "slot"   // a PostgreSQL logical replication slot
	KindBinlog = "binlog" // a MySQL/MariaDB binlog position stored by sluice
)

// OwnedSlot is one slot or stored binlog position, with what it keeps
// the server from removing.
type OwnedSlot struct {
	Kind string `json:"kind"`
	// Name is the slot's name, or the stored binlog file:position.
	Name     string `json:"name"`
	Server   string `json:"server"`
	Database string `json:"database,omitempty"`
	// RetainedBytes is the WAL the slot keeps (from its restart_lsn to
	// the server's current position), or the binlog bytes from the
	// stored position to the server's head; -1 when unknown.
	RetainedBytes int64 `json:"retained_bytes"`
	// Active reports whether a process reads the slot now; nil when the
	// server cannot tell (a binlog position).
	Active *bool `json:"active"`
	// ActivePID is the server process reading an active slot.
	ActivePID int32 `json:"active_pid,omitempty"`
	// Note is what else an operator should know: an invalidated slot, a
	// purged binlog file, no stored position.
	Note string `json:"note,omitempty"`
}

// DropOptions tunes Retirer.Drop.
type DropOptions struct {
	// DryRun lists what would be removed and removes nothing.
	DryRun bool
	// Publication drops a PostgreSQL publication that source.publication
	// names too; by default only the one named after the pipeline
	// (sluice_<pipeline>) is dropped, as a named one may be shared or
	// managed by someone else.
	Publication bool
}

// DropItem is one thing removed, to be removed, or kept.
type DropItem struct {
	// Kind is what it is: "replication slot", "publication", …
	Kind string `json:"kind"`
	// Name says which and where.
	Name string `json:"name"`
	// Note says why it was kept, or more about what was removed.
	Note string `json:"note,omitempty"`
}

func (d DropItem) String() string {
	s := d.Kind + " " + d.Name
	if d.Note != "" {
		s += " (" + d.Note + ")"
	}
	return s
}

// DropReport is what Drop removed (with DryRun: would remove) and what
// it left in place on purpose.
type DropReport struct {
	Removed []DropItem `json:"removed"`
	Kept    []DropItem `json:"kept,omitempty"`
}

// ErrInUse is wrapped by Drop's refusal while a running process uses
// what it would remove.
var ErrInUse = errors.New("in use")

// RemoveFile removes a local state file for Drop: with dryRun it only
// reports whether it exists. A missing file is no item.
func RemoveFile(rep *DropReport, kind, path string, dryRun bool) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("%s %s: %w", kind, path, err)
	}
	if !dryRun {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s %s: %w", kind, path, err)
		}
	}
	rep.Removed = append(rep.Removed, DropItem{Kind: kind, Name: path})
	return nil
}

// KafkaKeyTombstone deletes key from a compacted kvstore topic by
// producing a tombstone, for Drop: with dryRun it only reports whether
// the key has a value. A missing topic is no item and is not created.
func KafkaKeyTombstone(ctx context.Context, rep *DropReport, kind string, brokers []string, conn []kgo.Opt, topic string, key []byte, dryRun bool) error {
	kv, err := kvstore.OpenExisting(ctx, brokers, conn, topic)
	if err != nil || kv == nil {
		return err
	}
	defer kv.Close()
	b, err := kv.Get(ctx, key)
	if err != nil || b == nil {
		return err
	}
	if !dryRun {
		if err := kv.Put(ctx, key, nil); err != nil {
			return err
		}
	}
	rep.Removed = append(rep.Removed, DropItem{Kind: kind, Name: fmt.Sprintf("Kafka topic %s, key %s", topic, key), Note: "tombstone"})
	return nil
}

// KafkaKeyValue reads key's current value from a compacted kvstore topic
// without creating the topic: nil when the topic, the key or its value
// is missing.
func KafkaKeyValue(ctx context.Context, brokers []string, conn []kgo.Opt, topic string, key []byte) ([]byte, error) {
	kv, err := kvstore.OpenExisting(ctx, brokers, conn, topic)
	if err != nil || kv == nil {
		return nil, err
	}
	defer kv.Close()
	return kv.Get(ctx, key)
}
