package source

import "fmt"

// CheckSnapshot fills in and checks the snapshot keys every source shares:
// mode (Debezium's snapshot.mode names; default initial) and chunk_size
// (rows per chunk; default 4096). path is the source's config key.
func CheckSnapshot(path string, mode *string, chunkSize *int) []error {
	var errs []error
	switch *mode {
	case "":
		*mode = "initial"
	case "initial", "never", "always", "initial_only", "when_needed":
	default:
		errs = append(errs, fmt.Errorf("%s.snapshot.mode: %q is not one of initial, never, always, initial_only, when_needed", path, *mode))
	}
	if *chunkSize == 0 {
		*chunkSize = 4096
	}
	if *chunkSize < 0 {
		errs = append(errs, fmt.Errorf("%s.snapshot.chunk_size: must be positive", path))
	}
	return errs
}
