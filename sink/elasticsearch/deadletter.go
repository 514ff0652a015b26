package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
)

// deadLetter writes refused documents, one JSON object each, to a file
// and/or a Kafka topic. A record is durable (file synced, Kafka acked with
// acks=all) before its event is acknowledged, so a refused document is
// never lost: it is in Elasticsearch, or in the dead-letter destination,
// or its event is replayed.
//
// Record fields:
//
//	time      when it was written (RFC 3339, UTC)
//	pipeline  pipeline name; sink: the sink's config key
//	index, id the document's index and _id (empty when none could be made)
//	action    "index" or "delete"; op: the event's Debezium op (c, u, r, d)
//	table     schema.table; event_id: "<commit LSN>:<index in transaction>",
//	          as in the Kafka sink's sluice.event.id header
//	status    HTTP status of the refusal (0 when refused before sending)
//	error     Elasticsearch's error object {type, reason, caused_by}
//	document  the document as it was sent (null for deletes)
type deadLetter struct {
	mu    sync.Mutex
	file  *os.File
	path  string
	kafka *kgo.Client
	topic string
}

// openDeadLetter opens the configured destinations; none configured gives
// a disabled deadLetter.
func openDeadLetter(ctx context.Context, cfg *DeadLetter) (*deadLetter, error) {
	d := &deadLetter{path: cfg.File, topic: cfg.Kafka.Topic}
	if cfg.File != "" {
		f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch sink: dead_letter.file: %w", err)
		}
		d.file = f
	}
	if len(cfg.Kafka.Brokers) > 0 {
		conn, err := kafkaconn.Opts(cfg.Kafka.TLS, cfg.Kafka.SASL)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("elasticsearch sink: dead_letter.kafka.%w", err)
		}
		cl, err := kgo.NewClient(append(conn, kgo.SeedBrokers(cfg.Kafka.Brokers...),
			kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.AllowAutoTopicCreation())...)
		if err == nil {
			err = cl.Ping(ctx)
			if err != nil {
				cl.Close()
			}
		}
		if err != nil {
			d.close()
			return nil, fmt.Errorf("elasticsearch sink: dead_letter.kafka: connect %v: %w", cfg.Kafka.Brokers, err)
		}
		d.kafka = cl
	}
	return d, nil
}

func (d *deadLetter) enabled() bool { return d != nil && (d.file != nil || d.kafka != nil) }

// write stores the records of ops (one per op) in every destination.
func (d *deadLetter) write(ctx context.Context, ops []*op, recs [][]byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.file != nil {
		var buf []byte
		for _, r := range recs {
			buf = append(buf, r...)
			buf = append(buf, '\n')
		}
		if _, err := d.file.Write(buf); err != nil {
			return fmt.Errorf("elasticsearch sink: dead_letter.file %s: %w", d.path, err)
		}
		if err := d.file.Sync(); err != nil {
			return fmt.Errorf("elasticsearch sink: dead_letter.file %s: sync: %w", d.path, err)
		}
	}
	if d.kafka != nil {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		krecs := make([]*kgo.Record, len(recs))
		for i, r := range recs {
			krecs[i] = &kgo.Record{Topic: d.topic, Key: []byte(ops[i].index + "/" + ops[i].id), Value: r}
		}
		if err := d.kafka.ProduceSync(ctx, krecs...).FirstErr(); err != nil {
			return fmt.Errorf("elasticsearch sink: dead_letter.kafka topic %s: %w", d.topic, err)
		}
	}
	return nil
}

func (d *deadLetter) close() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.file != nil {
		_ = d.file.Close()
		d.file = nil
	}
	if d.kafka != nil {
		d.kafka.Close()
		d.kafka = nil
	}
}

// deadRecordJSON is the shape of a dead-letter record.
type deadRecordJSON struct {
	Time     string          `json:"time"`
	Pipeline string          `json:"pipeline"`
	Sink     string          `json:"sink"`
	Index    string          `json:"index"`
	ID       string          `json:"id"`
	Action   string          `json:"action"`
	Op       string          `json:"op"`
	Table    string          `json:"table"`
	EventID  string          `json:"event_id"`
	Status   int             `json:"status"`
	Error    *esError        `json:"error"`
	Document json.RawMessage `json:"document"`
}

// deadRecord builds the record of a refused op.
func (s *Sink) deadRecord(o *op) []byte {
	r := deadRecordJSON{
		Time: time.Now().UTC().Format(time.RFC3339Nano), Pipeline: s.pipeline, Sink: s.path,
		Index: o.index, ID: o.id, Action: "index", Op: o.evOp.String(), Table: o.table(),
		EventID: eventID(o.pos), Status: o.status, Error: o.esErr, Document: o.src,
	}
	if o.del {
		r.Action = "delete"
	}
	if len(r.Document) == 0 || !json.Valid(r.Document) {
		r.Document = json.RawMessage("null")
	}
	data, err := json.Marshal(r)
	if err != nil {
		// Only an invalid RawMessage could fail, and it was checked;
		// keep the record rather than lose it.
		r.Document = nil
		data, _ = json.Marshal(r)
	}
	return data
}

// eventID is the id the Kafka sink puts in the sluice.event.id header.
func eventID(p pos) string {
	b := codec.AppendLSN(nil, p.lsn)
	b = append(b, ':')
	return string(strconv.AppendInt(b, p.order, 10))
}
