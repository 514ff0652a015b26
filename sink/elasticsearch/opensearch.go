package elasticsearch

import (
	"context"
	"fmt"
	"net/http"

	es8 "github.com/elastic/go-elasticsearch/v8"
	opensearch "github.com/opensearch-project/opensearch-go/v4"

	"github.com/sluice-cdc/sluice/sink"
)

// OpenSearch is the same sink under type: opensearch. OpenSearch 2.x
// speaks the same document, bulk, versioning and index APIs the sink
// uses (it forked from Elasticsearch 7.10), so only the client library
// differs: go-elasticsearch refuses any server that does not send
// Elasticsearch's X-Elastic-Product header, and opensearch-go brings
// what OpenSearch users need instead (AWS SigV4 for Amazon OpenSearch
// Service). Everything from the document to the never-backwards
// guarantees is shared.
func init() { sink.Register(TypeOpenSearch, NewOpenSearch, Config{}) }

// Sink types.
const (
	TypeElasticsearch = "elasticsearch"
	TypeOpenSearch    = "opensearch"
)

// NewOpenSearch builds an opensearch sink; see New.
func NewOpenSearch(cfg Config, env sink.Env) (*Sink, error) {
	return newSink(cfg, env, TypeOpenSearch)
}

// cluster is what the sink needs of a client library: send one request
// to one of the configured nodes (with authentication, compression and
// node selection), and release its connections. *es8.Client is one.
type cluster interface {
	Perform(*http.Request) (*http.Response, error)
	Close(context.Context) error
}

var (
	_ cluster = (*es8.Client)(nil)
	_ cluster = osCluster{}
)

// osCluster adapts opensearch-go's client.
type osCluster struct{ *opensearch.Client }

func (c osCluster) Close(context.Context) error { return c.Client.Close() }

// Perform sends req through Stream, which hands over the body unread
// (Perform, deprecated, would buffer it once more). Stream may return a
// response together with an error; the error wins, as in go-elasticsearch.
func (c osCluster) Perform(req *http.Request) (*http.Response, error) {
	res, err := c.Client.Stream(req)
	if err != nil {
		if res != nil && res.Body != nil {
			res.Body.Close()
		}
		return nil, err
	}
	return res, nil
}

// newOpenSearchCluster builds the opensearch-go client over tr. Its own
// retries, node discovery and health checks are off: the sink retries
// itself without reordering changes of one document, and probes the
// cluster itself for Ready.
func newOpenSearchCluster(cfg *Config, tr http.RoundTripper) (cluster, error) {
	if cfg.AWSSigV4.enabled() {
		tr = newSigV4Transport(&cfg.AWSSigV4, tr)
	}
	discover := false
	oc, err := opensearch.NewClient(opensearch.Config{
		Addresses:             cfg.URLs,
		Username:              cfg.Username,
		Password:              string(cfg.Password),
		Transport:             tr,
		DisableRetry:          true,
		CompressRequestBody:   cfg.Compression,
		DiscoverNodesOnStart:  &discover,
		HealthCheckMaxRetries: -1,
		MaxRetryClusterHealth: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("opensearch sink: client: %w", err)
	}
	return osCluster{oc}, nil
}
