package kafkaconn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// NewTopicWait is how long EndOffsets waits for a topic the brokers do
// not list yet.
const NewTopicWait = 30 * time.Second

// EndOffsets lists topic's end offsets. A topic just created is not in
// every broker's metadata at once, so while the brokers do not list it,
// or answer a retriable error for one of its partitions, it asks again
// for up to NewTopicWait; a non-retriable error (authorization) returns
// at once.
func EndOffsets(ctx context.Context, adm *kadm.Client, topic string) (kadm.ListedOffsets, error) {
	return listOffsets(ctx, adm.ListEndOffsets, "end offsets", topic)
}

// StableOffsets is EndOffsets for readers with isolation level
// read_committed: the last stable offsets, before which every
// transaction has ended.
func StableOffsets(ctx context.Context, adm *kadm.Client, topic string) (kadm.ListedOffsets, error) {
	return listOffsets(ctx, adm.ListCommittedOffsets, "last stable offsets", topic)
}

func listOffsets(ctx context.Context, list func(context.Context, ...string) (kadm.ListedOffsets, error), what, topic string) (kadm.ListedOffsets, error) {
	deadline := time.Now().Add(NewTopicWait)
	for {
		ends, err := list(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil {
			if _, ok := ends[topic]; ok {
				return ends, nil
			}
			err = errors.New("not in the brokers' metadata")
		}
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable {
			return nil, fmt.Errorf("topic %s: %s: %w", topic, what, err)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, fmt.Errorf("topic %s: %s: %w", topic, what, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
