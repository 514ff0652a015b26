package postgres

import (
	"errors"
	"fmt"
)

// Errors the source returns; the runner retries all but permanent ones
// (sluice.IsPermanent) with backoff.
var (
	// ErrSlotInUse: another process is reading the replication slot. The
	// source never becomes a second reader; it retries until the slot is
	// free.
	ErrSlotInUse = errors.New("replication slot is in use by another process")
)

// Errors of decoding a column's TEXT value, returned (wrapped) by
// decodeText.
var (
	errSyntax   = errors.New("invalid text form")
	errRange    = errors.New("value out of range")
	errBadType  = errors.New("unsupported logical type")
	errTooDeep  = errors.New("array has more than 6 dimensions")
	errBadArray = errors.New("malformed array literal")
)

// syntaxErr reports src as not being the expected text form of what. The
// input is quoted (at most 40 bytes) to help diagnose session settings;
// it is on the error path only.
func syntaxErr(what string, src []byte) error {
	const limit = 40
	s, more := src, ""
	if len(s) > limit {
		s, more = s[:limit], "…"
	}
	return fmt.Errorf("%w of %s: %q%s", errSyntax, what, s, more)
}
