package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// state is what the source keeps on local disk next to the replication
// slot: the snapshot work still to do and how far each table got. The
// slot holds the stream position; this file holds what a slot cannot.
// It is rewritten atomically and durably: temporary file, fsync, rename,
// fsync of the directory (without the last, a crash after the rename may
// bring back the old file, or none).
type state struct {
	Version int    `json:"version"`
	Slot    string `json:"slot"`
	// InitialDone records that an initial snapshot completed, so mode
	// initial never repeats it.
	InitialDone bool `json:"initial_done"`
	// Jobs are the table snapshots in progress, in the order they run.
	Jobs []*snapshotJob `json:"jobs,omitempty"`
}

// snapshotJob is one table to read.
type snapshotJob struct {
	Table string `json:"table"` // schema.table
	// Filter is an optional condition of the filter grammar (filter.go)
	// of an incremental snapshot. It is parsed again before the job runs:
	// a file written by an older version may hold any SQL.
	Filter string `json:"filter,omitempty"`
	// Incremental marks an ad-hoc snapshot requested while streaming; its
	// rows carry source.snapshot "incremental".
	Incremental bool `json:"incremental,omitempty"`
	// LastKey is the text form of the key columns (or the ctid of a
	// table without a key) of the last row whose chunk every sink
	// acknowledged; nil before the first chunk.
	LastKey []*string `json:"last_key,omitempty"`
	// Rows counts the acknowledged rows.
	Rows int64 `json:"rows"`
	Done bool  `json:"done,omitempty"`
	// Failed marks a job given up (its table is gone or not captured, its
	// filter does not compile, the server refused its query), with the
	// reason in Error. Failed jobs stay in the file, so that no restart
	// runs them again, until newer failures push them out.
	Failed bool   `json:"failed,omitempty"`
	Error  string `json:"error,omitempty"`

	// Progress of the running process, not persisted (guarded by the
	// snapshotter's mutex).
	estimate int64 // pg_class.reltuples when the table's snapshot started
	emitted  int64 // rows emitted, acknowledged or not
}

// pending reports whether a job is still to run or to finish.
func (s *state) pending() bool {
	for _, j := range s.Jobs {
		if !j.Done && !j.Failed {
			return true
		}
	}
	return false
}

// stateFile is where the pipeline's state lives.
func (s *Source) stateFile() string {
	return filepath.Join(s.stateDir, s.pipeline+".postgres.json")
}

// loadState reads the state file; a missing file is an empty state.
func (s *Source) loadState() (*state, error) {
	b, err := os.ReadFile(s.stateFile())
	if errors.Is(err, os.ErrNotExist) {
		return &state{Version: 1, Slot: s.cfg.Slot}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres source: read state: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("postgres source: state file %s is corrupt (delete it to start over): %w", s.stateFile(), err)
	}
	if st.Slot != s.cfg.Slot {
		// The file belongs to another slot (configuration changed): its
		// progress says nothing about this slot.
		return &state{Version: 1, Slot: s.cfg.Slot}, nil
	}
	return &st, nil
}

// saveState writes the state atomically.
func (s *Source) saveState(st *state) error {
	if err := os.MkdirAll(s.stateDir, 0o750); err != nil {
		return fmt.Errorf("postgres source: state directory: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("postgres source: encode state: %w", err)
	}
	tmp, err := os.CreateTemp(s.stateDir, ".state-*")
	if err != nil {
		return fmt.Errorf("postgres source: write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("postgres source: write state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("postgres source: write state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("postgres source: write state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.stateFile()); err != nil {
		return fmt.Errorf("postgres source: write state: %w", err)
	}
	if err := syncDir(s.stateDir); err != nil {
		return fmt.Errorf("postgres source: write state: sync directory %s: %w", s.stateDir, err)
	}
	return nil
}

// syncDir flushes a directory's entries to disk, so that a rename in it
// survives a crash. A variable, so that a test can see it called.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
