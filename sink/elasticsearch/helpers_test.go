package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

// esTest is one integration scenario against a real server (Elasticsearch
// or OpenSearch, see backend): indices named after the test (removed at
// the end), its own state index. Requests go through the shared
// testenv.ES.
type esTest struct {
	*testenv.ES
	t      testing.TB
	typ    string // the sink type: TypeElasticsearch or TypeOpenSearch
	prefix string // every index of the test starts with it
	state  string // the test's state index
}

// backend is a server the integration tests run against: the sink type
// that talks to it and how a test finds it.
type backend struct {
	typ     string
	connect func(t testing.TB, prefix string) *testenv.ES
}

var backends = []backend{
	{TypeElasticsearch, testenv.NewES},
	{TypeOpenSearch, testenv.NewOpenSearch},
}

// eachBackend runs test once per backend, as subtests named after the
// sink type, so one scenario proves both servers.
func eachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.typ, func(t *testing.T) { test(t, b) })
	}
}

// newESTest is a scenario against Elasticsearch.
func newESTest(t testing.TB) *esTest { return newBackendTest(t, backends[0]) }

func newBackendTest(t testing.TB, b backend) *esTest {
	t.Helper()
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(t.Name(), ""))
	prefix := fmt.Sprintf("sluicetest-%s-%d", name, time.Now().UnixNano()%1000000)
	return &esTest{ES: b.connect(t, prefix), t: t, typ: b.typ, prefix: prefix, state: prefix + "-state"}
}

// index is the name of the test's index for a table.
func (e *esTest) index(table string) string { return e.prefix + "-" + table }

// sink builds a sink for the test: its index template and state index,
// a short flush interval, plus raw's keys.
func (e *esTest) sink(raw map[string]any) *Sink {
	e.t.Helper()
	return buildSink(e.t, "it", zap.WarnLevel, map[string]any{
		"type":        e.typ,
		"urls":        []any{e.URL},
		"index":       e.prefix + "-{table}",
		"state_index": e.state,
		"bulk":        map[string]any{"flush_interval": "20ms"},
		"retry":       map[string]any{"initial_backoff": "50ms", "max_backoff": "1s"},
	}, raw)
}

// buildSink builds a sink of pipeline (also the encoder's logical server
// name) from cfg with raw's keys set over it, logging at level and above;
// of type opensearch when cfg says so.
func buildSink(t testing.TB, pipeline string, level zapcore.Level, cfg, raw map[string]any) *Sink {
	t.Helper()
	for k, v := range raw {
		cfg[k] = v
	}
	enc, err := codec.New(codec.Options{Name: pipeline, Connector: "postgresql", DB: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	ctor := New
	if cfg["type"] == TypeOpenSearch {
		ctor = NewOpenSearch
	}
	s, err := sink.Build(ctor, cfg, sink.Env{Pipeline: pipeline, Path: "pipelines." + pipeline + ".sinks.es", Encoder: enc,
		Logger: zaptest.NewLogger(t, zaptest.Level(level))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawDoc returns a document's _source bytes and _version.
func (e *esTest) rawDoc(index, id string) (json.RawMessage, int64, bool) {
	e.t.Helper()
	status, data := e.Do("GET", "/"+index+"/_doc/"+id, nil)
	if status == 404 {
		return nil, 0, false
	}
	var r struct {
		Version int64           `json:"_version"`
		Source  json.RawMessage `json:"_source"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		e.t.Fatalf("GET %s/%s: %v: %s", index, id, err, data)
	}
	return r.Source, r.Version, true
}

// ackLog records acknowledgements and checks the exactly-once contract.
type ackLog struct {
	mu    sync.Mutex
	calls []int
	errs  []error
	done  chan struct{} // closed when every write is acked
	left  int
}

func newAckLog(n int) *ackLog {
	return &ackLog{calls: make([]int, n), errs: make([]error, n), done: make(chan struct{}), left: n}
}

func (a *ackLog) ack(i int) func(error) {
	return func(err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.calls[i]++
		a.errs[i] = err
		if a.calls[i] == 1 {
			a.left--
			if a.left == 0 {
				close(a.done)
			}
		}
	}
}

// check fails the test unless every event was acked once, with nil.
func (a *ackLog) check(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, n := range a.calls {
		if n != 1 {
			t.Errorf("event %d acked %d times, want once", i, n)
		}
		if a.errs[i] != nil {
			t.Errorf("event %d acked with %v", i, a.errs[i])
		}
	}
}

// writeAll opens s (unless open), writes events, closes s and checks the
// acks.
func writeAll(t *testing.T, s *Sink, events []*sluice.Event) *ackLog {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if s.conn.Load() == nil {
		if err := s.Open(ctx); err != nil {
			t.Fatal(err)
		}
	}
	acks := newAckLog(len(events))
	for i, ev := range events {
		if err := s.Write(ctx, ev, acks.ack(i)); err != nil {
			t.Logf("Write event %d: %v", i, err)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	acks.check(t)
	return acks
}

// jsonEqual compares two JSON documents semantically; numbers compare by
// their text, so 64-bit integers stay exact.
func jsonEqual(a, b []byte) bool {
	var x, y any
	dx, dy := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	dx.UseNumber()
	dy.UseNumber()
	if dx.Decode(&x) != nil || dy.Decode(&y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
