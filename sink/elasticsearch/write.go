package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// op is one event's document operation, from Write until its ack.
type op struct {
	ack   func(error)
	del   bool
	index string
	id    string
	ref   string // index NUL id: the document's identity
	key   uint64 // a hash of ref, for the in-flight bookkeeping
	pos   pos
	src   []byte // the document (not for deletes)
	// unchanged lists columns the source did not send (unchanged TOAST
	// values): the document is merged with the stored one before sending.
	unchanged []string
	size      int // estimated request bytes

	// For dead letters and logs.
	evOp sluice.Op
	tbl  *sluice.Table // nil: the event had none

	// reject is set when the event cannot become a request at all (no
	// key, an impossible id or index name): it is dead-lettered.
	reject error

	// Outcome.
	state   opState
	guarded bool  // stale because of a tombstone or truncate mark (not sent)
	err     error // for opFailed
	status  int
	esErr   *esError
}

type opState uint8

const (
	opPending opState = iota
	opDone            // accepted (or the document was already gone)
	opStale           // a newer state is already there: nothing to do
	opDead            // to be dead-lettered
	opFailed          // err is the event's ack error
)

// batch is the ops of one bulk request, in event order.
type batch struct {
	ops   []*op
	bytes int
}

// tableInfo is what the sink derived from one *sluice.Table.
type tableInfo struct {
	index    string
	indexErr error
}

// indexState is the sink's knowledge of one index, loaded at its first
// use after Open.
type indexState struct {
	tables map[*sluice.Table]bool // tables whose columns are mapped
	// replayBound is the index's high-water mark when it was loaded:
	// changes at or below it may have been sent before (this is a
	// replay) and are checked against tombstones before sending.
	replayBound uint64
	hwm         uint64 // persisted high-water mark
	truncate    pos    // last truncate; zero: none
	warned      bool   // truncate ignored (logged once)
}

// Write turns ev into a document operation and adds it to the batch being
// filled; full batches are sent at once, others after flush_interval.
// Logical messages are acknowledged without a request; truncates follow
// the truncate policy.
//
// ack is called exactly once per Write, from the goroutine that completed
// the bulk request: with nil when Elasticsearch accepted the change, found
// it older than what it holds (a replay), or when the document went to the
// dead-letter destination; with an error otherwise. Write blocks while
// max_in_flight requests are outstanding and the batch is full, and while
// Elasticsearch is unreachable the first time an index is used; it
// returns an error only when it could not take the event (ack then gets
// the same error).
func (s *Sink) Write(ctx context.Context, ev *sluice.Event, ack func(error)) error {
	s.stats.pending.Add(1)
	c := s.conn.Load()
	if c == nil {
		s.ackEvent(ack, ErrNotOpen)
		return ErrNotOpen
	}
	switch ev.Op {
	case sluice.OpCreate, sluice.OpUpdate, sluice.OpRead, sluice.OpDelete:
	case sluice.OpTruncate:
		return s.truncate(ctx, c, ev, ack)
	default: // logical messages: nothing to index
		s.stats.skipped.Add(1)
		s.ackEvent(ack, nil)
		return nil
	}
	o, err := s.newOp(ctx, c, ev, ack)
	if err != nil {
		s.ackEvent(ack, err)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addLocked(ctx, c, o)
}

// newOp builds the operation of a row event. Problems of this one event
// (no key, an id or index name Elasticsearch cannot take) set o.reject;
// the error return is for failures that stop the pipeline.
func (s *Sink) newOp(ctx context.Context, c *conn, ev *sluice.Event, ack func(error)) (*op, error) {
	o := s.arena.op()
	*o = op{ack: ack, del: ev.Op == sluice.OpDelete, evOp: ev.Op,
		pos: pos{lsn: ev.Pos.TxLSN, order: ev.TxOrder}}
	if o.pos.lsn > maxVersion {
		return nil, sluice.Permanent(fmt.Errorf("elasticsearch sink: position %d is beyond Elasticsearch's largest version", o.pos.lsn))
	}
	t := ev.Table
	if t == nil {
		o.reject = errors.New("row event without a table")
		return o, nil
	}
	o.tbl = t
	info, err := s.tableInfo(ctx, c, t, ev.Pos.Epoch)
	if err != nil {
		return nil, err
	}
	o.index = info.index
	row := ev.After
	if o.del {
		row = ev.Before
	}
	// ref is index NUL id, and id its tail: one string for both.
	buf := append(append(s.scratch[:0], o.index...), 0)
	buf, idErr := s.enc.appendID(buf, t, row)
	o.ref = string(buf)
	o.id = o.ref[len(o.index)+1:]
	o.key = maphash.String(s.refSeed, o.ref)
	switch {
	case info.indexErr != nil:
		o.reject = info.indexErr
	case row == nil:
		o.reject = errors.New("event carries no row")
	case idErr != nil:
		o.reject = idErr
	case len(o.id) == 0:
		o.reject = errors.New("the key gives an empty document id, which Elasticsearch does not accept")
	case len(o.id) > maxIDBytes:
		o.reject = fmt.Errorf("the key gives a document id of %d bytes; Elasticsearch accepts at most %d", len(o.id), maxIDBytes)
	}
	if !o.del && ev.After != nil {
		buf, o.unchanged = s.enc.appendDoc(buf[:0], t, ev.After)
		o.src = s.arena.copyDoc(buf)
	}
	s.keepScratch(buf)
	o.size = len(o.src) + len(o.index) + len(o.id) + 96
	if o.del {
		o.size += len(c.stateIndex) + len(o.index) + len(o.id) + 220 // the tombstone
	}
	if o.reject != nil && !c.warned[t] {
		c.warned[t] = true
		s.log.Warn("rows of this table cannot be indexed; they go to the dead-letter destination",
			zap.String("table", o.table()), zap.Error(o.reject))
	}
	return o, nil
}

// table is the operation's table as schema.table, for dead letters and
// logs; empty when the event had none.
func (o *op) table() string {
	if o.tbl == nil {
		return ""
	}
	return o.tbl.Schema + "." + o.tbl.Name
}

// tableInfo returns the index of t, preparing it the first time
// (creating it, loading its marks); transient failures are retried with
// backoff until ctx ends.
func (s *Sink) tableInfo(ctx context.Context, c *conn, t *sluice.Table, epoch string) (*tableInfo, error) {
	if info := c.tables[t]; info != nil {
		return info, nil
	}
	info := &tableInfo{}
	info.index, info.indexErr = s.tmpl.expand(s.prefix, t, s.db)
	if info.indexErr == nil {
		err := s.retry(ctx, c, "prepare index "+info.index, func() error { return s.prepareIndex(ctx, c, info, t, epoch) })
		if err != nil {
			return nil, err
		}
	}
	if len(c.tables) > 4096 {
		clear(c.tables) // new *Table values come only with schema changes
	}
	c.tables[t] = info
	return info, nil
}

// prepareIndex makes sure the index exists (when create_indices is on),
// maps the columns of a table it has not seen, loads its high-water and
// truncate marks, and checks that it was written from the same source
// log (epoch) as the events now.
func (s *Sink) prepareIndex(ctx context.Context, c *conn, info *tableInfo, t *sluice.Table, epoch string) error {
	c.idxMu.Lock()
	st := c.indices[info.index]
	c.idxMu.Unlock()
	path := "/" + url.PathEscape(info.index)
	if st == nil {
		docs := []mgetDoc{
			{Index: c.stateIndex, ID: hwmID(info.index), Source: true},
			{Index: c.stateIndex, ID: truncateID(info.index), Source: true},
			{Index: c.stateIndex, ID: epochID(info.index), Source: true},
		}
		res, err := c.mget(ctx, docs)
		if err != nil {
			return err
		}
		if err := stateErrors(docs, res, c.stateIndex); err != nil {
			return err
		}
		st = &indexState{tables: map[*sluice.Table]bool{}}
		if d, ok := readState(res[0]); ok {
			st.replayBound, st.hwm = d.LSN, d.LSN
		}
		if d, ok := readState(res[1]); ok {
			st.truncate = pos{lsn: d.LSN, order: d.Order}
		}
		stored, hasEpoch := readState(res[2])
		if hasEpoch && epoch != "" && stored.Epoch != epoch {
			if err := s.epochChanged(ctx, c, info.index, stored.Epoch, epoch); err != nil {
				return err
			}
			st = &indexState{tables: map[*sluice.Table]bool{}} // the index starts over
			hasEpoch = false
		}
		if s.cfg.CreateIndices {
			created, err := s.createIndex(ctx, c, path, t)
			if err != nil {
				return err
			}
			if created {
				st.tables[t] = true
				s.log.Info("created index", zap.String("index", info.index), zap.Bool("mapping_file", c.mapping != nil))
			}
		}
		if epoch != "" && !hasEpoch {
			// First written from this log; an index from before epochs
			// were recorded adopts the current one.
			if err := c.putState(ctx, epochID(info.index), stateDoc{Kind: "epoch", Index: info.index, Epoch: epoch}); err != nil {
				return err
			}
		}
		c.idxMu.Lock()
		c.indices[info.index] = st
		c.idxMu.Unlock()
	}
	if st.tables[t] {
		return nil
	}
	if s.cfg.CreateIndices && c.mapping == nil {
		s.addMissingFields(ctx, c, path, info.index, t)
	}
	st.tables[t] = true
	return nil
}

// createIndex creates the index unless it (or an alias of that name)
// exists, and reports whether it did.
func (s *Sink) createIndex(ctx context.Context, c *conn, path string, t *sluice.Table) (bool, error) {
	status, _, err := c.cl.do(ctx, "HEAD", path, nil)
	if err != nil {
		return false, err
	}
	if status == 200 {
		return false, nil
	}
	if status != 404 {
		return false, &statusError{op: "HEAD " + path, status: status}
	}
	body := []byte(`{"settings":`)
	settings, err := json.Marshal(s.cfg.IndexSettings)
	if err != nil || s.cfg.IndexSettings == nil {
		settings = []byte("{}")
	}
	body = append(body, settings...)
	body = append(body, `,"mappings":`...)
	if c.mapping != nil {
		body = append(body, c.mapping...)
	} else {
		body = s.enc.appendMapping(body, t, nil)
	}
	body = append(body, '}')
	data, status, err := c.cl.call(ctx, "PUT", path, body, 400)
	if err != nil {
		return false, err
	}
	if status == 400 {
		se := responseError("PUT "+path, status, data)
		if se.err != nil && se.err.Type == "resource_already_exists_exception" {
			return false, nil
		}
		return false, sluice.Permanent(fmt.Errorf("elasticsearch sink: create index %s (check index_settings and mapping_file): %w", path[1:], se))
	}
	return true, nil
}

// addMissingFields maps the columns the index does not know yet (after
// ALTER TABLE … ADD COLUMN, or a table new to an existing index) with the
// derived mapping. Existing fields are left alone, whatever their type;
// a failure is logged, not fatal: dynamic mapping still indexes the
// values, or refuses them into the dead-letter destination.
func (s *Sink) addMissingFields(ctx context.Context, c *conn, path, index string, t *sluice.Table) {
	data, _, err := c.cl.call(ctx, "GET", path+"/_mapping", nil)
	if err != nil {
		s.log.Warn("cannot read the index mapping; new columns are mapped dynamically", zap.String("index", index), zap.Error(err))
		return
	}
	var m map[string]struct {
		Mappings struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return
	}
	var missing []int
	for i := range t.Columns {
		name := t.Columns[i].Name
		for _, idx := range m {
			if _, ok := idx.Mappings.Properties[name]; !ok {
				missing = append(missing, i)
				break
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	body := s.enc.appendMapping(nil, t, missing)
	if _, _, err := c.cl.call(ctx, "PUT", path+"/_mapping", body); err != nil {
		s.log.Warn("cannot map new columns; they are mapped dynamically", zap.String("index", index), zap.Error(err))
		return
	}
	names := make([]string, len(missing))
	for i, k := range missing {
		names[i] = t.Columns[k].Name
	}
	s.log.Info("mapped new columns", zap.String("index", index), zap.Strings("columns", names))
}

// retry runs f until it succeeds, fails for good, or ctx (or the
// connection) ends, backing off between transient failures. It keeps the
// readiness state current.
func (s *Sink) retry(ctx context.Context, c *conn, what string, f func() error) error {
	b := s.newBackoff()
	for {
		err := f()
		if err == nil {
			c.setHealth(nil)
			return nil
		}
		if !transient(err) {
			return err
		}
		if isUnreachable(err) || isServerError(err) {
			c.setHealth(err)
		}
		s.stats.retries.Add(1)
		s.log.Warn("retrying", zap.String("what", what), zap.Error(err))
		if werr := b.wait(ctx, c.ctx); werr != nil {
			if c.ctx.Err() != nil {
				werr = ErrClosed
			}
			return fmt.Errorf("elasticsearch sink: %s: %w (last error: %v)", what, werr, err)
		}
	}
}

func isServerError(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.status >= 500
}

// backoff is exponential with jitter between the configured bounds.
type backoff struct {
	next, max time.Duration
}

func (s *Sink) newBackoff() *backoff {
	return &backoff{next: s.cfg.Retry.InitialBackoff, max: s.cfg.Retry.MaxBackoff}
}

// wait sleeps 50–100% of the current backoff, then doubles it. It returns
// early with an error when either context ends.
func (b *backoff) wait(ctx, ctx2 context.Context) error {
	d := b.next/2 + rand.N(b.next/2+1)
	b.next = min(2*b.next, b.max)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-ctx2.Done():
		return ErrClosed
	}
}

// addLocked appends o to the batch being filled and sends the batch when
// it is full. s.mu is held.
func (s *Sink) addLocked(ctx context.Context, c *conn, o *op) error {
	if s.cur != nil && len(s.cur.ops) > 0 && s.cur.bytes+o.size > s.cfg.Bulk.MaxBytes {
		if err := s.dispatchLocked(ctx, c); err != nil {
			s.ackEvent(o.ack, err)
			return err
		}
	}
	if s.cur == nil {
		b := &batch{ops: make([]*op, 0, s.lastOps)}
		s.cur = b
		s.timer = time.AfterFunc(s.cfg.Bulk.FlushInterval, func() { s.flushTimer(b) })
	}
	b := s.cur
	b.ops = append(b.ops, o)
	b.bytes += o.size
	if len(b.ops) >= s.cfg.Bulk.MaxActions || b.bytes >= s.cfg.Bulk.MaxBytes {
		return s.dispatchLocked(ctx, c)
	}
	return nil
}

// flushTimer sends b if it is still the batch being filled and a request
// can leave at once. Otherwise it tries again later: the timer never
// blocks Write, which keeps filling the batch until it is full and then
// waits itself.
func (s *Sink) flushTimer(b *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn.Load()
	if s.cur != b || c == nil {
		return
	}
	if ok, err := s.tryDispatchLocked(c); err != nil {
		s.log.Warn("timed flush failed", zap.Error(err))
	} else if !ok {
		s.timer.Reset(s.cfg.Bulk.FlushInterval)
	}
}

// dispatchLocked hands the batch being filled to a bulk goroutine. It
// waits for a free in-flight slot and until no document of the batch is
// in another request still in flight, which keeps each document's changes
// in order. If ctx ends first, the batch's events are acknowledged with
// the error. s.mu is held.
func (s *Sink) dispatchLocked(ctx context.Context, c *conn) error {
	_, err := s.dispatch(ctx, c, true)
	return err
}

// tryDispatchLocked is dispatchLocked without waiting: ok is false, and
// the batch stays, when no request could leave at once.
func (s *Sink) tryDispatchLocked(c *conn) (ok bool, err error) {
	return s.dispatch(c.ctx, c, false)
}

func (s *Sink) dispatch(ctx context.Context, c *conn, wait bool) (bool, error) {
	b := s.cur
	if b == nil {
		return true, nil
	}
	failAll := func(err error) error {
		s.cur = nil
		s.timer.Stop()
		err = fmt.Errorf("elasticsearch sink: send bulk request: %w", err)
		for _, o := range b.ops {
			s.ackEvent(o.ack, err)
		}
		return err
	}
	if !wait {
		select {
		case s.slots <- struct{}{}:
		default:
			return false, nil
		}
	} else {
		select {
		case s.slots <- struct{}{}:
		case <-ctx.Done():
			return false, failAll(ctx.Err())
		case <-c.ctx.Done():
			return false, failAll(ErrClosed)
		}
	}
	for {
		s.flightMu.Lock()
		conflict := false
		for _, o := range b.ops {
			if s.flightRefs[o.key] > 0 {
				conflict = true
				break
			}
		}
		if !conflict {
			for _, o := range b.ops {
				s.flightRefs[o.key]++
			}
			s.flightBatches++
			s.flightMu.Unlock()
			break
		}
		ch := s.flightChanged
		s.flightMu.Unlock()
		if !wait {
			<-s.slots
			return false, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			<-s.slots
			return false, failAll(ctx.Err())
		case <-c.ctx.Done():
			<-s.slots
			return false, failAll(ErrClosed)
		}
	}
	s.cur = nil
	s.lastOps = len(b.ops)
	s.timer.Stop()
	go s.runBatch(c, b)
	return true, nil
}

// runBatch delivers one batch, acknowledges its events and frees its slot
// and documents.
func (s *Sink) runBatch(c *conn, b *batch) {
	s.process(c, b)
	for _, o := range b.ops {
		var err error
		switch o.state {
		case opFailed:
			err = o.err
		case opPending:
			err = ErrClosed
		}
		s.ackEvent(o.ack, err)
	}
	s.flightMu.Lock()
	for _, o := range b.ops {
		if n := s.flightRefs[o.key]; n <= 1 {
			delete(s.flightRefs, o.key)
		} else {
			s.flightRefs[o.key] = n - 1
		}
		// Done: an op still in its arena block must not keep its event
		// (through ack) or its document alive.
		*o = op{}
	}
	s.flightBatches--
	close(s.flightChanged)
	s.flightChanged = make(chan struct{})
	s.flightMu.Unlock()
	<-s.slots
}

// flushAndWait sends the batch being filled and waits until no request is
// in flight: a barrier before an operation on a whole index (truncate).
func (s *Sink) flushAndWait(ctx context.Context, c *conn) error {
	s.mu.Lock()
	err := s.dispatchLocked(ctx, c)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.waitIdle(ctx)
}
