package kafka

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
)

// maxBufHint caps the pre-sized encode buffer so one huge row does not
// make every later event allocate a huge buffer; it is also the largest
// buffer kept for reuse, so one huge row does not pin a huge buffer in
// the pool for good.
const maxBufHint = 64 << 10

// pending is one event (or mark) in flight. Its records and headers live
// in this one allocation and all their bytes (keys, values, header values)
// in buf, which franz-go only reads until the promises have returned.
// After the last promise the pending goes back to pendingPool: franz-go
// does not touch a record once its promise has run (kgo's
// finishRecordPromise), and nothing else refers to it, so steady-state
// writes allocate neither the struct nor the buffer nor the promise
// closure.
type pending struct {
	s       *Sink
	ack     func(error)
	promise func(*kgo.Record, error) // p.done, bound once per pending
	buf     []byte
	// recs: the transaction topic's END and BEGIN records when a
	// transaction ends or begins here, then the change and the tombstone
	// after a delete.
	abuf []byte    // format avro: the records' Avro keys and values (avro.go)
	now  time.Time // format avro: the change's processing time
	// scratch is format avro's buffer for the values that go through
	// their JSON form.
	scratch []byte
	recs    [4]kgo.Record
	hdrs    [8]kgo.RecordHeader // event id, unchanged columns, old/new key, unwrap's add_headers, the headers transform's
	thdrs   [4]kgo.RecordHeader // the tombstone's: event id, new key, the headers transform's
	n       int                 // records in recs
	mark    bool                // acknowledges a mark, not an event (Stats)
	left    atomic.Int32        // promises still to return

	mu  sync.Mutex
	err error // first produce error
}

var pendingPool sync.Pool // of *pending; see newPending

func init() { pendingPool.New = newPending }

func newPending() any {
	p := &pending{}
	p.promise = p.done
	return p
}

func getPending(s *Sink, ack func(error)) *pending {
	p := pendingPool.Get().(*pending)
	p.s, p.ack = s, ack
	return p
}

// release returns p to the pool once nothing refers to it any more.
func (p *pending) release() {
	buf, abuf, scratch := p.buf[:0], p.abuf[:0], p.scratch[:0]
	if cap(buf) > maxBufHint {
		buf = nil
	}
	if cap(abuf) > maxBufHint {
		abuf = nil
	}
	if cap(scratch) > maxBufHint {
		scratch = nil
	}
	promise := p.promise
	*p = pending{buf: buf, abuf: abuf, scratch: scratch, promise: promise}
	if buf != nil {
		pendingPool.Put(p)
	}
}

// done is the produce promise of every record of the event. franz-go calls
// promises serially, but the mutex keeps done correct even if it did not.
func (p *pending) done(r *kgo.Record, err error) {
	s := p.s
	st := &s.stats
	if err != nil {
		st.recordErrors.Add(1)
		if s.eos != nil {
			s.eos.recordFailed(err)
		}
		p.mu.Lock()
		if p.err == nil {
			err = fmt.Errorf("kafka sink: produce %s: %w", r.Topic, err)
			if s.eos != nil {
				p.err = s.eos.classify(err)
			} else {
				p.err = classify(err)
			}
		}
		p.mu.Unlock()
	} else {
		st.records.Add(1)
		st.recordBytes.Add(uint64(len(r.Key) + len(r.Value)))
	}
	if p.left.Add(-1) != 0 {
		return
	}
	p.mu.Lock()
	err = p.err
	p.mu.Unlock()
	p.finish(err)
	s.inflight.Done()
}

// finish counts and acknowledges p's event or mark and releases p.
func (p *pending) finish(err error) {
	st := &p.s.stats
	switch {
	case p.mark:
	case err != nil:
		st.eventErrors.Add(1)
	default:
		st.events.Add(1)
	}
	ack := p.ack
	p.release()
	ack(err)
}

// Write encodes ev and hands its records to the producer: the change
// record, plus a tombstone after a delete when tombstones_on_delete is on
// (with a null key too for a table without key, as Debezium writes it).
// Headers: codec.EventIDHeader on every record;
// codec.UnchangedHeader when columns were not sent by the source; on the
// two halves of a primary-key change, codec.NewKeyHeader on the delete
// and its tombstone and codec.OldKeyHeader on the create, as Debezium
// does. An event whose op skipped_operations names (codec.Encoder.Skips)
// gets no record and is acknowledged with nil. An event the unwrap
// transform marked (codec.Unwrapped) is written as Debezium's
// ExtractNewRecordState leaves it: the codec writes the row as the value,
// a delete gets no tombstone (its own value is null, or the rewritten
// row; in drop mode nothing is written), and the transform's add_headers
// follow the other headers. An event the outbox transform marked
// (codec.Outboxed) goes to ev.Topic with the codec's outbox key and value
// and the headers "id" and the placed columns, then codec.EventIDHeader
// (no unchanged or old/new key headers, no tombstone). With
// provide_transaction_metadata, the transaction topic's BEGIN record goes
// before the first event of a transaction (transaction.go).
//
// ack is called exactly once for every call of Write, whatever Write
// returns: with nil when all the event's records are written (acks=all),
// else with the first error. Write blocks while max_buffered_records are
// waiting for Kafka (backpressure) and the first time a topic is used
// (topic creation); it does not block past the end of ctx. It returns an
// error only when it could not hand the event over (the sink is not open,
// the topic could not be created, a row without a key is bound for a
// compacted topic, ctx ended first); ack then receives an error too, so
// the runner may count on ack alone. Records already handed over are not
// cancelled by ctx: they are delivered, or failed by Close.
//
// A truncate bound for a compacted topic is acknowledged with nil and not
// produced (see the package documentation).
func (s *Sink) Write(ctx context.Context, ev *sluice.Event, ack func(error)) error {
	c := s.conn.Load()
	if c == nil {
		return s.fail(ack, ErrNotOpen)
	}
	var bounds [2]*codec.TxBoundary
	if s.txMeta {
		// Observed before anything can fail: a failure restarts the
		// pipeline, and Open starts the tracker afresh.
		bounds[0], bounds[1] = s.tx.Observe(s.enc, ev)
		if err := s.ensureTxTopic(ctx, c, &bounds); err != nil {
			return s.fail(ack, err)
		}
	}
	if err := s.enc.OutboxUnsupported(ev); err != nil {
		return s.fail(ack, fmt.Errorf("kafka sink: %w", err))
	}
	a := s.avro.Load()
	change := ev
	var topic string
	var info topicInfo
	if s.enc.Skips(ev.Op) {
		change = nil // no topic either: Debezium does not create one
		s.stats.skipped.Add(1)
	} else {
		var err error
		if topic, info, err = s.topicOf(ctx, c.adm, ev); err != nil {
			return s.fail(ack, err)
		}
	}
	p := getPending(s, ack)
	if dropped := s.encode(p, &bounds, change, topic, info); dropped {
		// The broker would reject the record and, with it, every other
		// record in its batch.
		if ev.Op != sluice.OpTruncate {
			p.release()
			what := "event"
			if ev.Table != nil {
				what = "row of " + ev.Table.Schema + "." + ev.Table.Name
			}
			return s.fail(ack, classify(fmt.Errorf("kafka sink: produce %s: %c %s: %w", topic, ev.Op, what, ErrNullKeyCompacted)))
		}
		s.skipTruncate(topic, info)
	}
	if a != nil && p.n > 0 {
		var as *codec.AvroSchemas // none when only transaction records are written
		var err error
		if change != nil {
			if as, err = s.enc.AvroSchemas(change); err != nil {
				err = sluice.Permanent(fmt.Errorf("format avro: %w", err))
			}
		}
		if err == nil {
			err = a.convert(ctx, s, p, change, as)
		}
		if err != nil {
			p.release()
			return s.fail(ack, fmt.Errorf("kafka sink: %s: %w", topic, err))
		}
	}
	return s.produce(ctx, c, p)
}

// produce hands p's records to the producer, or acknowledges p at once
// when it has none.
func (s *Sink) produce(ctx context.Context, c *conn, p *pending) error {
	n := p.n
	if n == 0 {
		p.finish(nil)
		return nil
	}
	if s.eos != nil {
		if err := s.eos.beforeRecords(!p.mark); err != nil {
			p.finish(err)
			return err
		}
	}
	p.left.Store(int32(n))
	s.inflight.Add(1)

	promise := p.promise
	for i := range n {
		// p may be released by the last promise: take what is needed first.
		rec := &p.recs[i]
		if err := ctx.Err(); err != nil {
			// Do not hand over the rest (a tombstone without its
			// delete would be wrong); fail them here.
			topic := rec.Topic
			for ; i < n; i++ {
				promise(&p.recs[i], err)
			}
			return fmt.Errorf("kafka sink: produce %s: %w", topic, err)
		}
		// Blocks while max_buffered_records are buffered; if ctx ends
		// meanwhile, the promise gets ctx's error.
		c.cl.Produce(ctx, rec, promise)
	}
	return nil
}

// topicOf returns the topic of ev and what the sink knows of it, creating
// the topic on first use. The last table's answer is kept, which spares
// two map lookups per event in the common case of a run of events of one
// table.
func (s *Sink) topicOf(ctx context.Context, adm *kadm.Client, ev *sluice.Event) (string, topicInfo, error) {
	if ev.Topic != "" {
		// A transform chose it (the outbox's aggregate topics); it
		// varies per event, so the per-table cache does not apply.
		info, err := s.ensureTopic(ctx, adm, ev.Topic)
		return ev.Topic, info, err
	}
	if ev.Table != nil && ev.Table == s.lastTable && ev.Op != sluice.OpMessage {
		return s.lastTopic, s.lastInfo, nil
	}
	topic := s.router.Topic(ev)
	info, err := s.ensureTopic(ctx, adm, topic)
	if err != nil {
		return "", topicInfo{}, err
	}
	if ev.Table != nil && ev.Op != sluice.OpMessage {
		s.lastTable, s.lastTopic, s.lastInfo = ev.Table, topic, info
	}
	return topic, info, nil
}

// encode fills p's buffer, records and headers: first the transaction
// boundaries in bounds (END before BEGIN, either may be nil), then, unless
// ev is nil, ev's change and tombstone. It reports dropped, with ev's
// records left out, for an event without a key bound for a compacted
// topic.
func (s *Sink) encode(p *pending, bounds *[2]*codec.TxBoundary, ev *sluice.Event, topic string, info topicInfo) (dropped bool) {
	if cap(p.buf) < s.bufHint {
		// A new or small pooled buffer: size it once instead of letting
		// appends grow it step by step.
		p.buf = make([]byte, 0, s.bufHint)
	}
	now := time.Now()
	buf := p.buf[:0]
	// Offsets, not slices, until buf stops growing.
	var spans [2][3]int // per boundary record: start, key end, value end
	nb := 0
	for _, b := range bounds {
		if b == nil {
			continue
		}
		start := len(buf)
		buf = s.enc.AppendTxKey(buf, b)
		keyEnd := len(buf)
		buf = s.enc.AppendTxValue(buf, b, now)
		spans[nb] = [3]int{start, keyEnd, len(buf)}
		nb++
	}
	var keyStart, keyEnd, valEnd, idEnd, unchEnd, otherEnd int
	var hasKey, hasUnchanged bool
	otherKeyHeader := ""
	var unwrapEndsA [4]int
	unwrapEnds := unwrapEndsA[:0] // where each of unwrap's add_headers (or the outbox's headers) values ends
	unwrap := ev != nil && codec.Unwrapped(ev)
	outbox := ev != nil && codec.Outboxed(ev)
	if unwrap && ev.Op == sluice.OpDelete && ev.Unwrap.Deletes == sluice.DeleteDrop {
		ev = nil // the transform drops these; nothing to write, still acknowledged
	}
	if ev != nil {
		keyStart = len(buf)
		buf, hasKey = s.enc.AppendKey(buf, ev)
		if !hasKey && info.compacted {
			buf, ev, dropped = buf[:keyStart], nil, true
		}
	}
	if ev != nil {
		keyEnd = len(buf)
		if s.cfg.Format == FormatAvro && codec.AvroDirect(ev) {
			p.now = now // the Avro value is written from the rows (avro.go)
		} else {
			buf = s.enc.AppendValueAt(buf, ev, now)
		}
		valEnd = len(buf)
		buf = codec.AppendEventID(buf, ev)
		idEnd = len(buf)
		if !outbox { // the router writes its own headers only
			buf, hasUnchanged = codec.AppendUnchanged(buf, ev)
		}
		unchEnd = len(buf)
		if !outbox {
			if otherKeyHeader = codec.OtherKeyHeader(ev); otherKeyHeader != "" {
				buf = s.enc.AppendKeyRow(buf, ev.Table, ev.OtherKey)
			}
		}
		otherEnd = len(buf)
		if unwrap {
			for i := range ev.Unwrap.Headers {
				buf = s.enc.AppendUnwrapHeader(buf, ev, &ev.Unwrap.Headers[i], now)
				unwrapEnds = append(unwrapEnds, len(buf))
			}
		}
		if outbox {
			for i := range codec.OutboxHeaders(ev) {
				buf = s.enc.AppendOutboxHeader(buf, ev, i)
				unwrapEnds = append(unwrapEnds, len(buf))
			}
		}
	}
	p.buf = buf
	s.updateHint(len(buf))

	// The records' own context is Background. franz-go also watches the
	// ctx given to Produce (the runner's sink context, which ends only on
	// a failure or when a drain times out): a buffered record it fails
	// for that reaches its promise with the error, so the event is not
	// acknowledged and is sent again from the last checkpoint, never
	// dropped. Their timestamp is the envelope's ts_ms, which also spares
	// franz-go a clock read.
	p.n = 0
	for _, sp := range spans[:nb] {
		p.recs[p.n] = kgo.Record{Topic: s.txTopic, Key: buf[sp[0]:sp[1]:sp[1]], Value: buf[sp[1]:sp[2]:sp[2]],
			Timestamp: now, Context: context.Background()}
		p.n++
	}
	if ev == nil {
		return dropped
	}
	var key []byte // nil: no key (truncate, keyless table)
	if hasKey {
		key = buf[keyStart:keyEnd:keyEnd]
	}
	id := kgo.RecordHeader{Key: codec.EventIDHeader, Value: buf[valEnd:idEnd:idEnd]}
	if outbox {
		// Debezium's EventRouter headers ("id", the placed columns),
		// then sluice's event id.
		hdrs := p.hdrs[:0]
		start := otherEnd
		for i, end := range unwrapEnds {
			hdrs = append(hdrs, kgo.RecordHeader{Key: codec.OutboxHeaderName(ev, i), Value: buf[start:end:end]})
			start = end
		}
		hdrs = appendHeaders(append(hdrs, id), ev.Headers)
		p.recs[p.n] = kgo.Record{Topic: topic, Key: key, Value: buf[keyEnd:valEnd:valEnd], Headers: hdrs, Timestamp: now, Context: context.Background()}
		p.n++
		return false
	}
	hdrs := append(p.hdrs[:0], id)
	if hasUnchanged {
		hdrs = append(hdrs, kgo.RecordHeader{Key: codec.UnchangedHeader, Value: buf[idEnd:unchEnd:unchEnd]})
	}
	var other kgo.RecordHeader
	if otherKeyHeader != "" {
		other = kgo.RecordHeader{Key: otherKeyHeader, Value: buf[unchEnd:otherEnd:otherEnd]}
		hdrs = append(hdrs, other)
	}
	// Unwrap's headers come after the connector's, as Debezium adds them.
	start := otherEnd
	for i, end := range unwrapEnds {
		hdrs = append(hdrs, kgo.RecordHeader{Key: ev.Unwrap.Headers[i].Name, Value: buf[start:end:end]})
		start = end
	}
	hdrs = appendHeaders(hdrs, ev.Headers)
	value := buf[keyEnd:valEnd:valEnd]
	if unwrap && ev.Op == sluice.OpDelete && (ev.Unwrap.Deletes == sluice.DeleteToTombstone || s.cfg.Format == FormatAvro && codec.AvroNullValue(ev)) {
		// A Kafka tombstone, not the bytes null; in Avro also for
		// tombstone mode, as Debezium's Avro converter writes a null value.
		value = nil
	}
	p.recs[p.n] = kgo.Record{Topic: topic, Key: key, Value: value, Headers: hdrs, Timestamp: now, Context: context.Background()}
	p.n++
	// An unwrapped delete is its own tombstone (a null value, or the
	// rewritten row): Debezium's SMT drops the connector's tombstone,
	// except in rewrite-with-tombstone mode.
	if ev.Op == sluice.OpDelete && s.cfg.TombstonesOnDelete && (!unwrap || ev.Unwrap.Deletes == sluice.DeleteRewriteWithTombstone) {
		// Debezium's tombstone keeps the delete's new-key header; a
		// keyless row's tombstone has a null key (and so does nothing
		// on a compacted topic, where such rows cannot go anyway).
		thdrs := append(p.thdrs[:0], id)
		if otherKeyHeader != "" {
			thdrs = append(thdrs, other)
		}
		thdrs = appendHeaders(thdrs, ev.Headers)
		p.recs[p.n] = kgo.Record{Topic: topic, Key: key, Headers: thdrs, Timestamp: now, Context: context.Background()}
		p.n++
	}
	return false
}

// appendHeaders appends the headers transforms added, after the sink's
// own, as Debezium Server writes InsertHeader's (on tombstones too). The
// values are the event's, which the record may hold until acknowledged.
func appendHeaders(dst []kgo.RecordHeader, hs []sluice.Header) []kgo.RecordHeader {
	for i := range hs {
		dst = append(dst, kgo.RecordHeader{Key: hs[i].Name, Value: hs[i].Value})
	}
	return dst
}

// skipTruncate notes a truncate bound for a compacted topic that is
// acknowledged without being produced. Such a topic cannot hold a record
// without a key, and Debezium does not send truncates by default either
// (skipped.operations=t), so Debezium consumers see the same stream. The
// first skip per topic is logged; Stats counts them all.
func (s *Sink) skipTruncate(topic string, info topicInfo) {
	if !info.warnedTruncate {
		info.warnedTruncate = true
		s.known[topic] = info
		s.lastTable = nil // its cached info is stale
		s.log.Warn("truncate not sent: the topic is compacted and Kafka refuses records without a key there; "+
			"use topic_creation.cleanup_policy: delete to receive truncates",
			zap.String("topic", topic))
	}
	s.stats.truncatesSkipped.Add(1)
}

// updateHint sizes the next event's buffer from the last ones: it grows at
// once and shrinks slowly.
func (s *Sink) updateHint(n int) {
	if n > s.bufHint {
		s.bufHint = min(n+n/4, maxBufHint)
	} else {
		s.bufHint -= (s.bufHint - n) / 16
	}
}
