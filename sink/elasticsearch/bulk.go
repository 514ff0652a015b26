package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// process delivers a batch: it drops changes older than a truncate mark,
// records the write-ahead high-water mark, reads tombstones (during a
// replay) and the stored documents partial updates are merged with, sends
// the bulk request, retries what may pass, and dead-letters what
// Elasticsearch refuses. When it returns every op has its final state,
// except ops still pending because the sink was closed.
func (s *Sink) process(c *conn, b *batch) {
	ctx := c.ctx
	live := make([]*op, 0, len(b.ops))
	for _, o := range b.ops {
		if o.reject != nil {
			o.state, o.esErr = opDead, &esError{Type: "sluice_rejected", Reason: o.reject.Error()}
			continue
		}
		live = append(live, o)
	}
	s.dropTruncated(c, live)
	failPending := func(err error) {
		for _, o := range live {
			if o.state == opPending {
				o.state, o.err = opFailed, err
			}
		}
	}
	if err := s.retry(ctx, c, "write high-water mark", func() error { return s.raiseHWM(ctx, c, live) }); err != nil {
		failPending(err)
	} else if err := s.retry(ctx, c, "read tombstones and stored documents", func() error { return s.readBefore(ctx, c, live) }); err != nil {
		failPending(err)
	} else {
		s.send(ctx, c, live)
	}
	for _, o := range live {
		switch o.state {
		case opDone:
			if o.del {
				s.stats.deleted.Add(1)
			} else {
				s.stats.indexed.Add(1)
			}
		case opStale:
			if !o.guarded {
				s.stats.conflicts.Add(1)
			}
		}
	}
	s.deadLetter(ctx, c, b.ops)
}

// dropTruncated marks changes older than their index's last truncate as
// stale: replayed from before the truncate, their rows are gone.
func (s *Sink) dropTruncated(c *conn, ops []*op) {
	c.idxMu.Lock()
	defer c.idxMu.Unlock()
	for _, o := range ops {
		if st := c.indices[o.index]; st != nil && o.pos.less(st.truncate) {
			o.state, o.guarded = opStale, true
			s.stats.stale.Add(1)
		}
	}
}

// raiseHWM records, before anything is sent, that changes up to the
// batch's largest commit LSN (plus hwmStep) may be in each index it
// touches. After a restart, changes at or below the mark are treated as a
// possible replay and checked against tombstones.
func (s *Sink) raiseHWM(ctx context.Context, c *conn, ops []*op) error {
	need := map[string]uint64{}
	for _, o := range ops {
		if o.state == opPending && o.pos.lsn >= need[o.index] {
			need[o.index] = o.pos.lsn
		}
	}
	c.hwmMu.Lock()
	defer c.hwmMu.Unlock()
	var body []byte
	raised := map[string]uint64{}
	c.idxMu.Lock()
	for index, lsn := range need {
		st := c.indices[index]
		if st == nil || lsn < st.hwm {
			continue
		}
		target := lsn + hwmStep
		if target > maxVersion || target < lsn {
			target = maxVersion
		}
		raised[index] = target
		body = appendStateAction(body, c.stateIndex, hwmID(index), "external", stateDoc{Kind: "hwm", Index: index, LSN: target})
	}
	c.idxMu.Unlock()
	if len(body) == 0 {
		return nil
	}
	items, err := s.bulk(ctx, c, body, len(raised))
	if err != nil {
		return err
	}
	for _, it := range items {
		// A conflict means a higher mark is stored already: fine.
		if out := classify(it.Status, it.Error, false); out != outOK && out != outStale {
			return &statusError{op: "write high-water mark", status: it.Status, err: it.Error}
		}
	}
	c.idxMu.Lock()
	for index, target := range raised {
		c.indices[index].hwm = target
	}
	c.idxMu.Unlock()
	return nil
}

// readBefore reads, in one _mget, the tombstones of documents a replay
// might resurrect (changes at or below their index's replay bound) and
// the stored documents that partial updates need, then drops changes older
// than their tombstone and merges the partial updates.
func (s *Sink) readBefore(ctx context.Context, c *conn, ops []*op) error {
	var docs []mgetDoc
	guard := map[*op]int{}
	stored := map[string]int{} // ref → index in docs
	partial := map[string]bool{}
	for _, o := range ops {
		if o.state == opPending && len(o.unchanged) > 0 {
			partial[o.ref] = true
		}
	}
	c.idxMu.Lock()
	for _, o := range ops {
		if o.state != opPending {
			continue
		}
		if st := c.indices[o.index]; !o.del && st != nil && o.pos.lsn <= st.replayBound {
			guard[o] = len(docs)
			docs = append(docs, mgetDoc{Index: c.stateIndex, ID: tombstoneID(o.index, o.id), Source: true})
		}
		if _, ok := stored[o.ref]; partial[o.ref] && !ok {
			stored[o.ref] = len(docs)
			docs = append(docs, mgetDoc{Index: o.index, ID: o.id, Source: true})
		}
	}
	c.idxMu.Unlock()
	if len(docs) == 0 {
		return nil
	}
	res, err := c.mget(ctx, docs)
	if err != nil {
		return err
	}
	if err := stateErrors(docs, res, c.stateIndex); err != nil {
		return err
	}
	for o, i := range guard {
		if d, ok := readState(res[i]); ok && !(pos{lsn: d.LSN, order: d.Order}).less(o.pos) {
			o.state, o.guarded = opStale, true
			s.stats.stale.Add(1)
		}
	}
	if len(partial) == 0 {
		return nil
	}
	// Merge in event order: a partial update takes the unchanged columns
	// from the change before it in this batch, else from the stored
	// document. No other request for these documents is in flight
	// (dispatch guarantees it), so the stored document is the state just
	// before this batch.
	base := map[string]json.RawMessage{}
	for ref, i := range stored {
		switch {
		case res[i].Error != nil:
			// E.g. an alias over several indices, where a document
			// cannot be read by id: merge nothing.
			s.log.Warn("partial update: cannot read the stored document", zap.String("index", docs[i].Index),
				zap.String("id", docs[i].ID), zap.String("error", res[i].Error.String()))
		case res[i].Found:
			base[ref] = res[i].Source
		}
	}
	for _, o := range ops {
		if !partial[o.ref] || o.state != opPending {
			continue
		}
		switch {
		case o.del:
			delete(base, o.ref)
		case len(o.unchanged) > 0:
			from := base[o.ref]
			if o.evOp == sluice.OpCreate {
				// The create half of a key change: the row is new, and
				// what the index holds under its id is an earlier row of
				// that key whose delete (or truncate) has not reached the
				// index yet — topics' partitions interleave. Nothing of
				// it may leak into the new row.
				from = nil
			}
			var complete bool
			o.src, complete = mergeDoc(o.src, o.unchanged, from)
			o.unchanged = nil
			s.stats.partial.Add(1)
			if !complete {
				s.stats.partialIncomplete.Add(1)
				s.log.Warn("partial update: the stored document lacks an unchanged column, which stays absent (REPLICA IDENTITY FULL avoids this)",
					zap.String("index", o.index), zap.String("id", o.id))
			}
			base[o.ref] = o.src
		default:
			base[o.ref] = o.src
		}
	}
	return nil
}

// mergeDoc adds to the document src the fields named in unchanged, taken
// from the stored document stored. complete is false when stored lacks one.
func mergeDoc(src []byte, unchanged []string, stored json.RawMessage) (out []byte, complete bool) {
	var fields map[string]json.RawMessage
	if len(stored) > 0 {
		_ = json.Unmarshal(stored, &fields) // a stored document that is not an object merges nothing
	}
	out = make([]byte, 0, len(src)+len(stored))
	out = append(out, src[:len(src)-1]...) // without the closing brace
	empty := len(src) == 2
	complete = true
	for _, name := range unchanged {
		v, ok := fields[name]
		if !ok {
			complete = false
			continue
		}
		if !empty {
			out = append(out, ',')
		}
		empty = false
		out = appendJSONString(out, name)
		out = append(out, ':')
		out = append(out, v...)
	}
	return append(out, '}'), complete
}

// bulkItem is one item of a bulk response.
type bulkItem struct {
	Status int      `json:"status"`
	Error  *esError `json:"error"`
}

// bulk sends an NDJSON body of n actions and returns the items. A
// response that is not a bulk response (transport error, 429/5xx/4xx for
// the whole request) is an error.
func (s *Sink) bulk(ctx context.Context, c *conn, body []byte, n int) ([]bulkItem, error) {
	path := "/_bulk?filter_path=items.*.status,items.*.error"
	if s.refresh != "" {
		path += "&refresh=" + s.refresh
	}
	s.stats.requests.Add(1)
	s.stats.bytes.Add(uint64(len(body)))
	status, data, err := c.cl.do(ctx, "POST", path, body)
	if err != nil {
		return nil, err
	}
	if status < 200 || status > 299 {
		return nil, responseError("bulk request", status, data)
	}
	return parseBulkItems(data, n)
}

// appendAction appends a bulk action line with the op's external version.
// It is appendActionHead, the id and appendVersion written out: it runs
// for every document, and the two calls cost it ~9 ns (one tenth).
func appendAction(dst []byte, action, index, id string, version uint64) []byte {
	dst = append(dst, `{"`...)
	dst = append(dst, action...)
	dst = append(dst, `":{"_index":`...)
	dst = appendJSONString(dst, index)
	dst = append(dst, `,"_id":`...)
	dst = appendJSONString(dst, id)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendUint(dst, version, 10)
	return append(dst, ",\"version_type\":\"external_gte\"}}\n"...)
}

// appendActionHead appends a bulk action line up to its document id,
// {"action":{"_index":index,"_id": — for the sink's own state actions.
func appendActionHead(dst []byte, action, index string) []byte {
	dst = append(dst, `{"`...)
	dst = append(dst, action...)
	dst = append(dst, `":{"_index":`...)
	dst = appendJSONString(dst, index)
	return append(dst, `,"_id":`...)
}

// appendVersion ends an action line after its id with an external
// version of versionType.
func appendVersion(dst []byte, version uint64, versionType string) []byte {
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendUint(dst, version, 10)
	dst = append(dst, `,"version_type":"`...)
	dst = append(dst, versionType...)
	return append(dst, "\"}}\n"...)
}

// appendUnversionedDelete appends a bulk delete action without a version
// (for the sink's own state documents).
func appendUnversionedDelete(dst []byte, index, id string) []byte {
	dst = appendJSONString(appendActionHead(dst, "delete", index), id)
	return append(dst, "}}\n"...)
}

// appendOp appends the actions of o: index with its document, or a delete
// preceded by its tombstone. It returns the number of actions.
func appendOp(dst []byte, stateIndex string, o *op) ([]byte, int) {
	if o.del {
		dst = appendTombstoneAction(dst, stateIndex, o)
		return appendAction(dst, "delete", o.index, o.id, o.pos.lsn), 2
	}
	dst = appendAction(dst, "index", o.index, o.id, o.pos.lsn)
	dst = append(dst, o.src...)
	return append(dst, '\n'), 1
}

// appendBody appends the actions of ops, a bulk request's body, and
// returns their number. It grows dst once, by the ops' estimated sizes:
// appending to an empty body copied it about twenty times on its way to
// a few hundred kilobytes.
func appendBody(dst []byte, stateIndex string, ops []*op) ([]byte, int) {
	est := 0
	for _, o := range ops {
		est += o.size
	}
	if cap(dst)-len(dst) < est {
		// Not slices.Grow: with the race detector it allocates twice.
		dst = append(make([]byte, 0, len(dst)+est), dst...)
	}
	n := 0
	for _, o := range ops {
		var k int
		dst, k = appendOp(dst, stateIndex, o)
		n += k
	}
	return dst, n
}

// send writes the pending ops with bulk requests and settles each one:
// accepted, stale (version conflict), dead letter or failed. Ops that may
// pass later are retried with backoff, together with every later op of
// the same document (which may already have been applied): re-sending the
// later ones after the retried one restores the document's order, and
// external_gte versions make the repetition harmless. Without limit: it
// ends when all are settled or the sink is closed.
func (s *Sink) send(ctx context.Context, c *conn, ops []*op) {
	bo := s.newBackoff()
	chunk := len(ops)
	pending := make([]*op, 0, len(ops))
	for _, o := range ops {
		if o.state == opPending {
			pending = append(pending, o)
		}
	}
	var body []byte
	for len(pending) > 0 {
		retry := map[*op]bool{}
		var lastErr error
		noWait := false
	parts:
		for start := 0; start < len(pending); start += chunk {
			part := pending[start:min(start+chunk, len(pending))]
			var n int
			body, n = appendBody(body[:0], c.stateIndex, part)
			items, err := s.bulk(ctx, c, body, n)
			if err != nil {
				lastErr = err
				se, _ := err.(*statusError)
				switch {
				case se != nil && se.status == 413 && chunk > 1:
					// Too large for http.max_content_length: smaller
					// requests, at once.
					chunk = max(1, chunk/2)
					noWait = true
					for _, o := range pending[start:] {
						retry[o] = true
					}
					break parts
				case se != nil && se.status == 413:
					part[0].state, part[0].status, part[0].esErr = opDead, 413, &esError{Type: "request_too_large", Reason: "the document alone exceeds the cluster's http.max_content_length"}
				case transient(err):
					if isUnreachable(err) || isServerError(err) {
						c.setHealth(err)
					}
					for _, o := range part {
						retry[o] = true
					}
				default:
					for _, o := range part {
						o.state, o.err = opFailed, err
					}
				}
				continue
			}
			c.setHealth(nil)
			s.settle(part, items, retry, &lastErr)
		}
		// The next round: retried ops and every later op of their documents.
		next := pending[:0:0]
		again := map[string]bool{}
		for _, o := range pending {
			switch {
			case retry[o]:
				o.state = opPending
				again[o.ref] = true
				next = append(next, o)
			case again[o.ref] && (o.state == opDone || o.state == opStale && !o.guarded):
				o.state = opPending
				next = append(next, o)
			}
		}
		pending = next
		if len(pending) == 0 {
			break
		}
		s.stats.retries.Add(1)
		if noWait {
			continue
		}
		s.log.Warn("bulk request incomplete; retrying", zap.Int("actions", len(pending)), zap.Error(lastErr))
		if err := bo.wait(ctx, c.ctx); err != nil {
			return // pending ops are acknowledged with ErrClosed
		}
	}
}

// settle applies a bulk response to the ops of one request.
func (s *Sink) settle(part []*op, items []bulkItem, retry map[*op]bool, lastErr *error) {
	i := 0
	for _, o := range part {
		main := items[i]
		i++
		if o.del {
			tomb := main
			main = items[i]
			i++
			switch classify(tomb.Status, tomb.Error, false) {
			case outOK, outStale:
			case outRetry:
				retry[o] = true
				*lastErr = &statusError{op: "write tombstone", status: tomb.Status, err: tomb.Error}
				continue
			default:
				o.state, o.err = opFailed, fmt.Errorf("elasticsearch sink: write tombstone of %s/%s: HTTP %d: %s", o.index, o.id, tomb.Status, tomb.Error)
				continue
			}
		}
		switch classify(main.Status, main.Error, o.del) {
		case outOK:
			o.state = opDone
		case outStale:
			o.state = opStale
		case outRetry:
			retry[o] = true
			*lastErr = &statusError{op: "bulk item " + o.index + "/" + o.id, status: main.Status, err: main.Error}
		case outDeadLetter:
			o.state, o.status, o.esErr = opDead, main.Status, main.Error
		case outFatal:
			action := "index"
			if o.del {
				action = "delete"
			}
			o.state, o.err = opFailed, fmt.Errorf("elasticsearch sink: %s %s/%s: HTTP %d: %s", action, o.index, o.id, main.Status, main.Error)
		}
	}
}

// deadLetter writes the refused documents to the dead-letter destination
// and reports them; their events are then acknowledged. Without a
// destination, or when it fails, their events fail (permanently without
// one: a replay would be refused again).
func (s *Sink) deadLetter(ctx context.Context, c *conn, ops []*op) {
	var dead []*op
	for _, o := range ops {
		if o.state == opDead {
			dead = append(dead, o)
		}
	}
	if len(dead) == 0 {
		return
	}
	if !c.dlq.enabled() {
		for _, o := range dead {
			o.state = opFailed
			o.err = sluice.Permanent(fmt.Errorf("elasticsearch sink: %s/%s (table %s, event %s): %s: %w",
				o.index, o.id, o.table(), eventID(o.pos), o.esErr, ErrRefused))
		}
		return
	}
	recs := make([][]byte, len(dead))
	for i, o := range dead {
		recs[i] = s.deadRecord(o)
	}
	if err := c.dlq.write(ctx, dead, recs); err != nil {
		for _, o := range dead {
			o.state, o.err = opFailed, err
		}
		return
	}
	for _, o := range dead {
		s.stats.deadLettered.Add(1)
		s.log.Warn("document refused; written to the dead-letter destination",
			zap.String("index", o.index), zap.String("id", o.id), zap.String("table", o.table()),
			zap.String("event_id", eventID(o.pos)), zap.String("reason", o.esErr.String()))
	}
}
