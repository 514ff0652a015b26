package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	es8 "github.com/elastic/go-elasticsearch/v8"
	"go.uber.org/zap"
)

// FuzzBulkResponse answers a bulk request with a fuzzed HTTP status and
// body, through the real client (go-elasticsearch over a fake transport),
// and settles the request's ops with the items as the sink does
// (bulk, then settle). It never panics; a whole-request failure or a body
// that is not a bulk response of exactly the request's N items (not JSON,
// another count, a status that is not an integer) is an error, never a
// silent success; and every op of an accepted response gets exactly one
// outcome (done, stale, dead letter or failed, or retried), the one its
// items' statuses call for (classify's table, spelled out in fzOutcome):
// a delete by its tombstone action first, then its delete action.
func FuzzBulkResponse(f *testing.F) {
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":201}}]}`), []byte{0})
	// The canonical form parseBulkItems reads without encoding/json.
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":200}},{"index":{"status":404}},{"delete":{"status":404}},{"index":{"status":429}}]}`), []byte{0, 1, 0})
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":201}},{"index":{"status":409}},{"delete":{"status":503}}]}`), []byte{0, 1})
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":201}},{"delete":{"status":404}}]}`), []byte{1})
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"x"}}},{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad","caused_by":{"type":"illegal_argument_exception","reason":"y"}}}},{"delete":{"status":429}},{"index":{"status":503}}]}`), []byte{0, 1, 0})
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":403,"error":{"type":"security_exception"}}},{"index":{"status":404,"error":{"type":"index_not_found_exception"}}},{"index":{"status":400,"error":{"type":"cluster_block_exception"}}}]}`), []byte{0, 0, 0})
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":201}}`), []byte{0})
	f.Add(uint16(200), []byte(`{"items":[]}`), []byte{0})
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":201}},{"index":{"status":201}}]}`), []byte{0})
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":"201"}}]}`), []byte{0})
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":2.01e2}}]}`), []byte{0})
	f.Add(uint16(200), []byte(`{"items":[{}]}`), []byte{0})
	f.Add(uint16(200), []byte(`{"items":[{"index":{}}]}`), []byte{0})
	f.Add(uint16(200), []byte(`{"items":[{"index":{"status":201},"delete":{"status":500}}]}`), []byte{0})
	f.Add(uint16(200), []byte(`{"ITEMS":[{"Index":{"STATUS":201}}]} `), []byte{0})
	f.Add(uint16(200), []byte(`null`), []byte{0})
	f.Add(uint16(200), []byte(``), []byte{0})
	f.Add(uint16(413), []byte(`{"error":{"type":"content_too_long_exception","reason":"too long"},"status":413}`), []byte{0})
	f.Add(uint16(500), []byte(`<html>busy</html>`), []byte{1})
	f.Add(uint16(299), []byte("{\"items\":[{\"index\":{\"status\":201,\"error\":{\"type\":\"\xff\"}}}]}"), []byte{0})
	cl := fzClient(f)
	f.Fuzz(func(t *testing.T, status uint16, body []byte, kinds []byte) {
		code := 100 + int(status)%500
		if len(kinds) == 0 || len(kinds) > 32 {
			return
		}
		ops := make([]*op, len(kinds))
		var req []byte
		n := 0
		for i, k := range kinds {
			ops[i] = &op{del: k&1 != 0, index: "idx", id: strconv.Itoa(i), ref: "idx\x00" + strconv.Itoa(i), pos: pos{lsn: uint64(i + 1)}, src: []byte(`{"a":1}`)}
			var m int
			req, m = appendOp(req, "state", ops[i])
			n += m
		}
		s := &Sink{log: zap.NewNop()}
		ctx := context.WithValue(context.Background(), fzAnswerKey{}, fzAnswer{code, body})
		c := &conn{cl: cl, stateIndex: "state", ctx: ctx}
		items, err := s.bulk(ctx, c, req, n)

		want, wantErr := fzItems(body, n)
		switch {
		case code < 200 || code > 299:
			var se *statusError
			if !errors.As(err, &se) || se.status != code {
				t.Fatalf("HTTP %d %q: got %v, want the request's status error", code, body, err)
			}
			_ = se.Error()
			_ = transient(err)
			return
		case wantErr != "" && err == nil:
			t.Fatalf("HTTP %d %q: accepted %d items for %d actions, but %s", code, body, len(items), n, wantErr)
		case wantErr == "" && err != nil:
			t.Fatalf("HTTP %d %q: refused a well-formed response of %d items: %v", code, body, n, err)
		case err != nil:
			return
		}
		if len(items) != n {
			t.Fatalf("%q: %d items for %d actions", body, len(items), n)
		}
		retry := map[*op]bool{}
		var lastErr error
		s.settle(ops, items, retry, &lastErr)
		i := 0
		for _, o := range ops {
			done := o.state != opPending
			if done == retry[o] {
				t.Fatalf("%q: op %s (delete %v) settled %v and retried %v: want exactly one outcome", body, o.id, o.del, done, retry[o])
			}
			if retry[o] && lastErr == nil {
				t.Fatalf("%q: op %s retried without an error to report", body, o.id)
			}
			// The outcomes the op's items call for (an item of several
			// action keys is not Elasticsearch's; any of them is allowed).
			allowed := map[outcome]bool{}
			if o.del {
				for _, tomb := range want[i] {
					switch fzOutcome(tomb, false) {
					case outOK, outStale:
						for _, main := range want[i+1] {
							allowed[fzOutcome(main, true)] = true
						}
					case outRetry:
						allowed[outRetry] = true
					default:
						allowed[outFatal] = true // the event fails
					}
				}
				i += 2
			} else {
				for _, main := range want[i] {
					allowed[fzOutcome(main, false)] = true
				}
				i++
			}
			if got := fzOpOutcome(o, retry[o]); !allowed[got] {
				t.Fatalf("%q: op %s (delete %v) ended %d (state %d), items call for %v", body, o.id, o.del, got, o.state, allowed)
			}
		}
	})
}

// fzOpOutcome maps an op's final state to the outcome that leads to it.
func fzOpOutcome(o *op, retried bool) outcome {
	switch {
	case retried:
		return outRetry
	case o.state == opDone:
		return outOK
	case o.state == opStale:
		return outStale
	case o.state == opDead:
		return outDeadLetter
	}
	return outFatal
}

// fzItem is one action's result in a bulk response.
type fzItem struct {
	status int
	err    *esError
}

// fzItems decodes a bulk response independently of the sink: the results
// each of its n items holds (one per action key; none for an empty item),
// or why it is not a bulk response of n items (then the sink must refuse
// it).
func fzItems(body []byte, n int) ([][]fzItem, string) {
	if !json.Valid(body) {
		return nil, "the body is not JSON"
	}
	var r struct {
		Items []map[string]struct {
			Status json.RawMessage `json:"status"`
			Error  *esError        `json:"error"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, "it is not a bulk response: " + err.Error()
	}
	if len(r.Items) != n {
		return nil, fmt.Sprintf("it has %d items", len(r.Items))
	}
	out := make([][]fzItem, n)
	for i, m := range r.Items {
		if len(m) == 0 {
			out[i] = []fzItem{{}} // no status: never a success
		}
		for _, it := range m {
			status := 0
			if len(it.Status) > 0 && string(it.Status) != "null" {
				v, err := strconv.ParseInt(string(it.Status), 10, 0)
				if err != nil {
					return nil, "a status is not an integer: " + string(it.Status)
				}
				status = int(v)
			}
			out[i] = append(out[i], fzItem{status, it.Error})
		}
	}
	return out, ""
}

// fzOutcome is classify's documented table (errors.go) for one item; del
// is true for the delete action of a delete (not its tombstone).
func fzOutcome(it fzItem, del bool) outcome {
	typ := ""
	if it.err != nil {
		typ = it.err.Type
	}
	switch {
	case it.status >= 200 && it.status <= 299:
		return outOK
	case it.status == 404 && del && it.err == nil:
		return outOK // already gone
	case it.status == 409 || typ == "version_conflict_engine_exception":
		return outStale
	case it.status == 429 || it.status >= 500 || typ == "cluster_block_exception":
		return outRetry
	case it.status == 401 || it.status == 403 || typ == "security_exception" || typ == "index_not_found_exception":
		return outFatal
	}
	return outDeadLetter
}

// The fake transport answers every request with the fzAnswer in its
// context.
type (
	fzAnswerKey struct{}
	fzAnswer    struct {
		status int
		body   []byte
	}
	fzTransport struct{}
)

func (fzTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	a, _ := req.Context().Value(fzAnswerKey{}).(fzAnswer)
	h := http.Header{}
	h.Set("X-Elastic-Product", "Elasticsearch") // go-elasticsearch checks it
	h.Set("Content-Type", "application/json")
	return &http.Response{StatusCode: a.status, Status: strconv.Itoa(a.status), Header: h, Body: io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
}

// fzClient is the sink's client over the fake transport.
func fzClient(tb testing.TB) *client {
	es, err := es8.NewClient(es8.Config{Addresses: []string{"http://fuzz.invalid:9200"}, Transport: fzTransport{}, DisableRetry: true})
	if err != nil {
		tb.Fatal(err)
	}
	return &client{es: es, timeout: time.Minute}
}
