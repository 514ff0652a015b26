package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	es8 "github.com/elastic/go-elasticsearch/v8"
)

// client sends raw requests through a client library's transport,
// go-elasticsearch's or opensearch-go's (see cluster), which brings
// connection pooling over several URLs, authentication, gzip and, for
// Elasticsearch, the product check. Its own retries are off: the sink
// retries itself, per bulk item, without reordering changes of one
// document.
type client struct {
	es      cluster
	tr      *http.Transport // closed with the client: its idle connections would outlive it
	timeout time.Duration
	urls    []string // for the diagnosis of a failed product check
}

// newClient builds the client of a sink of type typ; it reads the TLS
// files but does not connect.
func newClient(cfg *Config, typ string) (*client, error) {
	tc, err := cfg.TLS.tlsConfig()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	tr.MaxIdleConnsPerHost = cfg.Bulk.MaxInFlight + 4
	tr.ResponseHeaderTimeout = cfg.RequestTimeout
	tr.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	if typ == TypeOpenSearch {
		oc, err := newOpenSearchCluster(cfg, tr)
		if err != nil {
			return nil, err
		}
		return &client{es: oc, tr: tr, timeout: cfg.RequestTimeout, urls: cfg.URLs}, nil
	}
	ec := es8.Config{
		Addresses:           cfg.URLs,
		Username:            cfg.Username,
		Password:            string(cfg.Password),
		APIKey:              string(cfg.APIKey),
		Transport:           tr,
		DisableRetry:        true,
		CompressRequestBody: cfg.Compression,
		AutoDrainBody:       true,
	}
	es, err := es8.NewClient(ec)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch sink: client: %w", err)
	}
	return &client{es: es, tr: tr, timeout: cfg.RequestTimeout, urls: cfg.URLs}, nil
}

// maxResponse bounds how much of a response body is read (a bulk response
// of a full request with errors is well below it).
const maxResponse = 64 << 20

// do sends one request and returns the status and the body. err is set
// only when no HTTP response arrived (connection refused, timeout, TLS),
// and wraps errUnreachable.
func (c *client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("elasticsearch sink: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		if strings.HasPrefix(path, "/_bulk") {
			req.Header.Set("Content-Type", "application/x-ndjson")
		}
	}
	res, err := c.es.Perform(req)
	if err != nil {
		if isProductCheckError(err) {
			return 0, nil, c.notElasticsearch(ctx, err)
		}
		return 0, nil, &unreachableError{op: method + " " + path, err: err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil {
		return 0, nil, &unreachableError{op: method + " " + path, err: err}
	}
	return res.StatusCode, data, nil
}

// unreachableError is a request that got no complete HTTP response.
type unreachableError struct {
	op  string
	err error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("elasticsearch sink: %s: %v", e.op, e.err)
}
func (e *unreachableError) Unwrap() error { return e.err }

func isUnreachable(err error) bool {
	var u *unreachableError
	return errors.As(err, &u)
}

// responseError extracts the error object of a failed response.
func responseError(op string, status int, body []byte) *statusError {
	var r struct {
		Error *esError `json:"error"`
	}
	_ = json.Unmarshal(body, &r) // a body that is not JSON is quoted instead
	se := &statusError{op: op, status: status, err: r.Error}
	if r.Error == nil {
		se.body = string(body[:min(len(body), 200)])
	}
	return se
}

// call is do for requests whose success is a 2xx status (or one listed in
// ok); any other status becomes a *statusError.
func (c *client) call(ctx context.Context, method, path string, body []byte, ok ...int) ([]byte, int, error) {
	status, data, err := c.do(ctx, method, path, body)
	if err != nil {
		return nil, 0, err
	}
	if status >= 200 && status < 300 {
		return data, status, nil
	}
	for _, s := range ok {
		if status == s {
			return data, status, nil
		}
	}
	return data, status, responseError(method+" "+path, status, data)
}

// transient reports whether a failed call may succeed later.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if isUnreachable(err) {
		return true
	}
	var se *statusError
	if errors.As(err, &se) {
		return classify(se.status, se.err, false) == outRetry
	}
	return false
}

// close releases the client's connections.
func (c *client) close() {
	_ = c.es.Close(context.Background())
	// go-elasticsearch's Close does not touch the transport: without this,
	// every Open/Close (each pipeline restart) would leave its keep-alive
	// connections and their goroutines behind for the idle timeout.
	if c.tr != nil { // nil in tests that build a client by hand
		c.tr.CloseIdleConnections()
	}
}
