package kafka

import (
	"context"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/sink"
)

// The transaction topic (encoding.provide_transaction_metadata): like
// Debezium, the sink writes a BEGIN record to "<topic_prefix>.transaction"
// before the first event of each transaction and an END record, with the
// transaction's event counts, after its last. codec.TxTracker finds the
// boundaries; the END normally comes with the source's commit mark, which
// the runner hands to the sink (sink.MarkWriter) because nothing else
// says that a transaction's last event has been seen.
//
// Delivery: a BEGIN record is one of the records of the event it comes
// with, so that event is acknowledged only once BEGIN is written too. An
// END record is acknowledged with its mark: the runner confirms the
// mark's position only after that, so an END that fails is not lost but
// written again, with the transaction, when the pipeline resumes. An END
// that the next transaction's first event brings (no mark in between) is
// a record of that event. END is handed to the producer after the
// transaction's events; as in Debezium, Kafka orders records per
// partition only, so a consumer may see END before events of other
// topics.

var _ sink.MarkWriter = (*Sink)(nil)

// WriteMark implements sink.MarkWriter: it writes the END record of the
// open transaction, if any, and acknowledges the mark when it is written
// (at once when there is nothing to write).
//
// Under exactly_once the END record goes into the open Kafka transaction
// and the mark is acknowledged when that commits (exactly.go).
func (s *Sink) WriteMark(ctx context.Context, mark *sluice.Event, ack func(error)) error {
	if s.eos == nil {
		return s.writeEnd(ctx, ack)
	}
	if err := s.writeEnd(ctx, nopAck); err != nil {
		ack(err)
		return err
	}
	return s.eos.boundary(ctx, mark.Pos, ack)
}

// writeEnd writes the END record of the open transaction, if any.
func (s *Sink) writeEnd(ctx context.Context, ack func(error)) error {
	if !s.txMeta {
		ack(nil)
		return nil
	}
	c := s.conn.Load()
	if c == nil {
		ack(ErrNotOpen)
		return ErrNotOpen
	}
	bounds := [2]*codec.TxBoundary{s.tx.End(), nil}
	if bounds[0] == nil {
		ack(nil)
		return nil
	}
	if err := s.ensureTxTopic(ctx, c, &bounds); err != nil {
		ack(err)
		return err
	}
	p := getPending(s, ack)
	p.mark = true
	s.encode(p, &bounds, nil, "", topicInfo{})
	if a := s.avro.Load(); a != nil {
		if err := a.convert(ctx, s, p, nil, nil); err != nil {
			p.release()
			ack(err)
			return err
		}
	}
	return s.produce(ctx, c, p)
}

// ensureTxTopic creates the transaction topic before its first record.
func (s *Sink) ensureTxTopic(ctx context.Context, c *conn, bounds *[2]*codec.TxBoundary) error {
	if bounds[0] == nil && bounds[1] == nil {
		return nil
	}
	_, err := s.ensureTopic(ctx, c.adm, s.txTopic)
	return err
}
