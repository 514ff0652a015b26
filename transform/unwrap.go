package transform

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice"
)

func init() { Register("unwrap", newUnwrap, UnwrapConfig{}) }

// UnwrapConfig is the unwrap transform's entry: Debezium's
// ExtractNewRecordState (io.debezium.transforms.ExtractNewRecordState),
// which turns the change envelope into the row itself — the shape of a
// state topic (latest row per key, compacted) and of consumers that want
// rows, not changes. The options are Debezium's under sluice names.
type UnwrapConfig struct {
	// DeleteHandling is Debezium's delete.tombstone.handling.mode:
	// tombstone (default: a delete becomes the value null under the old
	// key — the JSON bytes null as Debezium Server writes it, which
	// compaction keeps), rewrite (the old row with "__deleted":"true",
	// other rows with "false"), drop (deletes are dropped),
	// delete-to-tombstone (a delete becomes a Kafka tombstone, which
	// compaction removes: the state topic's mode) or
	// rewrite-with-tombstone (rewrite, and the tombstone after it kept).
	DeleteHandling string `yaml:"delete_handling"`
	// AddFields is Debezium's add.fields: envelope or source fields added
	// to the value as "__<name>" (op, table, lsn, source.ts_ms, …; a
	// ":alias" suffix renames one).
	AddFields []string `yaml:"add_fields"`
	// AddHeaders is Debezium's add.headers: the same names, as headers.
	AddHeaders []string `yaml:"add_headers"`
}

// unwrapFields are the names add_fields and add_headers accept: the
// envelope and source fields Debezium has that sluice has a value for.
// A bare name is looked up as Debezium does: op and ts_* in the envelope,
// anything else in source.
var (
	envelopeFields = map[string]bool{"op": true, "ts_ms": true, "ts_us": true, "ts_ns": true}
	sourceFields   = map[string]bool{
		"version": true, "connector": true, "name": true, "ts_ms": true, "ts_us": true, "ts_ns": true,
		"snapshot": true, "db": true, "sequence": true, "schema": true, "table": true, "txId": true, "lsn": true,
		"server_id": true, "gtid": true, "file": true, "pos": true, "row": true, "thread": true,
	}
)

// unwrapT marks row events with one shared *sluice.Unwrap; the codec and
// the Kafka sink do the rest (the rows are not touched).
type unwrapT struct {
	u *sluice.Unwrap
}

func newUnwrap(c UnwrapConfig, env Env) (*unwrapT, error) {
	var errs []error
	u := &sluice.Unwrap{}
	switch c.DeleteHandling {
	case "", "tombstone":
		u.Deletes = sluice.DeleteTombstone
	case "rewrite":
		u.Deletes = sluice.DeleteRewrite
	case "drop":
		u.Deletes = sluice.DeleteDrop
	case "delete-to-tombstone":
		u.Deletes = sluice.DeleteToTombstone
	case "rewrite-with-tombstone":
		u.Deletes = sluice.DeleteRewriteWithTombstone
	default:
		errs = append(errs, fmt.Errorf("%s.delete_handling: %q is not one of tombstone, rewrite, drop, delete-to-tombstone, rewrite-with-tombstone", env.Path, c.DeleteHandling))
	}
	var err error
	if u.Fields, err = unwrapFieldList(c.AddFields, env.Path+".add_fields"); err != nil {
		errs = append(errs, err)
	}
	if u.Headers, err = unwrapFieldList(c.AddHeaders, env.Path+".add_headers"); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &unwrapT{u: u}, nil
}

// unwrapFieldList parses add.fields or add.headers entries: "op",
// "source.ts_ms", "table:tbl" (renamed). Names are Debezium's: "__" and
// the entry with '.' replaced by '_', or "__" and the alias.
func unwrapFieldList(names []string, path string) ([]sluice.UnwrapField, error) {
	var out []sluice.UnwrapField
	var errs []error
	seen := map[string]bool{}
	for i, n := range names {
		ref, alias, renamed := strings.Cut(strings.TrimSpace(n), ":")
		f := sluice.UnwrapField{}
		st, name, dotted := strings.Cut(ref, ".")
		switch {
		case !dotted && envelopeFields[ref]:
			f.Field = ref
		case !dotted && sourceFields[ref]:
			f.Struct, f.Field = "source", ref
		case dotted && st == "source" && sourceFields[name]:
			f.Struct, f.Field = "source", name
		default:
			errs = append(errs, fmt.Errorf("%s[%d]: %q is not a field sluice can add (op, ts_ms, ts_us, ts_ns, or [source.]version, connector, name, ts_ms, ts_us, ts_ns, snapshot, db, sequence, schema, table, txId, lsn, server_id, gtid, file, pos, row, thread)", path, i, n))
			continue
		}
		switch {
		case renamed && alias == "":
			errs = append(errs, fmt.Errorf("%s[%d]: %q has an empty alias", path, i, n))
			continue
		case renamed:
			f.Name = "__" + alias
		default:
			f.Name = "__" + strings.ReplaceAll(ref, ".", "_")
		}
		if seen[f.Name] {
			errs = append(errs, fmt.Errorf("%s[%d]: %s is added twice", path, i, f.Name))
			continue
		}
		seen[f.Name] = true
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

// Apply marks row changes and drops what Debezium's SMT drops:
// truncates always, deletes in drop mode. Logical messages and schema
// changes pass through unmarked, as the SMT passes them through.
func (w *unwrapT) Apply(ev *sluice.Event) (bool, error) {
	switch ev.Op {
	case sluice.OpTruncate:
		return false, nil
	case sluice.OpDelete:
		if w.u.Deletes == sluice.DeleteDrop {
			return false, nil
		}
	case sluice.OpCreate, sluice.OpUpdate, sluice.OpRead:
	default:
		return true, nil
	}
	if ev.Table != nil {
		ev.Unwrap = w.u
	}
	return true, nil
}
