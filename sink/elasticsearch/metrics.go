package elasticsearch

import "github.com/sluice-cdc/sluice"

var _ sluice.SinkStatsReporter = (*Sink)(nil)

// SinkStats implements sluice.SinkStatsReporter. Bytes are the bodies of
// the bulk requests sent, retries included (what went over the wire, not
// the documents' size). Retries count bulk requests repeated, and other
// requests retried, after a retryable failure; DeadLetters the documents
// Elasticsearch refused that went to the dead-letter destination; Errors
// the events acknowledged with an error.
func (s *Sink) SinkStats() sluice.SinkStats {
	st := &s.stats
	return sluice.SinkStats{
		Bytes:       int64(st.bytes.Load()),
		Retries:     int64(st.retries.Load()),
		DeadLetters: int64(st.deadLettered.Load()),
		Errors:      int64(st.eventErrors.Load()),
	}
}
