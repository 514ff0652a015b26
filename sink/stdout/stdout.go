// Package stdout is the sink for seeing what a pipeline produces without a
// broker: it prints every event as one JSON object per line, holding the
// topic, key, value and headers the kafka sink would produce for it, so a
// pipeline can be tried out, or piped into jq, before Kafka is involved.
//
// Line format (one line per event, keys in this order):
//
//	{"topic":"shop.public.orders",
//	 "key":{"id":1},                  // the record key as JSON; null when the event has none
//	 "value":{"before":…,"after":…},  // the Debezium envelope, as JSON
//	 "headers":{"sluice.event.id":"0/16E90A0:1", // always, a JSON string
//	            "sluice.unchanged":["note"],     // when columns were not sent, a JSON array
//	            "__debezium.newkey":{"id":5}}}   // on the halves of a key change, JSON (oldkey on the create)
//
// Header values that are JSON documents (unchanged columns, old/new keys)
// are embedded as JSON, the event id as a string. Unlike the kafka sink,
// no tombstone line follows a delete: the delete line already says "op":"d".
// With pretty: true the same object is indented over several lines.
//
// Each event is written with a single Write call on the writer (no
// buffering across events) and acknowledged once that call returns: nil
// means the line reached the file descriptor.
package stdout

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/sink"
)

func init() { sink.Register("stdout", New, Config{}) }

// Config is the YAML configuration of a stdout sink. See
// testdata/example.yaml.
type Config struct {
	// Type is the sink type, "stdout"; read by the runner, otherwise ignored.
	Type string `yaml:"type"`
	// Topic is the topic template shown for table events, as in the kafka
	// sink. Default "{prefix}.{schema}.{table}" (Debezium's topic names).
	Topic string `yaml:"topic"`
	// MessageTopic is the topic template shown for logical messages, as in
	// the kafka sink. Default "{prefix}.message".
	MessageTopic string `yaml:"message_topic"`
	// Pretty indents each object over several lines instead of one line
	// per event. Default false.
	Pretty bool `yaml:"pretty"`
}

// Sink prints events as JSON lines.
type Sink struct {
	// Writer receives the output; os.Stdout when nil. Set it before the
	// first Write (tests use a bytes.Buffer).
	Writer io.Writer

	cfg    Config
	enc    *codec.Encoder
	router *sink.Router

	mu     sync.Mutex // Write and Close may come from different goroutines
	buf    []byte     // the line being built, reused
	pretty bytes.Buffer

	bytes, writeErrs atomic.Int64 // SinkStats (metrics.go)
}

var _ sluice.Sink = (*Sink)(nil)

// Defaults returns the stdout sink's defaults (config.Defaulter).
func (Config) Defaults() Config {
	return Config{Topic: sink.DefaultTopic, MessageTopic: sink.DefaultMessageTopic}
}

// New builds a stdout sink from its decoded configuration (defaults filled
// in); it does no I/O. Callers may set Writer before the first Write.
func New(cfg Config, env sink.Env) (*Sink, error) {
	if env.Encoder == nil {
		return nil, fmt.Errorf("%s: stdout sink: no encoder (runner bug)", env.Path)
	}
	router, err := sink.NewRouter(env.Path, cfg.Topic, cfg.MessageTopic, env.Encoder.Options())
	if err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg, enc: env.Encoder, router: router}, nil
}

// Config returns the sink's configuration with defaults filled in.
func (s *Sink) Config() Config { return s.cfg }

// Open does nothing: standard output is always there.
func (s *Sink) Open(context.Context) error { return nil }

// Close does nothing: every Write has already reached the writer.
func (s *Sink) Close(context.Context) error { return nil }

// Write prints ev and acks it once the line is written: nil on success,
// else the write error (which Write also returns).
func (s *Sink) Write(_ context.Context, ev *sluice.Event, ack func(error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.appendLine(s.buf[:0], ev)
	s.buf = b
	if s.cfg.Pretty {
		s.pretty.Reset()
		if err := json.Indent(&s.pretty, b[:len(b)-1], "", "  "); err == nil {
			s.pretty.WriteByte('\n')
			b = s.pretty.Bytes()
		}
	}
	w := s.Writer
	if w == nil {
		w = os.Stdout
	}
	n, err := w.Write(b)
	s.bytes.Add(int64(n))
	if err != nil {
		s.writeErrs.Add(1)
		err = fmt.Errorf("stdout sink: write: %w", err)
	}
	ack(err)
	return err
}

// appendLine appends ev's JSON object and a newline.
func (s *Sink) appendLine(b []byte, ev *sluice.Event) []byte {
	b = append(b, `{"topic":`...)
	if ev.Topic != "" {
		b = appendString(b, ev.Topic) // a transform's choice (outbox)
	} else {
		b = appendString(b, s.router.Topic(ev))
	}
	b = append(b, `,"key":`...)
	n := len(b)
	b, ok := s.enc.AppendKey(b, ev)
	if !ok {
		b = append(b[:n], "null"...)
	}
	b = append(b, `,"value":`...)
	b = s.enc.AppendValue(b, ev)
	b = append(b, `,"headers":{`...)
	b = appendString(b, codec.EventIDHeader)
	b = append(b, ':')
	b = append(b, '"')
	n = len(b)
	b = codec.AppendEventID(b, ev)
	if needsEscape(b[n:]) { // never for the documented "<lsn>:<order>" form
		id := string(b[n:])
		b = appendString(b[:n-1], id)
	} else {
		b = append(b, '"')
	}
	n = len(b)
	b = append(b, ',')
	b = appendString(b, codec.UnchangedHeader)
	b = append(b, ':')
	b, ok = codec.AppendUnchanged(b, ev)
	if !ok {
		b = b[:n]
	}
	if codec.Outboxed(ev) {
		// The outbox's headers, as the Kafka sink writes them: JSON
		// values, embedded as they are.
		for i := range codec.OutboxHeaders(ev) {
			b = append(b, ',')
			b = appendString(b, codec.OutboxHeaderName(ev, i))
			b = append(b, ':')
			b = s.enc.AppendOutboxHeader(b, ev, i)
		}
		return append(b, "}}\n"...)
	}
	if name := codec.OtherKeyHeader(ev); name != "" {
		b = append(b, ',')
		b = appendString(b, name)
		b = append(b, ':')
		b = s.enc.AppendKeyRow(b, ev.Table, ev.OtherKey)
	}
	return append(b, "}}\n"...)
}

func needsEscape(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' {
			return true
		}
	}
	return false
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
