package postgres

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSaveStateSyncsDirectory: the rename that replaces the state file is
// durable only once the directory is flushed too; saveState syncs the
// directory after the rename, when the new file is in place.
func TestSaveStateSyncsDirectory(t *testing.T) {
	dir := t.TempDir()
	s := &Source{stateDir: dir, pipeline: "p", cfg: Config{Slot: "x"}}
	var synced []string
	orig := syncDir
	t.Cleanup(func() { syncDir = orig })
	syncDir = func(d string) error {
		if _, err := os.Stat(filepath.Join(d, "p.postgres.json")); err != nil {
			t.Errorf("directory synced before the rename: %v", err)
		}
		synced = append(synced, d)
		return orig(d)
	}
	if err := s.saveState(&state{Version: 1, Slot: "x", InitialDone: true}); err != nil {
		t.Fatal(err)
	}
	if len(synced) != 1 || synced[0] != dir {
		t.Fatalf("synced directories %v, want [%s]", synced, dir)
	}
	st, err := s.loadState()
	if err != nil || !st.InitialDone {
		t.Fatalf("read back %+v, %v", st, err)
	}
}
