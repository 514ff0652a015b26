package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// createTopic creates a topic whose record timestamps are the broker's
// append time (message.timestamp.type=LogAppendTime), so a record's
// timestamp says when Kafka accepted it, whoever produced it.
func createTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int) error {
	_, err := adm.CreateTopic(ctx, int32(partitions), 1, map[string]*string{
		"message.timestamp.type": kadm.StringPtr("LogAppendTime"),
		"cleanup.policy":         kadm.StringPtr("delete"),
	}, topic)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// endOffsets is the number of records in topic (sum of the partitions'
// high watermarks; the topics are new, so they start at 0).
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	offs, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	var ferr error
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = o.Err
		}
		n += o.Offset
	})
	return n, ferr
}

// waitRecords polls the topic's end offsets every interval until it holds
// want records, alive reports false, or ctx ends. Polling offsets instead
// of consuming keeps the driver off the CPU while sluice runs; the records'
// append times are read afterwards.
func waitRecords(ctx context.Context, adm *kadm.Client, topic string, want int64, alive func() error) (time.Time, error) {
	return waitRecordsFrom(ctx, adm, topic, want, alive, nil)
}

// waitRecordsFrom is waitRecords that also calls first, if not nil, when
// it first sees a record on topic.
func waitRecordsFrom(ctx context.Context, adm *kadm.Client, topic string, want int64, alive func() error, first func()) (time.Time, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var have int64
	for {
		n, err := endOffsets(ctx, adm, topic)
		if err == nil {
			if have == 0 && n > 0 && first != nil {
				first()
			}
			have = n
			if n >= want {
				return time.Now(), nil
			}
		}
		if err := alive(); err != nil {
			return time.Time{}, fmt.Errorf("%w (topic %s has %d of %d records)", err, topic, have, want)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%w: topic %s has %d of %d records", context.Cause(ctx), topic, have, want)
		case <-tick.C:
		}
	}
}

// topicStats is what the verifying consumer found on a topic.
type topicStats struct {
	Records     int
	Tombstones  int
	Ops         map[byte]int // change records by envelope op
	Distinct    int          // distinct sluice.event.id values among change records
	KeyBytes    int64
	ValueBytes  int64
	HeaderBytes int64
	FirstAppend time.Time // LogAppendTime of the first and last record
	LastAppend  time.Time
	// Latencies are append time minus source.ts_us (commit time), for
	// change records appended at or after latencyFrom.
	Latencies []time.Duration
	Samples   []sample // the first records, for the Kafka ceiling
}

type sample struct {
	Key, Value []byte
	Headers    []kgo.RecordHeader
}

type consumeOpts struct {
	samples     int
	latency     bool
	latencyFrom time.Time
}

// consumeAll reads the n records of topic from the start and checks them:
// it counts change records by op, tombstones and distinct event ids
// (sluice.event.id, "<commit LSN>:<order>"), and sums bytes.
func consumeAll(ctx context.Context, brokers []string, topic string, n int64, o consumeOpts) (*topicStats, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// What a consumer of exactly_once topics reads: a record of an
		// aborted transaction would count as a duplicate.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(32<<20))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	st := &topicStats{Ops: map[byte]int{}}
	seen := make(map[[2]uint64]struct{}, n)
	for int64(st.Records) < n {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := fs.Err0(); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return st, fmt.Errorf("consume %s: %d of %d records after 30 s without progress", topic, st.Records, n)
			}
			return st, fmt.Errorf("consume %s: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			st.Records++
			if st.FirstAppend.IsZero() || r.Timestamp.Before(st.FirstAppend) {
				st.FirstAppend = r.Timestamp
			}
			if r.Timestamp.After(st.LastAppend) {
				st.LastAppend = r.Timestamp
			}
			st.KeyBytes += int64(len(r.Key))
			st.ValueBytes += int64(len(r.Value))
			for _, h := range r.Headers {
				st.HeaderBytes += int64(len(h.Key) + len(h.Value))
			}
			if len(st.Samples) < o.samples {
				st.Samples = append(st.Samples, sample{Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value), Headers: cloneHeaders(r.Headers)})
			}
			if r.Value == nil {
				st.Tombstones++
				return
			}
			st.Ops[envelopeOp(r.Value)]++
			if id, ok := eventID(r.Headers); ok {
				if _, dup := seen[id]; !dup {
					seen[id] = struct{}{}
					st.Distinct++
				}
			}
			if o.latency && !r.Timestamp.Before(o.latencyFrom) {
				if us, ok := commitMicros(r.Value); ok {
					st.Latencies = append(st.Latencies, r.Timestamp.Sub(time.UnixMicro(us)))
				}
			}
		})
	}
	return st, nil
}

func cloneHeaders(hs []kgo.RecordHeader) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, len(hs))
	for i, h := range hs {
		out[i] = kgo.RecordHeader{Key: h.Key, Value: bytes.Clone(h.Value)}
	}
	return out
}

// envelopeOp is the Debezium envelope's op; it follows before, after and
// source, so the last occurrence is the envelope's.
func envelopeOp(v []byte) byte {
	i := bytes.LastIndex(v, []byte(`,"op":"`))
	if i < 0 || i+7 >= len(v) {
		// A row unwrapped with add_fields [op] (the transforms chain).
		if i = bytes.LastIndex(v, []byte(`,"__op":"`)); i < 0 || i+9 >= len(v) {
			return '?'
		}
		return v[i+9]
	}
	return v[i+7]
}

// commitMicros is source.ts_us, the commit time in microseconds.
func commitMicros(v []byte) (int64, bool) {
	i := bytes.LastIndex(v, []byte(`"source":{"version":`))
	if i < 0 {
		return 0, false
	}
	j := bytes.Index(v[i:], []byte(`"ts_us":`))
	if j < 0 {
		return 0, false
	}
	s := v[i+j+8:]
	k := 0
	for k < len(s) && (s[k] >= '0' && s[k] <= '9' || s[k] == '-') {
		k++
	}
	us, err := strconv.ParseInt(string(s[:k]), 10, 64)
	return us, err == nil
}

// eventID parses the sluice.event.id header "<hi>/<lo>:<order>".
func eventID(hs []kgo.RecordHeader) ([2]uint64, bool) {
	for _, h := range hs {
		if h.Key != "sluice.event.id" {
			continue
		}
		lsn, order, ok := bytes.Cut(h.Value, []byte{':'})
		hi, lo, ok2 := bytes.Cut(lsn, []byte{'/'})
		if !ok || !ok2 {
			return [2]uint64{}, false
		}
		a, err1 := strconv.ParseUint(string(hi), 16, 32)
		b, err2 := strconv.ParseUint(string(lo), 16, 32)
		c, err3 := strconv.ParseUint(string(order), 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return [2]uint64{}, false
		}
		return [2]uint64{a<<32 | b, c}, true
	}
	return [2]uint64{}, false
}
