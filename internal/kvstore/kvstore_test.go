package kvstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestTopic: a key reads as nil before its first Put, then as its last
// value whatever other keys hold, and as nil again after a tombstone; a
// second Open of the same topic sees what the first wrote.
func TestTopic(t *testing.T) {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("sluice_kvstore_test_%d", time.Now().UnixNano())
	testenv.DeleteTopicsAtEnd(t, strings.Join(brokers, ","), name)
	kv, err := Open(ctx, brokers, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	get := func(kv *Topic, key string) string {
		t.Helper()
		v, err := kv.Get(ctx, []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		if v == nil {
			return "<nil>"
		}
		return string(v)
	}
	if v := get(kv, "a"); v != "<nil>" {
		t.Fatalf("empty topic: a = %s", v)
	}
	for _, kv2 := range [][2]string{{"a", "1"}, {"b", "x"}, {"a", "2"}, {"c", "y"}} {
		if err := kv.Put(ctx, []byte(kv2[0]), []byte(kv2[1])); err != nil {
			t.Fatal(err)
		}
	}
	if a, b, d := get(kv, "a"), get(kv, "b"), get(kv, "d"); a != "2" || b != "x" || d != "<nil>" {
		t.Fatalf("a = %s, b = %s, d = %s; want 2, x, <nil>", a, b, d)
	}
	if err := kv.Put(ctx, []byte("b"), nil); err != nil {
		t.Fatal(err)
	}
	again, err := Open(ctx, brokers, nil, name) // the topic exists now
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if a, b := get(again, "a"), get(again, "b"); a != "2" || b != "<nil>" {
		t.Fatalf("after a tombstone for b: a = %s, b = %s; want 2, <nil>", a, b)
	}
}

// TestGetWaitsForANewTopic: a Get whose topic the brokers do not list yet
// (just created, its metadata not everywhere) waits for it and answers
// "no value" instead of failing; a kafka offset or state store opened on
// a busy broker hit exactly that.
func TestGetWaitsForANewTopic(t *testing.T) {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("sluice_kvstore_late_%d", time.Now().UnixNano())
	testenv.DeleteTopicsAtEnd(t, strings.Join(brokers, ","), name)
	conn := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	cl, err := kgo.NewClient(conn...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	late := &Topic{cl: cl, conn: conn, topic: name} // opened before the topic exists
	created := make(chan error, 1)
	go func() {
		time.Sleep(time.Second) // the topic appears while Get runs
		kv, err := Open(ctx, brokers, nil, name)
		if err == nil {
			kv.Close()
		}
		created <- err
	}()
	v, err := late.Get(ctx, []byte("k"))
	if cerr := <-created; cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatalf("Get before the topic existed: %v", err)
	}
	if v != nil {
		t.Fatalf("new topic: got %q, want no value", v)
	}
}

// TestCheckPartitions: a topic created moments ago passes with its one
// partition (the brokers may not list it yet: CheckPartitions waits), and
// one made with three partitions is refused.
func TestCheckPartitions(t *testing.T) {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("sluice_kvstore_parts_%d", time.Now().UnixNano())
	testenv.DeleteTopicsAtEnd(t, strings.Join(brokers, ","), name)
	kv, err := Open(ctx, brokers, nil, name)
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	if err := kv.CheckPartitions(ctx, 1); err != nil {
		t.Fatalf("a new topic: %v", err)
	}
	three := name + "_3"
	if _, err := kadm.NewClient(kv.Client()).CreateTopic(ctx, 3, -1, nil, three); err != nil {
		t.Fatal(err)
	}
	kv3, err := Open(ctx, brokers, nil, three)
	if err != nil {
		t.Fatal(err)
	}
	defer kv3.Close()
	if err := kv3.CheckPartitions(ctx, 1); err == nil || !strings.Contains(err.Error(), "has 3 partitions, must have 1") {
		t.Fatalf("three partitions: %v", err)
	}
}
