package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// The stream's half of the visibility check readChunk describes: the
// transactions it decoded that no snapshot has shown visible yet, and
// the snapshots that answer for them.

// maxRecent bounds recent: when the stream decodes more transactions
// than that between two prunes, the oldest half is forgotten. A
// transaction decoded that long ago is visible.
const maxRecent = 1 << 16

// pruneEvery is how often, at most, the stream asks for a snapshot to
// prune recent when no chunk snapshot did. Besides memory, it keeps
// recent's 32-bit xids far younger than 2^31 transactions, the range in
// which visible can widen them to 64 bits.
const pruneEvery = 10 * time.Second

// xidSnapshot is a transaction snapshot as txid_current_snapshot()
// writes it: "xmin:xmax:xip,…", 64-bit transaction ids (epoch and xid).
type xidSnapshot struct {
	xmin, xmax uint64
	xip        []uint64 // in progress, xmin <= xip < xmax
}

func parseXidSnapshot(s string) (*xidSnapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("unexpected snapshot %q", s)
	}
	var x xidSnapshot
	var err error
	if x.xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return nil, fmt.Errorf("unexpected snapshot %q", s)
	}
	if x.xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return nil, fmt.Errorf("unexpected snapshot %q", s)
	}
	if parts[2] != "" {
		for _, p := range strings.Split(parts[2], ",") {
			v, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("unexpected snapshot %q", s)
			}
			x.xip = append(x.xip, v)
		}
	}
	return &x, nil
}

// visible reports whether the committed transaction xid (the 32 bits a
// pgoutput Begin message carries) is visible to the snapshot. The xid is
// widened to 64 bits by the epoch closest to xmax, as PostgreSQL compares
// xids: within 2^31 of it.
func (x *xidSnapshot) visible(xid uint32) bool {
	full := int64(x.xmax) + int64(int32(xid-uint32(x.xmax)))
	switch {
	case full < int64(x.xmin):
		return true
	case full >= int64(x.xmax):
		return false
	}
	return !slices.Contains(x.xip, uint64(full))
}

// prune drops from recent the transactions a snapshot taken now shows
// visible, at most every pruneEvery (looked at every 256 calls), when no
// chunk snapshot did it meanwhile. It runs on the stream goroutine, with
// the stream's catalog connection.
func (sn *snapshotter) prune(ctx context.Context, q querier) {
	if sn.pruneTick++; sn.pruneTick%256 != 0 || len(sn.recent) == 0 || time.Since(sn.pruned) < pruneEvery {
		return
	}
	sn.pruned = time.Now()
	var text string
	if err := q.QueryRow(ctx, "SELECT txid_current_snapshot()::text").Scan(&text); err != nil {
		sn.log.Debug("cannot read a snapshot to prune decoded transactions", zap.Error(err))
		return
	}
	if snap, err := parseXidSnapshot(text); err == nil {
		sn.recent = slices.DeleteFunc(sn.recent, snap.visible)
	}
}

// decoded records a transaction the stream decoded (see readChunk). It
// runs on the stream goroutine, once per transaction.
func (sn *snapshotter) decoded(xid uint32) {
	if len(sn.recent) >= maxRecent {
		sn.recent = append(sn.recent[:0], sn.recent[len(sn.recent)/2:]...)
	}
	sn.recent = append(sn.recent, xid)
}
