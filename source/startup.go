package source

import (
	"context"
	"errors"

	"github.com/sluice-cdc/sluice"
)

// Startup holds one rule for every source: a stop request (the end of
// Run's context) that cuts the start-up short is a clean stop, whichever
// step it interrupted (connecting, checking the server, making the slot,
// loading or storing the offset). Nothing was read yet, so there is
// nothing to drain; each step would otherwise return its own "context
// canceled", which the pipeline counts as a failure. Run marks the end of
// its start-up with Over, where it begins to read and emit; an error after
// that is returned as it is, since a stop then has a transaction to
// finish and a position to confirm.
type Startup struct{ over bool }

// Over marks the end of the start-up. It is a no-op on nil, for code run
// outside a Run.
func (s *Startup) Over() {
	if s != nil {
		s.over = true
	}
}

// Result is what Run returns for err: nil when a stop request ended the
// start-up, err otherwise. sluice.ErrDone (nothing to do) is kept.
func (s *Startup) Result(ctx context.Context, err error) error {
	if err != nil && !s.over && ctx.Err() != nil && !errors.Is(err, sluice.ErrDone) {
		return nil
	}
	return err
}
