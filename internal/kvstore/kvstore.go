// Package kvstore keeps small values by key in a compacted Kafka topic, the
// way Kafka Connect keeps its offsets: one partition, the latest record of
// a key wins, a record with a null value (a tombstone) deletes the key.
//
// It holds what a source needs to resume and a pod without a volume would
// lose with its local disk (DESIGN.md, "Delivery guarantee"): the MySQL
// source's binlog offsets and the PostgreSQL source's snapshot state. Both
// read their value once at start and write it after every acknowledged
// step, so a Get reads the topic from the start, and a Put waits for every
// in-sync replica. Every error names the topic first ("topic
// sluice_offsets: …"); a caller prefixes what the topic is for.
package kvstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// PutTimeout bounds one Put.
const PutTimeout = 30 * time.Second

// Topic is one compacted topic. Its methods may be called from several
// goroutines.
type Topic struct {
	cl    *kgo.Client
	conn  []kgo.Opt // brokers, TLS and SASL, for the readers of Get
	topic string
}

// Open connects with conn (kafkaconn options: TLS, SASL) to brokers and
// creates the topic, compacted with one partition and the brokers' default
// replication factor, when it is missing.
func Open(ctx context.Context, brokers []string, conn []kgo.Opt, topic string) (*Topic, error) {
	t, err := newTopic(brokers, conn, topic)
	if err != nil {
		return nil, err
	}
	compact := "compact"
	resp, err := kadm.NewClient(t.cl).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": &compact}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Close()
		return nil, fmt.Errorf("topic %s: create: %w", topic, err)
	}
	return t, nil
}

// OpenExisting is Open for a topic that must not be created: nil (and no
// error) when the brokers do not have it, e.g. for a command that removes
// state and must not leave an empty topic behind.
func OpenExisting(ctx context.Context, brokers []string, conn []kgo.Opt, topic string) (*Topic, error) {
	t, err := newTopic(brokers, conn, topic)
	if err != nil {
		return nil, err
	}
	topics, err := kadm.NewClient(t.cl).ListTopics(ctx, topic)
	if err != nil || !topics.Has(topic) {
		t.Close()
		if err != nil {
			return nil, fmt.Errorf("topic %s: look up: %w", topic, err)
		}
		return nil, nil
	}
	return t, nil
}

// newTopic connects the producing client of topic.
func newTopic(brokers []string, conn []kgo.Opt, topic string) (*Topic, error) {
	conn = append(conn[:len(conn):len(conn)], kgo.SeedBrokers(brokers...))
	cl, err := kgo.NewClient(append(conn[:len(conn):len(conn)], kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return nil, fmt.Errorf("topic %s: client: %w", topic, err)
	}
	return &Topic{cl: cl, conn: conn, topic: topic}, nil
}

// CheckPartitions fails unless the topic has exactly n partitions (a
// topic made by hand with more would spread one key's records over
// several, and Get reads partition 0 only).
func (t *Topic) CheckPartitions(ctx context.Context, n int) error {
	// A topic just created is not in every broker's metadata at once.
	deadline := time.Now().Add(kafkaconn.NewTopicWait)
	for {
		topics, err := kadm.NewClient(t.cl).ListTopics(ctx, t.topic)
		if err == nil {
			err = topics.Error()
		}
		if err == nil {
			if got := len(topics[t.topic].Partitions); got != n {
				return fmt.Errorf("topic %s: has %d partitions, must have %d", t.topic, got, n)
			}
			return nil
		}
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable || ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("topic %s: look up: %w", t.topic, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Name is the topic's name.
func (t *Topic) Name() string { return t.topic }

// Client is the producing client (partition 0 unless a record says
// otherwise), for tests that write records of their own.
func (t *Topic) Client() *kgo.Client { return t.cl }

// Get reads partition 0 from the start to its end at the time of the call
// and returns the last value of key: nil when the key has no record, or
// when its last record is a tombstone.
func (t *Topic) Get(ctx context.Context, key []byte) ([]byte, error) {
	return t.get(ctx, key, false)
}

// GetCommitted is Get for a topic written in Kafka transactions: it reads
// with isolation level read_committed up to the last stable offset, so a
// value of an aborted or still open transaction is never returned.
func (t *Topic) GetCommitted(ctx context.Context, key []byte) ([]byte, error) {
	return t.get(ctx, key, true)
}

func (t *Topic) get(ctx context.Context, key []byte, committed bool) ([]byte, error) {
	adm := kadm.NewClient(t.cl)
	list := kafkaconn.EndOffsets
	if committed {
		list = kafkaconn.StableOffsets
	}
	ends, err := list(ctx, adm, t.topic)
	if err != nil {
		return nil, err
	}
	lo, ok := ends.Lookup(t.topic, 0)
	if !ok {
		return nil, fmt.Errorf("topic %s: no partition 0", t.topic)
	}
	end := lo.Offset
	if end == 0 {
		return nil, nil
	}
	opts := append(t.conn[:len(t.conn):len(t.conn)],
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{t.topic: {0: kgo.NewOffset().AtStart()}}),
		// Commit and abort markers take offsets too, and the last one
		// may be one: keep them to see that the end was reached.
		kgo.KeepControlRecords())
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	rd, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("topic %s: reader: %w", t.topic, err)
	}
	defer rd.Close()
	var last []byte
	for {
		fetches := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("topic %s: read: %w", t.topic, err)
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("topic %s: read: %w", t.topic, ferr)
		}
		done := false
		fetches.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() && string(r.Key) == string(key) {
				last = r.Value
			}
			if r.Offset >= end-1 {
				done = true
			}
		})
		if done {
			return last, nil
		}
	}
}

// Put writes value under key and waits until every in-sync replica has
// it (at most PutTimeout). A nil value is a tombstone.
func (t *Topic) Put(ctx context.Context, key, value []byte) error {
	ctx, cancel := context.WithTimeout(ctx, PutTimeout)
	defer cancel()
	if err := t.cl.ProduceSync(ctx, &kgo.Record{Topic: t.topic, Partition: 0, Key: key, Value: value}).FirstErr(); err != nil {
		return fmt.Errorf("topic %s: write: %w", t.topic, err)
	}
	return nil
}

// Close closes the client.
func (t *Topic) Close() { t.cl.Close() }
