package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/sink/kafka"
)

// producerOpts are the franz-go options sluice's kafka sink uses
// (sink/kafka/config.go clientOpts, compression by kafka.CompressionOpt
// as the sink compresses) with the benchmark's compression,
// linger and defaults for the rest: acks=all, idempotent, murmur2
// partitioning, 1 MiB batches, 10000 buffered records.
func producerOpts(o *options) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(o.brokers...),
		kgo.ClientID("sluice-bench-ceiling"),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.UniformBytesPartitioner(64<<10, true, true, nil)),
		kafka.CompressionOpt(o.compression),
		kgo.ProducerLinger(o.linger),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.MaxBufferedRecords(10000),
	}
}

// producerResult is what the Kafka ceiling measured.
type producerResult struct {
	Records int
	Bytes   int64 // key + value
	Start   time.Time
	End     time.Time     // the last promise
	CPU     time.Duration // this process, user+sys
}

// produceCeiling is the Kafka ceiling: franz-go alone producing n records
// to topic, cycling through samples (records sluice wrote in the same run,
// so sizes, keys, headers and compressibility match), with sluice's
// producer settings, until every produce promise has returned.
func produceCeiling(ctx context.Context, o *options, topic string, samples []sample, n int) (producerResult, error) {
	res := producerResult{Records: n}
	if len(samples) == 0 {
		return res, fmt.Errorf("kafka ceiling: no sample records")
	}
	cl, err := kgo.NewClient(producerOpts(o)...)
	if err != nil {
		return res, err
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return res, err
	}
	var (
		wg      sync.WaitGroup
		failed  atomic.Int64
		errOnce sync.Once
		first   error
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.Add(1)
			errOnce.Do(func() { first = err })
		}
		wg.Done()
	}
	cpu0 := selfCPU()
	res.Start = time.Now()
	for i := range n {
		s := &samples[i%len(samples)]
		res.Bytes += int64(len(s.Key) + len(s.Value))
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: s.Key, Value: s.Value, Headers: s.Headers}, promise)
	}
	wg.Wait()
	res.End = time.Now()
	res.CPU = selfCPU() - cpu0
	if f := failed.Load(); f > 0 {
		return res, fmt.Errorf("kafka ceiling: %d records failed: %w", f, first)
	}
	return res, nil
}
