package postgres

import "errors"

// Errors the source returns; the runner retries all but permanent ones
// (sluice.IsPermanent) with backoff.
var (
	// ErrSlotInUse: another process is reading the replication slot. The
	// source never becomes a second reader; it retries until the slot is
	// free.
	ErrSlotInUse = errors.New("replication slot is in use by another process")
)
