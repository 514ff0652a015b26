package kafka

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-cdc/sluice"
)

// Errors the sink reports through Write's return value and ack. Produce
// and topic-creation failures are wrapped with the topic, e.g.
// "kafka sink: produce shop.public.orders: <franz-go/kerr error>", so the
// runner can still test them with errors.Is against kerr and kgo values.
var (
	// ErrNotOpen is returned by Write before a successful Open or after
	// Close. The runner should Open (again) before writing.
	ErrNotOpen = errors.New("kafka sink: not open")

	// ErrNullKeyCompacted fails a row event without a key (a table with
	// neither primary key nor replica identity) bound for a compacted
	// topic. Kafka rejects such records (INVALID_RECORD, "Compacted topic
	// cannot accept message without key") together with the rest of their
	// batch, so the sink refuses the one event up front. Remedies: give the
	// table a primary key, or use topic_creation.cleanup_policy: delete.
	// It is permanent (sluice.IsPermanent): a replay would fail the same
	// way. (Truncates, which carry no row, are skipped instead; see the
	// package documentation.)
	ErrNullKeyCompacted = errors.New("record without key for a compacted topic (cleanup.policy=compact)")
)

// permanentKafka are the Kafka errors that replaying the same events with
// the same configuration cannot fix: the records or the topic settings
// themselves are refused. Authorization and availability errors are not
// here: they can heal while the runner retries with backoff.
var permanentKafka = []error{
	kerr.MessageTooLarge,       // a record exceeds batch_max_bytes or the topic's max.message.bytes
	kerr.RecordListTooLarge,    // likewise, for a batch
	kerr.InvalidRecord,         // the broker's validation refused a record
	kerr.InvalidTopicException, // the topic name is not legal
	kerr.InvalidPartitions,     // topic_creation.partitions refused
	kerr.InvalidConfig,         // topic_creation.configs refused
	kerr.PolicyViolation,       // the broker's create-topic policy refused the settings
}

// classify marks err permanent (sluice.Permanent) when retrying cannot
// fix it, so the runner stops the pipeline with the reason instead of
// restarting it forever.
func classify(err error) error {
	if err == nil || sluice.IsPermanent(err) {
		return err
	}
	if errors.Is(err, ErrNullKeyCompacted) {
		return sluice.Permanent(err)
	}
	for _, p := range permanentKafka {
		if errors.Is(err, p) {
			return sluice.Permanent(err)
		}
	}
	return err
}
