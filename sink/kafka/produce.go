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

// pending is one event in flight. Its records and headers live in this one
// allocation and all their bytes (key, value, header values) in buf, which
// franz-go only reads until the promises have returned. After the last
// promise the pending goes back to pendingPool: franz-go does not touch a
// record once its promise has run (kgo's finishRecordPromise), and nothing
// else refers to it, so steady-state writes allocate neither the struct
// nor the buffer nor the promise closure.
type pending struct {
	s       *Sink
	ack     func(error)
	promise func(*kgo.Record, error) // p.done, bound once per pending
	buf     []byte
	recs    [2]kgo.Record       // the change, and the tombstone after a delete
	hdrs    [3]kgo.RecordHeader // event id, unchanged columns, old/new key
	n       int                 // records in recs
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
	buf := p.buf[:0]
	if cap(buf) > maxBufHint {
		buf = nil
	}
	promise := p.promise
	*p = pending{buf: buf, promise: promise}
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
		p.mu.Lock()
		if p.err == nil {
			p.err = classify(fmt.Errorf("kafka sink: produce %s: %w", r.Topic, err))
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
	if err != nil {
		st.eventErrors.Add(1)
	} else {
		st.events.Add(1)
	}
	ack := p.ack
	p.release()
	ack(err)
	s.inflight.Done()
}

// Write encodes ev and hands its records to the producer: the change
// record, plus a tombstone after a delete (when tombstones_on_delete is on
// and the event has a key). Headers: codec.EventIDHeader on every record;
// codec.UnchangedHeader when columns were not sent by the source; on the
// two halves of a primary-key change, codec.NewKeyHeader on the delete and
// codec.OldKeyHeader on the create, as Debezium does.
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
	topic, info, err := s.topicOf(ctx, c.adm, ev)
	if err != nil {
		return s.fail(ack, err)
	}
	p := getPending(s, ack)
	if ok := s.encode(p, ev, topic, info); !ok {
		p.release()
		// The broker would reject the record and, with it, every other
		// record in its batch.
		if ev.Op == sluice.OpTruncate {
			return s.skipTruncate(topic, info, ack)
		}
		what := "event"
		if ev.Table != nil {
			what = "row of " + ev.Table.Schema + "." + ev.Table.Name
		}
		return s.fail(ack, classify(fmt.Errorf("kafka sink: produce %s: %c %s: %w", topic, ev.Op, what, ErrNullKeyCompacted)))
	}
	n := p.n
	p.left.Store(int32(n))
	s.inflight.Add(1)

	promise := p.promise
	for i := range n {
		// p may be released by the last promise: take what is needed first.
		rec := &p.recs[i]
		if err := ctx.Err(); err != nil {
			// Do not hand over the rest (a tombstone without its
			// delete would be wrong); fail them here.
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

// encode fills p's buffer, records and headers for ev. It returns false,
// with nothing filled in, for an event without a key bound for a
// compacted topic.
func (s *Sink) encode(p *pending, ev *sluice.Event, topic string, info topicInfo) bool {
	if cap(p.buf) < s.bufHint {
		// A new or small pooled buffer: size it once instead of letting
		// appends grow it step by step.
		p.buf = make([]byte, 0, s.bufHint)
	}
	buf, hasKey := s.enc.AppendKey(p.buf[:0], ev)
	if !hasKey && info.compacted {
		p.buf = buf
		return false
	}
	keyEnd := len(buf)
	now := time.Now()
	buf = s.enc.AppendValueAt(buf, ev, now)
	valEnd := len(buf)
	buf = codec.AppendEventID(buf, ev)
	idEnd := len(buf)
	buf, hasUnchanged := codec.AppendUnchanged(buf, ev)
	unchEnd := len(buf)
	otherKeyHeader := ""
	if ev.OtherKey != nil && ev.Table != nil {
		switch ev.Op {
		case sluice.OpDelete:
			otherKeyHeader = codec.NewKeyHeader
		case sluice.OpCreate:
			otherKeyHeader = codec.OldKeyHeader
		}
		if otherKeyHeader != "" {
			buf = s.enc.AppendKeyRow(buf, ev.Table, ev.OtherKey)
		}
	}
	p.buf = buf
	s.updateHint(len(buf))

	var key []byte // nil: no key (truncate, keyless table)
	if hasKey {
		key = buf[:keyEnd:keyEnd]
	}
	hdrs := append(p.hdrs[:0], kgo.RecordHeader{Key: codec.EventIDHeader, Value: buf[valEnd:idEnd:idEnd]})
	if hasUnchanged {
		hdrs = append(hdrs, kgo.RecordHeader{Key: codec.UnchangedHeader, Value: buf[idEnd:unchEnd:unchEnd]})
	}
	if otherKeyHeader != "" {
		hdrs = append(hdrs, kgo.RecordHeader{Key: otherKeyHeader, Value: buf[unchEnd:]})
	}
	// The records' own context is Background: once buffered, a record is
	// retried until written or until Close fails it, never dropped because
	// the ctx of the Write that handed it over ended. Their timestamp is
	// the envelope's ts_ms, which also spares franz-go a clock read.
	p.recs[0] = kgo.Record{Topic: topic, Key: key, Value: buf[keyEnd:valEnd:valEnd], Headers: hdrs, Timestamp: now, Context: context.Background()}
	p.n = 1
	if ev.Op == sluice.OpDelete && hasKey && s.cfg.TombstonesOnDelete {
		p.recs[1] = kgo.Record{Topic: topic, Key: key, Headers: hdrs[:1:1], Timestamp: now, Context: context.Background()}
		p.n = 2
	}
	return true
}

// skipTruncate acknowledges a truncate bound for a compacted topic without
// producing it. Such a topic cannot hold a record without a key, and
// Debezium does not send truncates by default either (skipped.operations=t),
// so Debezium consumers see the same stream. The first skip per topic is
// logged; Stats counts them all.
func (s *Sink) skipTruncate(topic string, info topicInfo, ack func(error)) error {
	if !info.warnedTruncate {
		info.warnedTruncate = true
		s.known[topic] = info
		s.lastTable = nil // its cached info is stale
		s.log.Warn("truncate not sent: the topic is compacted and Kafka refuses records without a key there; "+
			"use topic_creation.cleanup_policy: delete to receive truncates",
			zap.String("topic", topic))
	}
	s.stats.truncatesSkipped.Add(1)
	s.stats.events.Add(1)
	ack(nil)
	return nil
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
