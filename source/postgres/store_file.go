package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-cdc/sluice"
)

// fileStore keeps the state in <state_dir>/<pipeline>.postgres.json: the
// whole store with state.store file, the cache beside the others. It is
// rewritten atomically and durably: temporary file, fsync, rename, fsync
// of the directory (without the last, a crash after the rename may bring
// back the old file, or none).
type fileStore struct {
	dir, path string
	slot      string
}

// fileStore is the pipeline's state file.
func (s *Source) fileStore() *fileStore {
	return &fileStore{dir: s.stateDir, path: s.stateFile(), slot: s.cfg.Slot}
}

// stateFile is where the pipeline's state file lives.
func (s *Source) stateFile() string {
	return filepath.Join(s.stateDir, s.pipeline+".postgres.json")
}

func (f *fileStore) String() string { return "file " + f.path }

func (f *fileStore) close() {}

// load reads the file; a missing file, or one written for another slot
// (the configuration changed: its progress says nothing about this
// slot), is no state.
func (f *fileStore) load(context.Context) (*state, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		// A retry reads the same bytes.
		return nil, sluice.Permanent(fmt.Errorf("%s is corrupt (move it away; the next start says how to go on): %w", f.path, err))
	}
	if st.Slot != f.slot {
		return nil, nil
	}
	return &st, nil
}

// save writes the state atomically and durably.
func (f *fileStore) save(_ context.Context, st *state) error {
	if err := os.MkdirAll(f.dir, 0o750); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	tmp, err := os.CreateTemp(f.dir, ".state-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(b)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), f.path)
	}
	if werr != nil {
		return fmt.Errorf("write state: %w", werr)
	}
	if err := syncDir(f.dir); err != nil {
		return fmt.Errorf("write state: sync directory %s: %w", f.dir, err)
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
