package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// offset is what the source stores once the sinks acknowledged
// everything before it: where the binlog stream resumes and, while an
// initial snapshot runs, how far it got.
type offset struct {
	Version  int    `json:"version"`
	ServerID uint32 `json:"server_id"` // of the server, to notice a different one
	// File and Pos are the binlog file and the offset after the last
	// acknowledged transaction.
	File string `json:"file"`
	Pos  uint32 `json:"pos"`
	// GTIDs is the executed GTID set (MariaDB: one GTID per domain)
	// including the last acknowledged transaction; empty when the server
	// has no GTIDs.
	GTIDs string `json:"gtids,omitempty"`
	// Snapshot is the initial snapshot in progress; nil when none runs.
	Snapshot *snapshotState `json:"snapshot,omitempty"`
	// SnapshotDone records that an initial snapshot completed.
	SnapshotDone bool `json:"snapshot_done,omitempty"`
}

// snapshotState is the progress of the initial snapshot. The stream
// position of the offset is where streaming starts once it is done.
type snapshotState struct {
	Tables []*tableProgress `json:"tables"`
}

// tableProgress is one table of the snapshot.
type tableProgress struct {
	Table string `json:"table"` // db.table
	// LastKey is the text form of the key of the last acknowledged row;
	// nil before the first chunk.
	LastKey []keyValue `json:"last_key,omitempty"`
	Rows    int64      `json:"rows"`
	Done    bool       `json:"done,omitempty"`
}

// keyValue is one key column's value as a SQL literal's content.
type keyValue struct {
	Text string `json:"t"`
	Hex  bool   `json:"h,omitempty"` // Text is hex of binary bytes
}

func (o *offset) clone() *offset {
	c := *o
	if o.Snapshot != nil {
		s := &snapshotState{Tables: make([]*tableProgress, len(o.Snapshot.Tables))}
		for i, t := range o.Snapshot.Tables {
			tc := *t
			tc.LastKey = append([]keyValue(nil), t.LastKey...)
			s.Tables[i] = &tc
		}
		c.Snapshot = s
	}
	return &c
}

// offsetStore keeps the offset of one pipeline.
type offsetStore interface {
	// Load returns the stored offset, or nil when there is none.
	Load(ctx context.Context) (*offset, error)
	Save(ctx context.Context, o *offset) error
	Close()
}

// fileStore writes the offset to a JSON file atomically (temporary file,
// fsync, rename), so a crash leaves the old or the new offset, never a
// torn one.
type fileStore struct{ path string }

func (f *fileStore) Load(context.Context) (*offset, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	var o offset
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("offsets file %s is corrupt (delete it to start over with a snapshot): %w", f.path, err)
	}
	return &o, nil
}

func (f *fileStore) Save(_ context.Context, o *offset) error {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("offsets directory: %w", err)
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fmt.Errorf("encode offsets: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".offsets-*")
	if err != nil {
		return fmt.Errorf("write offsets: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(b)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), f.path)
	}
	if werr != nil {
		return fmt.Errorf("write offsets: %w", werr)
	}
	return nil
}

func (f *fileStore) Close() {}

// kafkaStore keeps offsets in a compacted topic keyed by pipeline name,
// like Kafka Connect's offset topic: the latest record of a key wins.
type kafkaStore struct {
	cl    *kgo.Client
	conn  []kgo.Opt // brokers, TLS and SASL, for the reader
	topic string
	key   []byte
}

// newKafkaStore connects with conn (kafkaconn options: TLS, SASL) to
// brokers and creates the topic when missing.
func newKafkaStore(ctx context.Context, brokers []string, conn []kgo.Opt, topic, pipeline string) (*kafkaStore, error) {
	conn = append(conn[:len(conn):len(conn)], kgo.SeedBrokers(brokers...))
	cl, err := kgo.NewClient(append(conn[:len(conn):len(conn)], kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return nil, fmt.Errorf("offsets topic client: %w", err)
	}
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": ptr("compact")}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		cl.Close()
		return nil, fmt.Errorf("create offsets topic %s: %w", topic, err)
	}
	return &kafkaStore{cl: cl, conn: conn, topic: topic, key: []byte(pipeline)}, nil
}

func ptr[T any](v T) *T { return &v }

// Load reads the topic from the start to its current end and keeps the
// last value of the pipeline's key.
func (k *kafkaStore) Load(ctx context.Context) (*offset, error) {
	adm := kadm.NewClient(k.cl)
	ends, err := adm.ListEndOffsets(ctx, k.topic)
	if err != nil {
		return nil, fmt.Errorf("offsets topic %s: list end offsets: %w", k.topic, err)
	}
	end, ok := ends.Lookup(k.topic, 0)
	if !ok || end.Err != nil {
		return nil, fmt.Errorf("offsets topic %s: no partition 0: %v", k.topic, end.Err)
	}
	if end.Offset == 0 {
		return nil, nil
	}
	rd, err := kgo.NewClient(append(k.conn[:len(k.conn):len(k.conn)],
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{k.topic: {0: kgo.NewOffset().AtStart()}}))...)
	if err != nil {
		return nil, fmt.Errorf("offsets topic reader: %w", err)
	}
	defer rd.Close()
	var last []byte
	found := false
	for {
		fetches := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read offsets topic %s: %w", k.topic, err)
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("read offsets topic %s: %w", k.topic, ferr)
		}
		done := false
		fetches.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == string(k.key) {
				last, found = r.Value, true
			}
			if r.Offset >= end.Offset-1 {
				done = true
			}
		})
		if done {
			break
		}
	}
	if !found || last == nil {
		return nil, nil
	}
	var o offset
	if err := json.Unmarshal(last, &o); err != nil {
		return nil, fmt.Errorf("offsets topic %s: corrupt record for %s: %w", k.topic, k.key, err)
	}
	return &o, nil
}

func (k *kafkaStore) Save(ctx context.Context, o *offset) error {
	b, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode offsets: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := k.cl.ProduceSync(ctx, &kgo.Record{Topic: k.topic, Partition: 0, Key: k.key, Value: b}).FirstErr(); err != nil {
		return fmt.Errorf("write offsets topic %s: %w", k.topic, err)
	}
	return nil
}

func (k *kafkaStore) Close() { k.cl.Close() }
