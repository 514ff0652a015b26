package postgres

import (
	"github.com/jackc/pglogrepl"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

var _ sluice.Seeker = (*Source)(nil)

// SeekAfter implements sluice.Seeker: the next Run starts streaming after
// pos when it is ahead of the slot. A transaction whose commit ends at or
// before the start is not decoded again: the server skips transactions
// that committed before the requested start LSN.
func (s *Source) SeekAfter(pos sluice.Position) { s.seek.Store(&pos) }

// seekStart is the LSN streaming starts at: the slot's, or the sought
// position's when that is of the same log and further ahead.
func (s *Source) seekStart(start pglogrepl.LSN, epoch string) pglogrepl.LSN {
	pos := s.seek.Swap(nil)
	if pos == nil {
		return start
	}
	if pos.Epoch != epoch {
		s.log.Warn("the committed exactly-once position is of another log; starting from the slot",
			zap.String("position_epoch", pos.Epoch), zap.String("epoch", epoch), zap.Stringer("slot", start))
		return start
	}
	if at := pglogrepl.LSN(pos.TxLSN); at > start {
		s.log.Info("starting after the committed exactly-once position, ahead of the slot",
			zap.Stringer("slot", start), zap.Stringer("start", at))
		return at
	}
	return start
}
