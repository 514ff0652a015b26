package mysql

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

var _ sluice.Seeker = (*Source)(nil)

// SeekAfter implements sluice.Seeker: the next Run resumes after pos (a
// mark's Resume token: a stream position or a snapshot chunk's offset)
// when it is ahead of the stored offset.
func (s *Source) SeekAfter(pos sluice.Position) { s.seek.Store(&pos) }

// seekOffset returns the offset the run resumes from: the stored one, or
// the sought position's when that is of the same server and further
// ahead. An adopted position is saved first, keeping the stored
// incremental snapshot work, so the stored offset never goes back behind
// what the exactly-once sink committed.
func (s *Source) seekOffset(ctx context.Context, store offsetStore, off *offset, srv *server, epoch string) (*offset, error) {
	pos := s.seek.Swap(nil)
	if pos == nil {
		return off, nil
	}
	if pos.Epoch != epoch {
		s.log.Warn("the committed exactly-once position is of another server; starting from the stored offset",
			zap.String("position_epoch", pos.Epoch), zap.String("epoch", epoch))
		return off, nil
	}
	o, stream, err := tokenOffset(pos.Resume)
	if err != nil {
		return nil, sluice.Permanent(fmt.Errorf("mysql source: the committed exactly-once position: %w", err))
	}
	if stream {
		// Stream marks follow the snapshot, if one ran.
		o.Version, o.ServerID, o.ServerUUID, o.SnapshotDone = 1, srv.serverID, srv.uuid, true
	}
	if !offsetAhead(o, off) {
		return off, nil
	}
	if off != nil {
		o.Incremental = off.Incremental
	}
	if err := store.Save(ctx, o); err != nil {
		return nil, fmt.Errorf("mysql source: store the committed exactly-once position: %w", err)
	}
	s.log.Info("resuming after the committed exactly-once position, ahead of the stored offset",
		zap.String("file", o.File), zap.Uint32("pos", o.Pos), zap.Bool("snapshot", o.Snapshot != nil))
	return o, nil
}

// offsetAhead reports whether o is further than off: a finished snapshot
// is ahead of one in progress, a snapshot further ahead has more rows
// done, and stream positions compare by binlog file and offset.
func offsetAhead(o, off *offset) bool {
	switch {
	case off == nil:
		return true
	case o.Snapshot != nil && off.Snapshot != nil:
		return snapshotRows(o.Snapshot) > snapshotRows(off.Snapshot)
	case o.Snapshot != nil:
		return false // a snapshot position behind a stream one
	case off.Snapshot != nil:
		return true
	}
	return lsn(o.File, o.Pos) > lsn(off.File, off.Pos)
}

func snapshotRows(st *snapshotState) int64 {
	var n int64
	for _, t := range st.Tables {
		n += t.Rows
		if t.Done {
			n++ // a table finished with no rows still counts as progress
		}
	}
	return n
}
