package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKafkaFreezer: a franz-go client seeded with the proxy learns the
// proxy as the broker's address, so it keeps every connection on the
// proxy; freezing silences the broker, thawing brings it back.
func TestKafkaFreezer(t *testing.T) {
	brokers := Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	topic := fmt.Sprintf("sluicetest-kafkafreezer-%d", time.Now().UnixNano()%1000000)
	DeleteTopicsAtEnd(t, brokers, topic)
	f := NewKafkaFreezer(t, brokers)
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.Addr()), kgo.DefaultProduceTopic(topic),
		kgo.RequestTimeoutOverhead(time.Second), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range meta.Brokers {
		if got := fmt.Sprintf("%s:%d", b.Host, b.Port); got != f.Addr() {
			t.Errorf("broker %d advertised as %s, want the proxy %s", b.NodeID, got, f.Addr())
		}
	}
	if err := cl.ProduceSync(ctx, kgo.StringRecord("before")).FirstErr(); err != nil {
		t.Fatal(err)
	}

	f.Freeze()
	pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
	err = cl.Ping(pctx)
	pcancel()
	if err == nil {
		t.Fatal("Ping through the frozen proxy succeeded: the client bypasses it")
	}

	f.Thaw()
	if err := cl.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr(); err != nil {
		t.Fatalf("produce after thaw: %v", err)
	}
}
