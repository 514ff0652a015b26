package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// ES is the test Elasticsearch (SLUICE_TEST_ES_URL) seen through its REST
// API, for end-to-end tests that check what a sink indexed.
type ES struct {
	t   testing.TB
	URL string // without a trailing slash
}

// NewES finds the test Elasticsearch (see Get) and, when the test ends,
// deletes every index whose name starts with prefix (hidden ones
// included; register it before starting what creates the indices). An
// empty prefix deletes nothing.
func NewES(t testing.TB, prefix string) *ES {
	t.Helper()
	return newES(t, "SLUICE_TEST_ES_URL", prefix)
}

// newES is NewES for the server whose URL is in the variable env.
func newES(t testing.TB, env, prefix string) *ES {
	t.Helper()
	e := &ES{t: t, URL: strings.TrimRight(Get(t, env), "/")}
	if prefix != "" {
		t.Cleanup(func() { e.DeleteIndices(prefix) })
	}
	return e
}

// Do sends a request; body is marshalled unless it is a string or []byte.
// A failed connection fails the test.
func (e *ES) Do(method, path string, body any) (int, []byte) {
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
	req, err := http.NewRequest(method, e.URL+path, rd)
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

// Must is Do that fails the test on a status other than 2xx.
func (e *ES) Must(method, path string, body any) []byte {
	e.t.Helper()
	status, data := e.Do(method, path, body)
	if status < 200 || status > 299 {
		e.t.Fatalf("%s %s: HTTP %d: %s", method, path, status, data)
	}
	return data
}

// Exists reports whether the index exists.
func (e *ES) Exists(index string) bool {
	e.t.Helper()
	status, _ := e.Do("HEAD", "/"+url.PathEscape(index), nil)
	return status == http.StatusOK
}

// Docs returns every document of the index by _id, after a refresh (a
// scroll, so any number); numbers are json.Number.
func (e *ES) Docs(index string) map[string]map[string]any {
	e.t.Helper()
	path := "/" + url.PathEscape(index)
	e.Must("POST", path+"/_refresh", nil)
	data := e.Must("POST", path+"/_search?scroll=1m", `{"size":5000,"sort":["_doc"],"query":{"match_all":{}}}`)
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
			e.Do("DELETE", "/_search/scroll", map[string]string{"scroll_id": r.ScrollID})
			return out
		}
		for _, h := range r.Hits.Hits {
			out[h.ID] = h.Source
		}
		data = e.Must("POST", "/_search/scroll", map[string]string{"scroll": "1m", "scroll_id": r.ScrollID})
	}
}

// DeleteIndices deletes every index whose name starts with prefix, hidden
// ones included, by name (wildcard deletes are refused by default).
func (e *ES) DeleteIndices(prefix string) {
	e.t.Helper()
	status, body := e.Do("GET", "/_cat/indices/"+url.PathEscape(prefix)+"*?h=index&expand_wildcards=all", nil)
	if status != http.StatusOK {
		e.t.Errorf("list indices %s*: HTTP %d: %s", prefix, status, body)
		return
	}
	names := strings.Fields(string(body))
	if len(names) == 0 {
		return
	}
	for i, n := range names {
		names[i] = url.PathEscape(n)
	}
	if status, body := e.Do("DELETE", "/"+strings.Join(names, ",")+"?expand_wildcards=all", nil); status != http.StatusOK {
		e.t.Errorf("delete indices %v: HTTP %d: %s", names, status, body)
	}
}
