package sluice

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Signals are operator requests to a running pipeline, in Debezium's
// signal format (id, type, data) so that tooling written for Debezium's
// signal table or Kafka signal topic works unchanged. They reach a source
// through three channels: the source's own signal table (read in the
// change stream, so handled in order with the changes around it), a Kafka
// signal topic, and the admin endpoint, which `sluice snapshot` uses. The
// last two hand the signal to the running source (SignalReceiver).
//
// A signal that is malformed or refused is logged and counted
// (SignalCounter), never fatal: a typo in a request must not stop the
// stream.

// Signal types.
const (
	SignalExecuteSnapshot = "execute-snapshot"
	SignalStopSnapshot    = "stop-snapshot"
	SignalPauseSnapshot   = "pause-snapshot"
	SignalResumeSnapshot  = "resume-snapshot"
	SignalLog             = "log"
)

// Signal channels, as SignalCounter labels them.
const (
	ChannelSource = "source" // the source's signal table
	ChannelKafka  = "kafka"
	ChannelAdmin  = "admin" // the admin endpoint (`sluice snapshot`, `sluice signal`)
)

// Snapshot kinds of execute-snapshot's "type".
const (
	SnapshotKindIncremental = "incremental"
	SnapshotKindBlocking    = "blocking"
)

// Signal is one request.
type Signal struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Data is the type's JSON document (Debezium keeps it as a string
	// column), empty for types that take none.
	Data string `json:"data,omitempty"`
}

// ErrNotRunning is returned by SignalReceiver.Signal while the source is
// not running (starting, restarting after a failure): the channel keeps
// the signal and offers it again.
var ErrNotRunning = errors.New("source not running")

// SignalReceiver is implemented by sources that act on signals from
// channels other than their own signal table.
type SignalReceiver interface {
	// Signal checks s and acts on it. A malformed or refused signal (a
	// table that is not captured, a filter that does not parse) returns
	// an error naming the reason and changes nothing; it is wrapped in
	// ErrRefused. An accepted execute-snapshot is in the source's
	// persistent snapshot state when Signal returns nil, so a crash after
	// that cannot lose it. ErrNotRunning: try again later.
	Signal(ctx context.Context, s Signal) error
}

// ErrRefused marks a signal refused for what it says (malformed, unknown
// type, a table not captured): offering it again cannot help.
var ErrRefused = errors.New("signal refused")

// Refused wraps err in ErrRefused.
func Refused(err error) error { return fmt.Errorf("%w: %w", ErrRefused, err) }

// SnapshotRequest is the data of execute-snapshot and stop-snapshot.
type SnapshotRequest struct {
	// Tables are the data-collections as written ("schema.table" or
	// "db.table").
	Tables []string
	// Kind is SnapshotKindIncremental (the default) or SnapshotKindBlocking.
	Kind string
	// Conditions maps a table, as written in data-collections, to the
	// filter of its additional-conditions entry.
	Conditions map[string]string
}

// snapshotData is the JSON of SnapshotRequest, in Debezium's names.
type snapshotData struct {
	DataCollections      []string `json:"data-collections"`
	Type                 string   `json:"type"`
	AdditionalConditions []struct {
		DataCollection string `json:"data-collection"`
		Filter         string `json:"filter"`
	} `json:"additional-conditions"`
	// AdditionalCondition is Debezium 1.x's single filter for all tables.
	AdditionalCondition string `json:"additional-condition"`
}

// ParseSnapshotRequest reads execute-snapshot or stop-snapshot data. An
// execute-snapshot must name tables; a stop-snapshot without tables stops
// every incremental snapshot.
func ParseSnapshotRequest(typ, data string) (SnapshotRequest, error) {
	var d snapshotData
	if strings.TrimSpace(data) != "" {
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return SnapshotRequest{}, Refused(fmt.Errorf("%s data is not JSON: %w", typ, err))
		}
	} else if typ == SignalExecuteSnapshot {
		return SnapshotRequest{}, Refused(fmt.Errorf("%s without data: name the tables in data-collections", typ))
	}
	r := SnapshotRequest{Kind: strings.ToLower(d.Type)}
	switch r.Kind {
	case "":
		r.Kind = SnapshotKindIncremental
	case SnapshotKindIncremental, SnapshotKindBlocking:
	default:
		return r, Refused(fmt.Errorf("%s of type %q: want incremental or blocking", typ, d.Type))
	}
	// Tables and conditions stay as written: each source reads a name
	// with its own syntax, and a name it cannot read is refused, not
	// guessed at.
	r.Tables = d.DataCollections
	if typ == SignalExecuteSnapshot && len(r.Tables) == 0 {
		return r, Refused(fmt.Errorf("%s names no data-collections", typ))
	}
	for _, c := range d.AdditionalConditions {
		if r.Conditions == nil {
			r.Conditions = map[string]string{}
		}
		r.Conditions[c.DataCollection] = c.Filter
	}
	if d.AdditionalCondition != "" {
		for _, t := range r.Tables {
			if r.Conditions == nil {
				r.Conditions = map[string]string{}
			}
			if _, ok := r.Conditions[t]; !ok {
				r.Conditions[t] = d.AdditionalCondition
			}
		}
	}
	return r, nil
}

// SnapshotSignalData is ParseSnapshotRequest's inverse: the data of an
// execute-snapshot of tables, each with filter when it is not empty.
func SnapshotSignalData(kind string, tables []string, filter string) string {
	var d snapshotData
	d.Type = kind
	d.DataCollections = tables
	if filter != "" {
		for _, t := range tables {
			d.AdditionalConditions = append(d.AdditionalConditions, struct {
				DataCollection string `json:"data-collection"`
				Filter         string `json:"filter"`
			}{t, filter})
		}
	}
	b, _ := json.Marshal(d) // strings only: cannot fail
	return string(b)
}

// ParseLogMessage reads a log signal's data ({"message": "…"}).
func ParseLogMessage(data string) (string, error) {
	var d struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return "", Refused(fmt.Errorf("log data is not JSON: %w", err))
	}
	if d.Message == "" {
		return "", Refused(errors.New("log signal without a message"))
	}
	return d.Message, nil
}

// SignalCounter counts a pipeline's signals by channel, type and result
// ("accepted" or "refused"), for /metrics. A signal of an unknown type is
// counted under type "unknown" so that the label keeps a few values.
type SignalCounter struct {
	mu     sync.Mutex
	counts map[SignalCount]int64
}

// SignalCount is one SignalCounter series.
type SignalCount struct {
	Channel, Type, Result string
}

// Count records one signal; err nil means accepted.
func (c *SignalCounter) Count(channel, typ string, err error) {
	if c == nil {
		return
	}
	switch typ {
	case SignalExecuteSnapshot, SignalStopSnapshot, SignalPauseSnapshot, SignalResumeSnapshot, SignalLog:
	default:
		typ = "unknown"
	}
	res := "accepted"
	if err != nil {
		res = "refused"
	}
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[SignalCount]int64{}
	}
	c.counts[SignalCount{channel, typ, res}]++
	c.mu.Unlock()
}

// Counts returns a copy of the counts.
func (c *SignalCounter) Counts() map[SignalCount]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[SignalCount]int64, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// ParseSignal reads a signal record (a Kafka signal record's value, the
// admin endpoint's body): {"id": …, "type": …, "data": …}
// where data is a JSON object (as Debezium's Kafka channel writes it) or
// a string holding one (as its signal table column does). A record that
// does not parse is refused (ErrRefused); the type it names, if
// any, is returned for counting.
func ParseSignal(value []byte) (Signal, error) {
	var rec struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(value, &rec); err != nil {
		return Signal{}, Refused(fmt.Errorf("not a signal record (JSON with id, type and data): %w", err))
	}
	s := Signal{ID: rec.ID, Type: rec.Type}
	if strings.TrimSpace(rec.Type) == "" {
		return s, Refused(errors.New("signal without a type"))
	}
	data := bytes.TrimSpace(rec.Data)
	switch {
	case len(data) == 0 || bytes.Equal(data, []byte("null")):
	case data[0] == '"':
		if err := json.Unmarshal(data, &s.Data); err != nil {
			return s, Refused(fmt.Errorf("signal data: %w", err))
		}
	case data[0] == '{':
		var buf bytes.Buffer
		if err := json.Compact(&buf, data); err != nil {
			return s, Refused(fmt.Errorf("signal data: %w", err))
		}
		s.Data = buf.String()
	default:
		return s, Refused(fmt.Errorf("signal data must be a JSON object or a string holding one, not %.40s", data))
	}
	return s, nil
}

// EncodeSignal is Parse's inverse, with data written as an object when it is
// one (what Debezium's tooling expects on the topic).
func EncodeSignal(s Signal) []byte {
	rec := struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Data json.RawMessage `json:"data,omitempty"`
	}{ID: s.ID, Type: s.Type}
	if d := strings.TrimSpace(s.Data); d != "" {
		if json.Valid([]byte(d)) && strings.HasPrefix(d, "{") {
			rec.Data = json.RawMessage(d)
		} else {
			b, _ := json.Marshal(d) // a string: cannot fail
			rec.Data = b
		}
	}
	b, _ := json.Marshal(rec) // strings and valid JSON only: cannot fail
	return b
}

// NewSignalID is the id of a signal sent without one: "sluice-" and 16
// random hex digits.
func NewSignalID() string {
	var b [8]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return "sluice-" + hex.EncodeToString(b[:])
}
