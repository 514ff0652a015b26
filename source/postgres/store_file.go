package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/atomicfile"
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

// save writes the state atomically and durably (internal/atomicfile).
func (f *fileStore) save(_ context.Context, st *state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := atomicfile.Write(f.path, b); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}
