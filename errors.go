package sluice

import (
	"context"
	"errors"
)

// PermanentError marks a failure that retrying cannot fix, such as a
// server configured without logical decoding or a missing table. The
// runner stops the pipeline on it instead of backing off and retrying.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that the runner does not retry it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err, or an error it wraps, is permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// ErrDone is returned by a source that finished its work on purpose (a
// snapshot-only run): the runner stops the pipeline cleanly.
var ErrDone = errors.New("source finished")

// SignalWriter is implemented by sources that can write a signal where
// they read it (their signal table): the way to signal a pipeline whose
// daemon does not answer on the admin endpoint (`sluice snapshot`,
// `sluice signal`). WriteSignal checks the signal as the running source
// would and writes nothing when it is refused.
type SignalWriter interface {
	WriteSignal(ctx context.Context, s Signal) error
}
