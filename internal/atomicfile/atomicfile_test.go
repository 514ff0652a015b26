package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSyncsDirectoryAfterRename: the rename that replaces the file is
// durable only once the directory is flushed too, after the new file is
// in place; nothing temporary stays behind.
func TestWriteSyncsDirectoryAfterRename(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state") // created by Write
	path := filepath.Join(dir, "p.json")
	var synced []string
	orig := syncDir
	t.Cleanup(func() { syncDir = orig })
	syncDir = func(d string) error {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("directory synced before the rename: %v", err)
		}
		synced = append(synced, d)
		return orig(d)
	}
	for _, content := range []string{"first", "second"} {
		if err := Write(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read back %q, %v; want %q", got, err, content)
		}
	}
	if len(synced) != 2 || synced[0] != dir {
		t.Fatalf("synced directories %v, want [%s %[2]s]", synced, dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("directory holds %v (%v), want only p.json", entries, err)
	}
}

// TestWriteFailsWhereNoFileCanBe: a path under a regular file cannot be
// written; the error names the path.
func TestWriteFailsWhereNoFileCanBe(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(file, "x.json"), []byte("x")); err == nil {
		t.Fatal("no error")
	}
}
