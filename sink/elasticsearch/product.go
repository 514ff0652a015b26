package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/sluice-cdc/sluice"
)

// productCheckMessage starts the error go-elasticsearch returns (its
// constant is unexported) for a 2xx answer without the header
// X-Elastic-Product: Elasticsearch. It returns it for every request until
// one passes, so retrying cannot help: OpenSearch never sends the header.
const productCheckMessage = "the client noticed that the server is not Elasticsearch"

func isProductCheckError(err error) bool {
	return err != nil && strings.Contains(err.Error(), productCheckMessage)
}

// notElasticsearch turns a failed product check into a permanent error
// that says what the server is and what to do. It asks the first node
// (GET /, beside the client library, which would refuse the answer) for
// its distribution.
func (c *client) notElasticsearch(ctx context.Context, cause error) error {
	where := "the server"
	if len(c.urls) > 0 {
		where = redactURLs(c.urls[:1])[0]
	}
	if dist, version := c.identify(ctx); strings.EqualFold(dist, "opensearch") {
		return sluice.Permanent(fmt.Errorf("elasticsearch sink: %s is OpenSearch %s: %w: use type: opensearch", where, version, ErrNotElasticsearch))
	}
	return sluice.Permanent(fmt.Errorf("elasticsearch sink: %s: %w (%v); for OpenSearch use type: opensearch", where, ErrNotElasticsearch, cause))
}

// identify returns the distribution and version a node reports at GET /
// ("" when it cannot tell; Elasticsearch reports no distribution).
func (c *client) identify(ctx context.Context) (dist, version string) {
	if len(c.urls) == 0 || c.tr == nil {
		return "", ""
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(c.urls[0], "/")+"/", nil)
	if err != nil {
		return "", ""
	}
	res, err := (&http.Client{Transport: c.tr}).Do(req)
	if err != nil {
		return "", ""
	}
	defer res.Body.Close()
	var info struct {
		Version struct {
			Distribution string `json:"distribution"`
			Number       string `json:"number"`
		} `json:"version"`
	}
	if json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&info) != nil {
		return "", ""
	}
	return info.Version.Distribution, info.Version.Number
}
