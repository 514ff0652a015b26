package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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

// esTest is one integration scenario against the real Elasticsearch:
// indices named after the test (removed at the end), its own state index.
type esTest struct {
	t      testing.TB
	url    string
	prefix string // every index of the test starts with it
	state  string // the test's state index
}

func newESTest(t testing.TB) *esTest {
	t.Helper()
	e := &esTest{t: t, url: strings.TrimRight(testenv.Get(t, "SLUICE_TEST_ES_URL"), "/")}
	name := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(t.Name(), ""))
	e.prefix = fmt.Sprintf("sluicetest-%s-%d", name, time.Now().UnixNano()%1000000)
	e.state = e.prefix + "-state"
	t.Cleanup(e.cleanup)
	return e
}

// cleanup deletes the test's indices by name (wildcard deletes are
// refused by default in 8.x).
func (e *esTest) cleanup() {
	status, body := e.do("GET", "/_cat/indices/"+e.prefix+"*?h=index&expand_wildcards=all", nil)
	if status != 200 {
		return
	}
	names := strings.Fields(string(body))
	if len(names) > 0 {
		e.do("DELETE", "/"+strings.Join(names, ","), nil)
	}
}

// do sends a request; body is marshalled unless it is a string or []byte.
func (e *esTest) do(method, path string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

// must is do that fails the test on a non-2xx status.
func (e *esTest) must(method, path string, body any) []byte {
	e.t.Helper()
	status, data := e.do(method, path, body)
	if status < 200 || status > 299 {
		e.t.Fatalf("%s %s: HTTP %d: %s", method, path, status, data)
	}
	return data
}

// index is the name of the test's index for a table.
func (e *esTest) index(table string) string { return e.prefix + "-" + table }

// sink builds a sink for the test: its index template and state index,
// a short flush interval, plus raw's keys.
func (e *esTest) sink(raw map[string]any) *Sink {
	e.t.Helper()
	return buildSink(e.t, "it", zap.WarnLevel, map[string]any{
		"urls":        []any{e.url},
		"index":       e.prefix + "-{table}",
		"state_index": e.state,
		"bulk":        map[string]any{"flush_interval": "20ms"},
		"retry":       map[string]any{"initial_backoff": "50ms", "max_backoff": "1s"},
	}, raw)
}

// buildSink builds a sink of pipeline (also the encoder's logical server
// name) from cfg with raw's keys set over it, logging at level and above.
func buildSink(t testing.TB, pipeline string, level zapcore.Level, cfg, raw map[string]any) *Sink {
	t.Helper()
	for k, v := range raw {
		cfg[k] = v
	}
	enc, err := codec.New(codec.Options{Name: pipeline, Connector: "postgresql", DB: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sink.Build(New, cfg, sink.Env{Pipeline: pipeline, Path: "pipelines." + pipeline + ".sinks.es", Encoder: enc,
		Logger: zaptest.NewLogger(t, zaptest.Level(level))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// docs returns every document of an index by id, after a refresh (a
// scroll, so any number).
func (e *esTest) docs(index string) map[string]map[string]any {
	e.t.Helper()
	e.must("POST", "/"+index+"/_refresh", nil)
	data := e.must("POST", "/"+index+"/_search?scroll=1m", `{"size":5000,"sort":["_doc"],"query":{"match_all":{}}}`)
	out := map[string]map[string]any{}
	for {
		var r struct {
			ScrollID string `json:"_scroll_id"`
			Hits     struct {
				Hits []struct {
					ID     string         `json:"_id"`
					Source map[string]any `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&r); err != nil {
			e.t.Fatal(err)
		}
		if len(r.Hits.Hits) == 0 {
			e.do("DELETE", "/_search/scroll", map[string]string{"scroll_id": r.ScrollID})
			return out
		}
		for _, h := range r.Hits.Hits {
			out[h.ID] = h.Source
		}
		data = e.must("POST", "/_search/scroll", map[string]string{"scroll": "1m", "scroll_id": r.ScrollID})
	}
}

// rawDoc returns a document's _source bytes and _version.
func (e *esTest) rawDoc(index, id string) (json.RawMessage, int64, bool) {
	e.t.Helper()
	status, data := e.do("GET", "/"+index+"/_doc/"+id, nil)
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
