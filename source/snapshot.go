package source

import "fmt"

// Defaults of the snapshot keys every source shares.
const (
	// DefaultSnapshotMode is Debezium's default snapshot.mode.
	DefaultSnapshotMode = "initial"
	// DefaultChunkSize is the rows read per snapshot chunk.
	DefaultChunkSize = 4096
	// MaxChunkSize bounds chunk_size: a chunk is held in memory.
	MaxChunkSize = 1_000_000
)

// CheckSnapshot checks the snapshot keys every source shares: mode
// (Debezium's snapshot.mode names) and chunk_size (rows per chunk). path is
// the source's config key; the values already hold their defaults.
func CheckSnapshot(path, mode string, chunkSize int) []error {
	var errs []error
	switch mode {
	case "initial", "never", "always", "initial_only", "when_needed":
	default:
		errs = append(errs, fmt.Errorf("%s.snapshot.mode: %q is not one of initial, never, always, initial_only, when_needed", path, mode))
	}
	if chunkSize < 1 || chunkSize > MaxChunkSize {
		errs = append(errs, fmt.Errorf("%s.snapshot.chunk_size: must be between 1 and %d, got %d", path, MaxChunkSize, chunkSize))
	}
	return errs
}
