package source

import "github.com/sluice-cdc/sluice"

// Epoch joins a source's log identity (PostgreSQL's system identifier and
// timeline, MySQL's server UUID) with the operator's `epoch` key, which
// marks a reset the identity does not show (RESET MASTER on the same
// server, a database restored into the same cluster).
func Epoch(identity, key string) string {
	if key == "" {
		return identity
	}
	return identity + "/" + key
}

// WithEpoch returns emit stamping every event's Pos.Epoch first: the
// positions of one run of a source all belong to one log.
func WithEpoch(emit func(*sluice.Event) error, epoch string) func(*sluice.Event) error {
	return func(ev *sluice.Event) error {
		ev.Pos.Epoch = epoch
		return emit(ev)
	}
}
