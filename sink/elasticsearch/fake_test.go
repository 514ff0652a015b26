package elasticsearch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
)

// fakeES is a hand-written stand-in for the few Elasticsearch APIs the
// sink uses, for unit tests of its logic (retries, ordering, dead
// letters). It keeps documents with external_gte versioning semantics.
// The function fields inject failures.
type fakeES struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	docs    map[string]fakeDoc // "index/id"
	indices map[string]bool
	bulks   [][]fakeAction // every bulk request received, in order
	mgets   int

	// reject, when set, answers a whole request (before any processing)
	// with the returned status when it is not 0.
	reject func(r *http.Request, bulkNo int) int
	// item, when set, overrides the result of one bulk action (status,
	// error type) when the status is not 0. bulkNo counts bulk requests
	// from 0.
	item func(bulkNo int, a fakeAction) (int, string)
	// hold, when set, is received from before a bulk request is answered.
	hold chan struct{}
	// inBulk and maxInBulk count concurrent bulk requests.
	inBulk, maxInBulk int
	// auth records the Authorization header of every request.
	auth []string
}

type fakeDoc struct {
	version uint64
	source  json.RawMessage
}

type fakeAction struct {
	action, index, id string
	version           uint64
	source            string
}

func newFakeES(t *testing.T) *fakeES {
	f := &fakeES{t: t, docs: map[string]fakeDoc{}, indices: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// newFakeESTLS is newFakeES over https with a self-signed certificate.
func newFakeESTLS(t *testing.T) *fakeES {
	f := &fakeES{t: t, docs: map[string]fakeDoc{}, indices: map[string]bool{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeES) bulkCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bulks)
}

func (f *fakeES) doc(index, id string) (fakeDoc, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.docs[index+"/"+id]
	return d, ok
}

func (f *fakeES) put(index, id string, version uint64, source string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.indices[index] = true
	f.docs[index+"/"+id] = fakeDoc{version: version, source: json.RawMessage(source)}
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	bulkNo := len(f.bulks)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	if f.reject != nil {
		if status := f.reject(r, bulkNo); status != 0 {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"type":"injected","reason":"injected %d"},"status":%d}`, status, status)
			return
		}
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case r.URL.Path == "/_bulk":
		f.bulk(w, body)
	case r.URL.Path == "/_mget":
		f.mget(w, body)
	case strings.HasSuffix(path, "/_mapping") && r.Method == "GET":
		fmt.Fprintf(w, `{%q:{"mappings":{"properties":{}}}}`, strings.TrimSuffix(path, "/_mapping"))
	case strings.HasSuffix(path, "/_mapping"):
		fmt.Fprint(w, `{"acknowledged":true}`)
	case r.Method == "HEAD":
		f.mu.Lock()
		ok := f.indices[path]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(404)
		}
	case r.Method == "PUT" && !strings.Contains(path, "/"):
		f.mu.Lock()
		f.indices[path] = true
		f.mu.Unlock()
		fmt.Fprint(w, `{"acknowledged":true}`)
	default:
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":{"type":"fake","reason":"fake ES does not know %s %s"}}`, r.Method, r.URL.Path)
	}
}

func (f *fakeES) mget(w http.ResponseWriter, body []byte) {
	var req struct {
		Docs []mgetDoc `json:"docs"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		f.t.Errorf("mget body: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mgets++
	var out []map[string]any
	for _, d := range req.Docs {
		doc, ok := f.docs[d.Index+"/"+d.ID]
		m := map[string]any{"_index": d.Index, "_id": d.ID, "found": ok}
		if ok {
			m["_version"] = doc.version
			m["_source"] = doc.source
		}
		out = append(out, m)
	}
	json.NewEncoder(w).Encode(map[string]any{"docs": out})
}

func (f *fakeES) bulk(w http.ResponseWriter, body []byte) {
	var actions []fakeAction
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var line map[string]struct {
			Index       string `json:"_index"`
			ID          string `json:"_id"`
			Version     uint64 `json:"version"`
			VersionType string `json:"version_type"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			f.t.Errorf("bulk action line %q: %v", sc.Bytes(), err)
			return
		}
		for name, a := range line {
			fa := fakeAction{action: name, index: a.Index, id: a.ID, version: a.Version}
			if name == "index" {
				sc.Scan()
				fa.source = sc.Text()
			}
			actions = append(actions, fa)
		}
	}
	// Requests that only write the sink's state (high-water marks) are
	// applied at once and not logged, held or failed by f.item.
	stateOnly := true
	for _, a := range actions {
		stateOnly = stateOnly && a.index == "sluice-state"
	}
	f.mu.Lock()
	bulkNo := len(f.bulks)
	if !stateOnly {
		f.bulks = append(f.bulks, actions)
		f.inBulk++
		f.maxInBulk = max(f.maxInBulk, f.inBulk)
	}
	f.mu.Unlock()
	if f.hold != nil && !stateOnly {
		<-f.hold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !stateOnly {
		f.inBulk--
	}
	var items []map[string]any
	for _, a := range actions {
		status, errType := 0, ""
		if f.item != nil && !stateOnly {
			status, errType = f.item(bulkNo, a)
		}
		if status == 0 {
			status, errType = f.apply(a)
		}
		it := map[string]any{"status": status}
		if errType != "" {
			it["error"] = map[string]any{"type": errType, "reason": "fake " + errType}
		}
		items = append(items, map[string]any{a.action: it})
	}
	json.NewEncoder(w).Encode(map[string]any{"items": items})
}

// apply executes an action with external_gte versioning.
func (f *fakeES) apply(a fakeAction) (int, string) {
	key := a.index + "/" + a.id
	cur, ok := f.docs[key]
	if ok && cur.version > a.version {
		return 409, "version_conflict_engine_exception"
	}
	switch a.action {
	case "index":
		f.docs[key] = fakeDoc{version: a.version, source: json.RawMessage(a.source)}
		return 201, ""
	case "delete":
		if !ok {
			return 404, ""
		}
		delete(f.docs, key)
		return 200, ""
	}
	return 400, "unknown_action"
}

// sink builds a sink against the fake and opens it.
func (f *fakeES) sink(raw map[string]any) *Sink {
	f.t.Helper()
	s := buildSink(f.t, "unit", zap.ErrorLevel, map[string]any{
		"urls": []any{f.srv.URL}, "index": "{table}",
		"bulk":                  map[string]any{"flush_interval": "10ms"},
		"retry":                 map[string]any{"initial_backoff": "5ms", "max_backoff": "20ms"},
		"health_check_interval": "10ms",
	}, raw)
	if err := s.Open(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	return s
}
