// Package sinktest holds what the tests of every sink build the same
// way: the sink.Env pipeline.Build would pass, and the table test of a
// sink's config. It is apart from eventtest because it imports codec and
// sink, and codec's own tests use eventtest.
package sinktest

import (
	"testing"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

// Env is the sink.Env of a sink at the config key path in pipeline
// "shop": an encoder for the logical server "shopserver" (a PostgreSQL
// source, database shop) and a logger that discards.
func Env(t testing.TB, path string) sink.Env {
	t.Helper()
	enc, err := codec.New(codec.Options{Name: "shopserver", Connector: "postgresql", DB: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	return sink.Env{Pipeline: "shop", Path: path, Encoder: enc, Logger: zap.NewNop()}
}

// ConfigCase is one case of a sink's config table test: a raw block and
// either the errors it must produce or a check of the decoded config.
type ConfigCase[C any] struct {
	Name    string
	Raw     map[string]any
	WantErr []string // substrings the error must all contain; nil: no error
	Check   func(t *testing.T, c C)
}

// RunConfigCases builds a sink at the config key path from each case's
// block the way the registry does (sink.Build over newSink) and checks
// the error, or passes the sink's config to the case's Check.
func RunConfigCases[C any, S interface {
	sluice.Sink
	Config() C
}](t *testing.T, newSink func(C, sink.Env) (S, error), path string, cases []ConfigCase[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			s, err := sink.Build(newSink, tc.Raw, Env(t, path))
			if testenv.WantError(t, err, tc.WantErr) && tc.Check != nil {
				tc.Check(t, s.Config())
			}
		})
	}
}

// Registered checks that a sink type is registered under name and that
// its factory builds one from raw.
func Registered(t *testing.T, name string, raw map[string]any, env sink.Env) {
	t.Helper()
	f, err := sink.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f(raw, env); err != nil {
		t.Fatal(err)
	}
}

// WriteBeforeOpen checks a sink that was built but not opened: Write
// returns errNotOpen and acknowledges ev once, with that error (Sink's
// contract: one ack per Write, even when Write fails), and Close
// succeeds.
func WriteBeforeOpen(t *testing.T, s sluice.Sink, ev *sluice.Event, errNotOpen error) {
	t.Helper()
	var acks []error
	err := s.Write(t.Context(), ev, func(err error) { acks = append(acks, err) })
	if err != errNotOpen || len(acks) != 1 || acks[0] != errNotOpen {
		t.Fatalf("Write before Open = %v, acks %v; want %v once", err, acks, errNotOpen)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatalf("Close before Open: %v", err)
	}
}
