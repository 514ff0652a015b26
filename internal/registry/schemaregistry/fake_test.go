package schemaregistry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// fakeBase is where the fake serves the Confluent API, as Apicurio does.
const fakeBase = "/apis/ccompat/v7"

// fakeRegistry speaks enough of the Confluent schema registry API for the
// client: register (POST /subjects/{s}/versions), look up (POST
// /subjects/{s}) and the latest version (GET /subjects/{s}/versions/latest).
// fail, when set, answers every request instead; gate, when set, holds
// every request until it is closed.
type fakeRegistry struct {
	srv *httptest.Server

	mu       sync.Mutex
	requests []string            // "METHOD path", in order
	auth     []string            // Authorization headers, in order
	subjects map[string][]string // subject → schema texts, version i+1 at i
	ids      map[string]int      // schema text → id
	fail     func(w http.ResponseWriter) bool
	gate     chan struct{}
}

func newFake(t *testing.T) *fakeRegistry {
	f := &fakeRegistry{subjects: map[string][]string{}, ids: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a client of the fake with fast retries, closed at the
// end of the test.
func (f *fakeRegistry) client(t *testing.T, cfg Config) *Client {
	t.Helper()
	cfg.URL = f.srv.URL + fakeBase
	if cfg.RetryMin == 0 {
		cfg.RetryMin, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	}
	c, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// failWith makes every request fail: status > 0 answers it with a
// Confluent error body, status 0 drops the connection unanswered.
func (f *fakeRegistry) failWith(status, code int, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = func(w http.ResponseWriter) bool {
		if status == 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return true
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error_code":%d,"message":%q}`, code, msg)
		return true
	}
}

func (f *fakeRegistry) recover() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = nil
}

func (f *fakeRegistry) requestLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	fail, gate := f.fail, f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail != nil && fail(w) {
		return
	}
	path, ok := strings.CutPrefix(r.URL.Path, fakeBase+"/subjects/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	subject, rest, _ := strings.Cut(path, "/")
	var body struct {
		Schema string `json:"schema"`
	}
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	f.mu.Lock()
	defer f.mu.Unlock()
	versions := f.subjects[subject]
	switch {
	case r.Method == http.MethodPost && rest == "versions": // register
		id, known := f.ids[body.Schema]
		if !known {
			id = len(f.ids) + 1
			f.ids[body.Schema] = id
		}
		if !slices.Contains(versions, body.Schema) {
			f.subjects[subject] = append(versions, body.Schema)
		}
		fmt.Fprintf(w, `{"id":%d}`, id)
	case r.Method == http.MethodPost && rest == "": // look up
		for i, s := range versions {
			if s == body.Schema {
				fmt.Fprintf(w, `{"subject":%q,"version":%d,"id":%d,"schema":%q}`, subject, i+1, f.ids[s], s)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error_code":40403,"message":"Schema not found"}`)
	case r.Method == http.MethodGet && rest == "versions/latest":
		if len(versions) == 0 {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error_code":40401,"message":"Subject not found"}`)
			return
		}
		s := versions[len(versions)-1]
		fmt.Fprintf(w, `{"subject":%q,"version":%d,"id":%d,"schema":%q}`, subject, len(versions), f.ids[s], s)
	default:
		http.NotFound(w, r)
	}
}
