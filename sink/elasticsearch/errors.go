package elasticsearch

import (
	"errors"
	"fmt"
)

// Errors the sink reports through Write's return value and ack. Failures
// of requests are wrapped with what was being done, e.g.
// "elasticsearch sink: bulk request: <cause>".
var (
	// ErrNotOpen is returned by Write before a successful Open or after
	// Close.
	ErrNotOpen = errors.New("elasticsearch sink: not open")

	// ErrClosed acknowledges events that were still waiting to be
	// delivered when Close gave up (its context ended): they were not
	// written and the pipeline replays them after a restart.
	ErrClosed = errors.New("elasticsearch sink: closed before the event was delivered")

	// ErrRefused fails an event whose document Elasticsearch refused for
	// good (e.g. a mapping conflict) when no dead_letter destination is
	// configured. It is permanent (sluice.IsPermanent): a replay would be
	// refused the same way.
	ErrRefused = errors.New("document refused by Elasticsearch and no dead_letter destination is configured")

	// ErrEpochChanged stops the pipeline (it is permanent) when an index
	// was written from another source log than the events now come from,
	// under on_epoch_change: fail. The message names both logs and the
	// ways out.
	ErrEpochChanged = errors.New("the source's log changed")

	// ErrNotElasticsearch fails Open of an elasticsearch sink whose
	// server is not Elasticsearch (go-elasticsearch's product check), e.g.
	// OpenSearch, which the opensearch sink type serves. It is permanent:
	// retrying would fail the same way forever.
	ErrNotElasticsearch = errors.New("not Elasticsearch")
)

// esError is the "error" object of an Elasticsearch response or bulk item.
type esError struct {
	Type     string   `json:"type"`
	Reason   string   `json:"reason"`
	CausedBy *esError `json:"caused_by,omitempty"`
}

func (e *esError) String() string {
	if e == nil {
		return ""
	}
	s := e.Type + ": " + e.Reason
	if e.CausedBy != nil {
		s += " (caused by " + e.CausedBy.String() + ")"
	}
	return s
}

// outcome is what the sink does about a response or bulk item status.
type outcome uint8

const (
	outOK         outcome = iota // accepted
	outStale                     // version conflict: the index already holds a newer state
	outRetry                     // may pass: retry with backoff
	outDeadLetter                // this document is refused for good
	outFatal                     // the setup is wrong (auth, missing index): fail the event
)

// classify decides about one bulk item (or a whole response) from its
// status and error type.
//
//   - 2xx, and 404 "not_found" of a delete: accepted.
//   - 409 version_conflict_engine_exception: the document already holds a
//     newer change (a replay), counted and not an error.
//   - 429 (rejected execution, circuit breakers), 5xx (unavailable
//     shards, node restarts) and cluster_block_exception (a read-only or
//     flood-stage index, which an operator lifts): retried.
//   - 401/403 security errors and 404 index_not_found_exception: the
//     configuration or permissions are wrong for every document, so the
//     event fails and the pipeline restarts with backoff until fixed.
//   - any other 4xx (mapper_parsing_exception,
//     document_parsing_exception, illegal_argument_exception,
//     strict_dynamic_mapping_exception, invalid_index_name_exception, an
//     over-long id, …): this document cannot be indexed; it goes to the
//     dead-letter destination.
func classify(status int, e *esError, isDelete bool) outcome {
	typ := ""
	if e != nil {
		typ = e.Type
	}
	switch {
	case status >= 200 && status < 300:
		return outOK
	case status == 404 && isDelete && e == nil:
		return outOK // the document was already gone
	case status == 409 || typ == "version_conflict_engine_exception":
		return outStale
	case status == 429 || status >= 500:
		return outRetry
	case typ == "cluster_block_exception":
		return outRetry
	case status == 401 || status == 403 || typ == "security_exception" || typ == "index_not_found_exception":
		return outFatal
	}
	return outDeadLetter
}

// statusError is a whole-request failure.
type statusError struct {
	op     string
	status int
	err    *esError
	body   string
}

func (e *statusError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("elasticsearch sink: %s: HTTP %d: %s", e.op, e.status, e.err)
	}
	return fmt.Sprintf("elasticsearch sink: %s: HTTP %d: %s", e.op, e.status, e.body)
}
