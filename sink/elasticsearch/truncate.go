package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// truncate applies the truncate policy to a truncate event.
//
// delete_documents: the server may lack _delete_by_query (the minimal
// distributions do), so the sink does it by hand. It first sends
// everything written before the truncate and waits for it (a barrier),
// records a truncate mark (the event's position) in the state index,
// refreshes the index so every document is visible to search, scrolls
// through the ids and deletes them with the truncate's external version.
// Documents already holding a newer change (during a replay) refuse the
// delete and stay. Afterwards the mark drops any replayed change from
// before the truncate, however late it comes. The barrier and the scroll
// make a truncate cost a full pass over the index: fine for the rare
// TRUNCATE of a legacy table, not for a per-minute job.
func (s *Sink) truncate(ctx context.Context, c *conn, ev *sluice.Event, ack func(error)) error {
	if ev.Table == nil {
		s.stats.skipped.Add(1)
		s.ackEvent(ack, nil)
		return nil
	}
	name := ev.Table.Schema + "." + ev.Table.Name
	switch s.cfg.Truncate {
	case TruncateIgnore:
		info, err := s.tableInfo(ctx, c, ev.Table, ev.Pos.Epoch)
		if err != nil {
			s.ackEvent(ack, err)
			return err
		}
		c.idxMu.Lock()
		st := c.indices[info.index]
		first := st != nil && !st.warned
		if first {
			st.warned = true
		}
		c.idxMu.Unlock()
		if first || st == nil {
			s.log.Warn("truncate ignored (truncate: ignore): the index keeps the table's old documents",
				zap.String("table", name), zap.String("index", info.index))
		}
		s.stats.skipped.Add(1)
		s.ackEvent(ack, nil)
		return nil
	case TruncateFail:
		err := sluice.Permanent(fmt.Errorf("elasticsearch sink: table %s was truncated and truncate is %q: rebuild the index from a snapshot, or set truncate to delete_documents or ignore", name, TruncateFail))
		s.ackEvent(ack, err)
		return err
	}
	info, err := s.tableInfo(ctx, c, ev.Table, ev.Pos.Epoch)
	if err == nil && info.indexErr != nil {
		err = sluice.Permanent(fmt.Errorf("elasticsearch sink: truncate %s: %w", name, info.indexErr))
	}
	if err == nil {
		err = s.flushAndWait(ctx, c)
	}
	mark := pos{lsn: ev.Pos.TxLSN, order: ev.TxOrder}
	if err == nil {
		err = s.retry(ctx, c, "truncate "+info.index, func() error { return s.deleteAll(ctx, c, info.index, mark) })
	}
	if err != nil {
		err = fmt.Errorf("elasticsearch sink: truncate %s: %w", name, err)
		s.ackEvent(ack, err)
		return err
	}
	s.stats.truncates.Add(1)
	s.log.Info("truncate applied", zap.String("table", name), zap.String("index", info.index), zap.String("event_id", eventID(mark)))
	s.ackEvent(ack, nil)
	return nil
}

// deleteAll records the truncate mark and deletes every document of the
// index with version mark.lsn. It is idempotent, so a retry after a
// failure in the middle simply starts over.
func (s *Sink) deleteAll(ctx context.Context, c *conn, index string, mark pos) error {
	body := appendStateAction(nil, c.stateIndex, truncateID(index), "external_gte",
		stateDoc{Kind: "truncate", Index: index, LSN: mark.lsn, Order: mark.order})
	items, err := s.bulk(ctx, c, body, 1)
	if err != nil {
		return err
	}
	if out := classify(items[0].Status, items[0].Error, false); out != outOK && out != outStale {
		return &statusError{op: "write truncate mark", status: items[0].Status, err: items[0].Error}
	}
	c.idxMu.Lock()
	if st := c.indices[index]; st != nil && st.truncate.less(mark) {
		st.truncate = mark
	}
	c.idxMu.Unlock()

	return s.deleteMatching(ctx, c, index, `{"match_all":{}}`, mark.lsn, true)
}

// deleteMatching deletes the documents of index that query matches (a
// scroll plus bulk deletes: the server may lack _delete_by_query), with
// external version `version` when versioned, else unversioned.
func (s *Sink) deleteMatching(ctx context.Context, c *conn, index, query string, version uint64, versioned bool) error {
	path := "/" + url.PathEscape(index)
	if _, status, err := c.cl.call(ctx, "POST", path+"/_refresh", nil, 404); err != nil || status == 404 {
		return err // a missing index has nothing to delete
	}
	data, _, err := c.cl.call(ctx, "POST", path+"/_search?scroll=1m&filter_path=_scroll_id,hits.hits._id",
		[]byte(`{"size":1000,"_source":false,"sort":["_doc"],"query":`+query+`}`))
	if err != nil {
		return err
	}
	var scrollID string
	defer func() {
		if scrollID != "" {
			body, _ := json.Marshal(map[string]string{"scroll_id": scrollID})
			_, _, _ = c.cl.do(context.WithoutCancel(ctx), "DELETE", "/_search/scroll", body)
		}
	}()
	for {
		var r struct {
			ScrollID string `json:"_scroll_id"`
			Hits     struct {
				Hits []struct {
					ID string `json:"_id"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("elasticsearch sink: scroll %s: bad response: %w", index, err)
		}
		scrollID = r.ScrollID
		if len(r.Hits.Hits) == 0 {
			return nil
		}
		var bulk []byte
		for _, h := range r.Hits.Hits {
			if versioned {
				bulk = appendAction(bulk, "delete", index, h.ID, version)
			} else {
				bulk = appendUnversionedDelete(bulk, index, h.ID)
			}
		}
		items, err := s.bulk(ctx, c, bulk, len(r.Hits.Hits))
		if err != nil {
			return err
		}
		for i, it := range items {
			switch classify(it.Status, it.Error, true) {
			case outOK, outStale:
			default:
				return &statusError{op: "delete " + index + "/" + r.Hits.Hits[i].ID, status: it.Status, err: it.Error}
			}
		}
		next, _ := json.Marshal(map[string]string{"scroll": "1m", "scroll_id": scrollID})
		if data, _, err = c.cl.call(ctx, "POST", "/_search/scroll?filter_path=_scroll_id,hits.hits._id", next); err != nil {
			return err
		}
	}
}
