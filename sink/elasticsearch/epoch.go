package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Versions are positions in the source's log (see "Never backwards" in
// doc.go), and positions of two logs are not comparable: after a restore
// into a new PostgreSQL cluster, a promotion onto a new timeline, another
// MySQL server or a RESET MASTER (marked by changing the source's `epoch`
// key), new changes would look older than what the index holds and be
// dropped as stale, silently. So the state index remembers per index the
// epoch (Position.Epoch) it is written from, and a different one is either
// an error that stops the pipeline or, under on_epoch_change: reindex, a
// fresh start of the index.

// epochChanged handles events of epoch neu for an index written from old.
func (s *Sink) epochChanged(ctx context.Context, c *conn, index, old, neu string) error {
	if s.cfg.OnEpochChange != EpochReindex {
		return sluice.Permanent(fmt.Errorf("elasticsearch sink: index %s: %w: the index was written from %q, events now come from %q "+
			"(another server, a restored or promoted PostgreSQL cluster, or the source's epoch key changed). "+
			"Their positions are not comparable, so every change would be dropped as older than the index. "+
			"Set on_epoch_change: reindex to rebuild the index (then snapshot the tables to fill it), or delete the index",
			index, ErrEpochChanged, old, neu))
	}
	s.log.Warn("the source's log changed: deleting the index and its marks to rebuild it (on_epoch_change: reindex); snapshot the tables to fill it",
		zap.String("index", index), zap.String("old_epoch", old), zap.String("new_epoch", neu))
	if _, _, err := c.cl.call(ctx, "DELETE", "/"+url.PathEscape(index), nil, 404); err != nil {
		return err
	}
	q, _ := json.Marshal(map[string]any{"term": map[string]string{"index": index}})
	return s.deleteMatching(ctx, c, c.stateIndex, string(q), 0, false)
}

// putState writes a state document without a version (epochs are not
// positions).
func (c *conn) putState(ctx context.Context, id string, d stateDoc) error {
	body := appendStateDoc(nil, d)
	_, _, err := c.cl.call(ctx, "PUT", "/"+url.PathEscape(c.stateIndex)+"/_doc/"+url.PathEscape(id), body)
	return err
}
