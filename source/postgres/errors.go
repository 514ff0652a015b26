package postgres

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice"
)

// Errors the source returns; the runner retries all but permanent ones
// (sluice.IsPermanent) with backoff.
var (
	// ErrSlotInUse: another process is reading the replication slot. The
	// source never becomes a second reader; it retries until the slot is
	// free.
	ErrSlotInUse = errors.New("replication slot is in use by another process")

	// ErrStateUnknown: the replication slot exists but its snapshot state
	// is neither in the state store nor in the local file, and the
	// snapshot mode needs it to decide (state.go). Returned wrapped in a
	// permanent error that says how to recover.
	ErrStateUnknown = errors.New("snapshot state unknown")

	// ErrSlotLost: the server invalidated the replication slot
	// (wal_status lost): it removed WAL the slot still needed, so changes
	// are gone from the log. Returned wrapped in a permanent error that
	// says how to recover (slotLost).
	ErrSlotLost = errors.New("replication slot invalidated")

	// errNoTable: describeTable was asked for a table that does not exist;
	// a listed table that is missing at start is a permanent error.
	errNoTable = errors.New("table does not exist")
)

// classifyConnectError turns the server's refusals into actionable,
// password-free messages.
func classifyConnectError(err error, cc *pgconn.Config, replication bool) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "42501" && replication:
			return sluice.Permanent(fmt.Errorf("postgres source: role %q lacks the REPLICATION attribute: run ALTER ROLE %s WITH REPLICATION (or use a role that has it): %s", cc.User, cc.User, pgErr.Message))
		case pgErr.Code == "28P01" || pgErr.Code == "28000":
			return sluice.Permanent(fmt.Errorf("postgres source: authentication for role %q failed: %s", cc.User, pgErr.Message))
		case pgErr.Code == "3D000":
			return sluice.Permanent(fmt.Errorf("postgres source: database %q does not exist", cc.Database))
		}
		return fmt.Errorf("postgres source: connect to %s:%d: %s (SQLSTATE %s)", cc.Host, cc.Port, pgErr.Message, pgErr.Code)
	}
	return fmt.Errorf("postgres source: connect to %s:%d: %w", cc.Host, cc.Port, err)
}

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

// slotLost is the permanent error of an invalidated slot, with the way
// back: a new slot and a new snapshot.
func slotLost(slot string) error {
	return sluice.Permanent(fmt.Errorf("postgres source: replication slot %s was invalidated (wal_status lost): the server removed WAL it still needed "+
		"(max_slot_wal_keep_size was exceeded), so changes made while sluice was behind are no longer in the log. "+
		"To recover, start over with a new slot and a snapshot: stop sluice, run SELECT pg_drop_replication_slot('%s'); "+
		"and start sluice with snapshot.mode: when_needed (it snapshots the tables again whenever it creates the slot): %w", slot, slot, ErrSlotLost))
}

// isSlotInvalidated reports the server's refusal to stream from an
// invalidated slot.
func isSlotInvalidated(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55000" &&
		(strings.Contains(pgErr.Message, "invalidated") || strings.Contains(pgErr.Detail, "invalidated"))
}
