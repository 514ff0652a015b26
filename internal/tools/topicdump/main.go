// Command topicdump reads Kafka topics from the beginning and writes one
// JSON line per record, keeping keys and values as their exact bytes. It is
// a development tool (scripts/debezium.sh records Debezium Server's output
// with it into testdata/golden/debezium), not part of sluice.
//
//	topicdump [flags] TOPIC...
//
// Each line is
//
//	{"topic":"t","partition":0,"offset":0,"key":"…","value":"…","headers":{"h":"v"}}
//
// key and value are the record's raw bytes as a JSON string (decode the
// string to get the bytes back, byte for byte), null when the record has no
// key, or no value (a tombstone). Bytes that are not valid UTF-8 cannot be
// a JSON string: such a key or value is written as null plus "key_base64"
// or "value_base64" (standard base64 of the bytes). Headers keep their
// record order; a header with a null value is written as null. Debezium
// Server's own __debezium.context.* headers are dropped unless
// -context-headers is given; every other header is kept.
//
// Reading stops when the topics have been quiet (no record) for -quiet, or
// after -max records. With -until TOPIC the quiet period only starts once
// TOPIC has a record (e.g. an end marker the writer sends last); -timeout
// bounds the whole read. Records are written sorted by topic, partition
// and offset: with -o (or stdout) in one stream, with -dir one file per
// topic, DIR/TOPIC.jsonl (only topics that had records).
//
// -recreate deletes the topics (when they exist) and creates them empty
// with one partition and replication factor 1, waiting until they are
// usable; -delete only deletes them. Both then exit without reading.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// contextHeaderPrefix marks the headers Debezium Server adds itself
// (connector name, task id, logical name); they are not the connector's.
const contextHeaderPrefix = "__debezium.context."

func main() {
	defaultBrokers := os.Getenv("SLUICE_TEST_KAFKA_BROKERS")
	if defaultBrokers == "" {
		defaultBrokers = "127.0.0.1:59092"
	}
	brokers := flag.String("brokers", defaultBrokers, "comma-separated seed brokers (default $SLUICE_TEST_KAFKA_BROKERS)")
	quiet := flag.Duration("quiet", 3*time.Second, "stop after no record arrived for this long")
	maxRecords := flag.Int("max", 0, "stop after this many records (0: no limit)")
	until := flag.String("until", "", "start the quiet period only once this topic has a record")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	out := flag.String("o", "", "write all records to this file (default stdout)")
	dir := flag.String("dir", "", "write one file per topic, DIR/TOPIC.jsonl")
	contextHeaders := flag.Bool("context-headers", false, "keep Debezium Server's __debezium.context.* headers")
	recreate := flag.Bool("recreate", false, "delete and create the topics (1 partition), then exit")
	del := flag.Bool("delete", false, "delete the topics, then exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: topicdump [flags] TOPIC...\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	topics := flag.Args()
	if len(topics) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if *out != "" && *dir != "" {
		fatalf("-o and -dir exclude each other")
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...))
	if err != nil {
		fatalf("%v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	switch {
	case *del:
		if err := deleteTopics(ctx, kadm.NewClient(cl), topics); err != nil {
			fatalf("%v", err)
		}
		return
	case *recreate:
		if err := recreateTopics(ctx, kadm.NewClient(cl), topics); err != nil {
			fatalf("%v", err)
		}
		return
	}

	recs, err := consume(ctx, *brokers, topics, *until, *quiet, *maxRecords)
	if err != nil {
		fatalf("%v", err)
	}
	sort.SliceStable(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	if err := write(recs, *out, *dir, *contextHeaders); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "topicdump: "+format+"\n", args...)
	os.Exit(1)
}

// consume reads topics from their start until the stop condition.
func consume(ctx context.Context, brokers string, topics []string, until string, quiet time.Duration, maxRecords int) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	var recs []*kgo.Record
	seenUntil := until == ""
	last := time.Now()
	for {
		if maxRecords > 0 && len(recs) >= maxRecords {
			return recs[:maxRecords], nil
		}
		wait := time.Second
		if seenUntil {
			wait = quiet - time.Since(last)
			if wait <= 0 {
				return recs, nil
			}
		}
		if ctx.Err() != nil {
			if !seenUntil {
				return recs, fmt.Errorf("timed out: no record on %s (%d records read)", until, len(recs))
			}
			return recs, fmt.Errorf("timed out while records kept arriving (%d read)", len(recs))
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := cl.PollFetches(pctx)
		cancel()
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			if errors.Is(fe.Err, kerr.UnknownTopicOrPartition) {
				// A topic that is not there (yet): keep waiting.
				continue
			}
			return recs, fmt.Errorf("fetch %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			last = time.Now()
			if r.Topic == until {
				seenUntil = true
			}
		})
	}
}

// write renders recs as JSON lines into one stream or one file per topic.
func write(recs []*kgo.Record, out, dir string, contextHeaders bool) error {
	if dir == "" {
		var buf bytes.Buffer
		for _, r := range recs {
			appendLine(&buf, r, contextHeaders)
		}
		if out == "" {
			_, err := os.Stdout.Write(buf.Bytes())
			return err
		}
		return os.WriteFile(out, buf.Bytes(), 0o644)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := 0; i < len(recs); {
		j := i
		var buf bytes.Buffer
		for ; j < len(recs) && recs[j].Topic == recs[i].Topic; j++ {
			appendLine(&buf, recs[j], contextHeaders)
		}
		if err := os.WriteFile(filepath.Join(dir, recs[i].Topic+".jsonl"), buf.Bytes(), 0o644); err != nil {
			return err
		}
		i = j
	}
	return nil
}

func appendLine(buf *bytes.Buffer, r *kgo.Record, contextHeaders bool) {
	buf.WriteString(`{"topic":`)
	appendString(buf, r.Topic)
	fmt.Fprintf(buf, `,"partition":%d,"offset":%d`, r.Partition, r.Offset)
	appendBytes(buf, "key", r.Key)
	appendBytes(buf, "value", r.Value)
	buf.WriteString(`,"headers":{`)
	n := 0
	for _, h := range r.Headers {
		if !contextHeaders && strings.HasPrefix(h.Key, contextHeaderPrefix) {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		appendString(buf, h.Key)
		buf.WriteByte(':')
		switch {
		case h.Value == nil:
			buf.WriteString("null")
		case utf8.Valid(h.Value):
			appendString(buf, string(h.Value))
		default:
			// Not representable as a JSON string: tag it.
			appendString(buf, "base64:"+base64.StdEncoding.EncodeToString(h.Value))
		}
	}
	buf.WriteString("}}\n")
}

// appendBytes writes ,"name":<string or null>, plus ,"name_base64":"…" for
// bytes that are not valid UTF-8.
func appendBytes(buf *bytes.Buffer, name string, b []byte) {
	buf.WriteString(`,"` + name + `":`)
	switch {
	case b == nil:
		buf.WriteString("null")
	case utf8.Valid(b):
		appendString(buf, string(b))
	default:
		buf.WriteString(`null,"` + name + `_base64":"` + base64.StdEncoding.EncodeToString(b) + `"`)
	}
}

// appendString writes s as a JSON string without HTML escaping (so "<",
// ">" and "&" stay readable; decoding gives s back either way).
func appendString(buf *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	buf.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}

func deleteTopics(ctx context.Context, adm *kadm.Client, topics []string) error {
	resp, err := adm.DeleteTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("delete topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("delete %s: %w", r.Topic, r.Err)
		}
	}
	// Deletion is asynchronous: wait until the metadata no longer lists them.
	for {
		details, err := adm.ListTopics(ctx, topics...)
		if err != nil {
			return fmt.Errorf("list topics: %w", err)
		}
		left := 0
		for _, t := range topics {
			if d, ok := details[t]; ok && d.Err == nil {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("topics still listed after delete: %w", err)
		}
	}
}

func recreateTopics(ctx context.Context, adm *kadm.Client, topics []string) error {
	if err := deleteTopics(ctx, adm, topics); err != nil {
		return err
	}
	pending := append([]string(nil), topics...)
	for len(pending) > 0 {
		resp, err := adm.CreateTopics(ctx, 1, 1, nil, pending...)
		if err != nil {
			return fmt.Errorf("create topics: %w", err)
		}
		var retry []string
		for _, r := range resp.Sorted() {
			switch {
			case r.Err == nil:
			case errors.Is(r.Err, kerr.TopicAlreadyExists):
				// Still being deleted, or made by someone else meanwhile:
				// delete again and retry.
				retry = append(retry, r.Topic)
			default:
				return fmt.Errorf("create %s: %w", r.Topic, r.Err)
			}
		}
		if len(retry) > 0 {
			if err := deleteTopics(ctx, adm, retry); err != nil {
				return err
			}
			if err := sleep(ctx, 200*time.Millisecond); err != nil {
				return fmt.Errorf("create %v: %w", retry, err)
			}
		}
		pending = retry
	}
	// Usable = every partition has a leader.
	for {
		details, err := adm.ListTopics(ctx, topics...)
		if err != nil {
			return fmt.Errorf("list topics: %w", err)
		}
		ready := 0
		for _, t := range topics {
			d, ok := details[t]
			if !ok || d.Err != nil || len(d.Partitions) == 0 {
				continue
			}
			led := true
			for _, p := range d.Partitions {
				if p.Err != nil || p.Leader < 0 {
					led = false
				}
			}
			if led {
				ready++
			}
		}
		if ready == len(topics) {
			return nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("topics not ready: %w", err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
