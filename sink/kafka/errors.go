package kafka

import "errors"

// Errors the sink reports through Write's return value and ack. Produce
// and topic-creation failures are wrapped with the topic, e.g.
// "kafka sink: produce shop.public.orders: <franz-go/kerr error>", so the
// runner can still test them with errors.Is against kerr and kgo values.
var (
	// ErrNotOpen is returned by Write before a successful Open or after
	// Close. The runner should Open (again) before writing.
	ErrNotOpen = errors.New("kafka sink: not open")
)
