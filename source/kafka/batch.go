package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
)

// maxPoll bounds the records of one poll: what the decoders hold at once.
const maxPoll = 10000

// batcher is the poll loop: it polls a batch of records, decodes each
// partition's records on a worker of its own (partitions in parallel,
// each in order), then hands them to the pipeline partition by
// partition, each partition's records followed by its mark.
type batcher struct {
	s        *Source
	cl       *kgo.Client
	emit     func(*sluice.Event) error
	decoders []*decoder
	dlqReady bool // the dead-letter topic is known to exist
}

// decoder is one worker's decoders.
type decoder struct {
	json *jsonDecoder
	avro *avroDecoder
}

func (d *decoder) decode(ctx context.Context, r *kgo.Record) (*envelope, error) {
	if d.avro != nil {
		return d.avro.decode(ctx, r)
	}
	return d.json.decode(r)
}

// otherKey reads the other key of a primary-key change from Debezium's
// __debezium.newkey (on the delete) or __debezium.oldkey (on the create)
// header, Connect JSON with or without a schema, into a row with only
// the key columns; nil when there is none or it cannot be read (the
// change itself is complete without it).
func (d *decoder) otherKey(ev *sluice.Event, hs []kgo.RecordHeader) sluice.Row {
	want := codec.NewKeyHeader
	switch ev.Op {
	case sluice.OpCreate:
		want = codec.OldKeyHeader
	case sluice.OpDelete:
	default:
		return nil
	}
	for _, h := range hs {
		if h.Key != want || ev.Table == nil {
			continue
		}
		v, err := d.json.kp.ParseBytes(h.Value)
		if err != nil {
			return nil
		}
		if p := v.Get("payload"); p != nil && v.Exists("schema") {
			v = p
		}
		if v.Type() != fastjson.TypeObject {
			return nil
		}
		row := make(sluice.Row, len(ev.Table.Columns))
		for i := range row {
			row[i].Kind = sluice.KindMissing
		}
		cols := d.json.keyColumns(ev.Table)
		for _, k := range ev.Table.Key {
			f := v.Get(ev.Table.Columns[k].Name)
			if f == nil {
				return nil
			}
			if row[k], err = d.json.value(&cols[k], f); err != nil {
				return nil
			}
		}
		return row
	}
	return nil
}

// result is a record decoded: its event, or why it has none (errSkip,
// or the reason it goes to the dead-letter topic).
type result struct {
	ev  *sluice.Event
	err error
}

func (b *batcher) loop(ctx context.Context) error {
	for {
		fs := b.cl.PollRecords(ctx, maxPoll)
		if ctx.Err() != nil {
			b.cl.AllowRebalance()
			return ctx.Err()
		}
		if fs.IsClientClosed() {
			return errStopped
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			switch {
			case errors.As(err, &loss):
				b.s.log.Warn("kafka source: records lost on the broker (unclean leader election or deleted records)", zap.Error(err))
			case errors.Is(err, context.Canceled):
			case ferr == nil:
				ferr = fmt.Errorf("kafka source: fetch %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			b.cl.AllowRebalance()
			return ferr
		}
		var parts []kgo.FetchTopicPartition
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) > 0 {
				parts = append(parts, p)
			}
		})
		out := b.decodeAll(ctx, parts)
		for i := range parts {
			if err := b.deliver(ctx, &parts[i], out[i]); err != nil {
				b.cl.AllowRebalance()
				return err
			}
		}
		b.cl.AllowRebalance()
	}
}

// decodeAll decodes each partition's records, partitions in parallel.
func (b *batcher) decodeAll(ctx context.Context, parts []kgo.FetchTopicPartition) [][]result {
	out := make([][]result, len(parts))
	work := func(d *decoder, i int) {
		p := &parts[i]
		rs := make([]result, len(p.Records))
		for j, r := range p.Records {
			env, err := d.decode(ctx, r)
			if err == nil {
				rs[j].ev, err = env.event(b.s.cfg.Epoch)
			}
			if err == nil && len(r.Headers) > 0 {
				rs[j].ev.OtherKey = d.otherKey(rs[j].ev, r.Headers)
			}
			rs[j].err = err
		}
		out[i] = rs
	}
	workers := min(len(b.decoders), len(parts))
	if workers <= 1 {
		for i := range parts {
			work(b.decoders[0], i)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func(d *decoder) {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(parts); i = int(next.Add(1) - 1) {
				work(d, i)
			}
		}(b.decoders[w])
	}
	wg.Wait()
	return out
}

// deliver hands one partition's decoded records to the pipeline, writes
// the unreadable ones to the dead-letter topic (durably, before the
// mark), then emits the partition's mark.
func (b *batcher) deliver(ctx context.Context, p *kgo.FetchTopicPartition, rs []result) error {
	var dead []*kgo.Record
	for j, r := range rs {
		var skip errSkip
		switch {
		case r.ev != nil:
			if err := b.emit(r.ev); err != nil {
				return err
			}
		case errors.As(r.err, &skip):
			b.s.skipped.Add(1)
		case errors.Is(r.err, errRegistryUnavailable) || errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded):
			// Not the record's fault (the registry is down, or a
			// shutdown ended its schema's request): fail before the
			// partition's mark, so that the restart reads it again once
			// the registry is back, or the next run does.
			rec := p.Records[j]
			return fmt.Errorf("kafka source: %s[%d] offset %d: %w", rec.Topic, rec.Partition, rec.Offset, r.err)
		default:
			rec := p.Records[j]
			b.s.log.Warn("kafka source: record is not a change event sluice can read; sent to the dead-letter topic",
				zap.String("topic", rec.Topic), zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset),
				zap.String("dead_letter_topic", b.s.cfg.DeadLetterTopic), zap.Error(r.err))
			dead = append(dead, b.deadRecord(rec, r.err))
		}
	}
	b.s.records.Add(int64(len(rs)))
	if len(dead) > 0 {
		if err := b.writeDead(ctx, dead); err != nil {
			return err
		}
		b.s.deadLetters.Add(int64(len(dead)))
	}
	last := p.Records[len(p.Records)-1]
	seq, ok := b.s.addMark(tp{p.Topic, p.Partition}, last.Offset+1)
	if !ok {
		return nil // taken away meanwhile: the new owner reads it again
	}
	return b.emit(&sluice.Event{Op: sluice.OpMark, Pos: sluice.Position{TxLSN: seq}})
}

// deadRecord is rec as it goes to the dead-letter topic: key, value and
// headers unchanged, with Kafka Connect's error headers added.
func (b *batcher) deadRecord(rec *kgo.Record, why error) *kgo.Record {
	h := append([]kgo.RecordHeader(nil), rec.Headers...)
	h = append(h,
		kgo.RecordHeader{Key: "__connect.errors.topic", Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: "__connect.errors.partition", Value: strconv.AppendInt(nil, int64(rec.Partition), 10)},
		kgo.RecordHeader{Key: "__connect.errors.offset", Value: strconv.AppendInt(nil, rec.Offset, 10)},
		kgo.RecordHeader{Key: "__connect.errors.connector.name", Value: []byte(b.s.name)},
		kgo.RecordHeader{Key: "__connect.errors.exception.message", Value: []byte(why.Error())})
	return &kgo.Record{Topic: b.s.cfg.DeadLetterTopic, Key: rec.Key, Value: rec.Value, Headers: h, Timestamp: rec.Timestamp}
}

// writeDead produces the dead-letter records and waits for the broker,
// creating the topic first when it is missing.
func (b *batcher) writeDead(ctx context.Context, recs []*kgo.Record) error {
	// A shutdown lets the batch finish: its records were read already.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if !b.dlqReady {
		adm := kadm.NewClient(b.cl)
		_, err := adm.CreateTopic(ctx, -1, -1, nil, b.s.cfg.DeadLetterTopic)
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka source: create the dead-letter topic %s: %w", b.s.cfg.DeadLetterTopic, err)
		}
		b.dlqReady = true
	}
	if err := b.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("kafka source: write to the dead-letter topic %s: %w", b.s.cfg.DeadLetterTopic, err)
	}
	return nil
}
