package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

// TestLz4FramesOnTheBroker writes events with the default compression and
// reads the partition's stored batches raw. The broker, which decompresses
// a batch to validate its records, accepted the frames internal/lz4frame
// writes (no content checksum: FLG 0x60), keeps them as written, and a
// consumer reads every record back.
func TestLz4FramesOnTheBroker(t *testing.T) {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	var inserts []*sluice.Event
	for id := int64(1); id <= 300; id++ {
		inserts = append(inserts, insertEvent(id, fmt.Sprintf("order %d %s", id, strings.Repeat("x", int(id%40)))))
	}
	events := clock.Tx(inserts...)
	run := runSink(ctx, t, brokers, map[string]any{
		"topic_creation": map[string]any{"partitions": 1},
	}, events)
	for i, err := range run.acks {
		if err != nil {
			t.Fatalf("event %d acked with %v", i, err)
		}
	}

	recs := consumeAll(ctx, t, brokers, len(events), run.tableTopic)
	for i, r := range recs {
		var v struct {
			After struct {
				ID int64 `json:"id"`
			} `json:"after"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if v.After.ID != int64(i+1) {
			t.Fatalf("record %d holds id %d, want %d", i, v.After.ID, i+1)
		}
	}

	details, err := run.adm.ListTopics(ctx, run.tableTopic)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes = 16 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = run.tableTopic, details[run.tableTopic].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 16 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch answered %d topics", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		t.Fatalf("fetch: error code %d", p.ErrorCode)
	}
	raw, batches, records := p.RecordBatches, 0, 0
	for len(raw) > 0 {
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			t.Fatalf("batch %d: %v", batches, err)
		}
		raw = raw[12+int(b.Length):]
		batches++
		records += int(b.NumRecords)
		if codec := b.Attributes & 0x07; codec != 3 {
			t.Errorf("batch %d: codec %d, want 3 (lz4)", batches, codec)
		}
		if frame := []byte{0x04, 0x22, 0x4d, 0x18, 0x60, 0x70, 0x73}; !bytes.HasPrefix(b.Records, frame) {
			t.Errorf("batch %d: records start % x, want the frame header % x", batches, b.Records[:min(7, len(b.Records))], frame)
		}
	}
	if records != len(events) {
		t.Errorf("%d records in %d batches, want %d", records, batches, len(events))
	}
}
