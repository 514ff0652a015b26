package stdout

import "github.com/sluice-cdc/sluice"

var _ sluice.SinkStatsReporter = (*Sink)(nil)

// SinkStats implements sluice.SinkStatsReporter: Bytes are the bytes of
// the lines written, Errors the events whose line could not be written.
// The sink neither retries nor dead-letters.
func (s *Sink) SinkStats() sluice.SinkStats {
	return sluice.SinkStats{Bytes: s.bytes.Load(), Errors: s.writeErrs.Load(), Retries: -1, DeadLetters: -1}
}
