package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

// Heartbeat records (the source's heartbeat_records): the runner hands
// the sink each heartbeat (sink.HeartbeatWriter), which it writes to
// "<topic_prefix>.heartbeat" with the codec's key and value
// (codec.Encoder.AppendHeartbeatKey), creating the topic like the
// others. Consumers watch the topic to see that an idle pipeline is
// alive and how far its source has read. The heartbeat is acknowledged
// when the record is written; the runner then confirms its position.

var _ sink.HeartbeatWriter = (*Sink)(nil)

// HeartbeatTopicName is the heartbeat topic of a topic prefix.
func HeartbeatTopicName(prefix string) string { return prefix + ".heartbeat" }

// WriteHeartbeat implements sink.HeartbeatWriter. Under exactly_once
// the record goes into a Kafka transaction and the heartbeat is
// acknowledged when that commits (exactly.go).
func (s *Sink) WriteHeartbeat(ctx context.Context, hb *sluice.Event, ack func(error)) error {
	if s.eos == nil {
		return s.writeHeartbeat(ctx, hb, ack)
	}
	if err := s.writeHeartbeat(ctx, hb, nopAck); err != nil {
		ack(err)
		return err
	}
	return s.eos.boundary(ctx, hb.Pos, ack)
}

func (s *Sink) writeHeartbeat(ctx context.Context, hb *sluice.Event, ack func(error)) error {
	c := s.conn.Load()
	if c == nil {
		ack(ErrNotOpen)
		return ErrNotOpen
	}
	topic := HeartbeatTopicName(s.enc.Options().Name)
	if _, err := s.ensureTopic(ctx, c.adm, topic); err != nil {
		ack(err)
		return err
	}
	p := getPending(s, ack)
	p.mark = true // not a change event in the sink's counts
	buf := s.enc.AppendHeartbeatKey(p.buf[:0])
	k := len(buf)
	buf = s.enc.AppendHeartbeatValue(buf, hb, time.Now())
	p.buf = buf
	p.recs[0] = kgo.Record{Topic: topic, Key: buf[:k:k], Value: buf[k:]}
	p.n = 1
	if a := s.avro.Load(); a != nil {
		as, err := s.enc.AvroHeartbeatSchemas()
		if err != nil {
			err = sluice.Permanent(fmt.Errorf("format avro: %w", err))
		} else {
			err = a.convert(ctx, s, p, nil, as)
		}
		if err != nil {
			p.release()
			ack(err)
			return err
		}
	}
	return s.produce(ctx, c, p)
}
