package main

// The bulk loader of the -kafka-es comparison, and the small Elasticsearch
// client the driver uses around it.
//
// The loader is this program again (`sluice-bench -bulk-loader …`), a
// child process like the daemon, so that its CPU and peak RSS come from
// /proc exactly as sluice's do. It reads the documents the sluice run
// indexed (dumped by the driver), builds every bulk request body in
// memory, says "ready" and waits; the driver samples its CPU, says "go",
// and the loader sends the bodies with the sink's concurrency, then says
// "done <ns>" and waits again until the driver has sampled it once more.
// The preparation is therefore outside both its clock and its CPU figure:
// what is measured is the least work that indexes these documents with
// these request sizes.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loaderDoc is one line pair of the dump file: the document's id and
// external version (the event's position, which the sink writes as the
// version), then its source exactly as the sink sent it.
type loaderDoc struct {
	ID      string `json:"_id"`
	Version uint64 `json:"version"`
}

// bulkLoaderMain is the child process: `-bulk-loader -url U -index I
// -file F -max-actions N -max-bytes B -in-flight K`.
func bulkLoaderMain(args []string) error {
	fs := flag.NewFlagSet("sluice-bench -bulk-loader", flag.ContinueOnError)
	url := fs.String("url", "", "Elasticsearch URL")
	index := fs.String("index", "", "target index (exists, with its mapping)")
	file := fs.String("file", "", "the dump: per document a {_id, version} line and its source line")
	maxActions := fs.Int("max-actions", 1000, "documents per bulk request (the sink's bulk.max_actions)")
	maxBytes := fs.Int("max-bytes", 5<<20, "largest bulk body (the sink's bulk.max_bytes)")
	inFlight := fs.Int("in-flight", 2, "concurrent bulk requests (the sink's bulk.max_in_flight)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	bodies, docs, err := buildBodies(*file, *index, *maxActions, *maxBytes)
	if err != nil {
		return err
	}
	cl := newESClient(*url, *inFlight)
	in := bufio.NewReader(os.Stdin)
	fmt.Printf("ready %d %d\n", docs, len(bodies))
	if line, err := in.ReadString('\n'); err != nil || line != "go\n" {
		return fmt.Errorf("expected go from the driver, got %q (%v)", line, err)
	}
	start := time.Now()
	if err := sendBodies(context.Background(), cl, bodies, *inFlight); err != nil {
		return err
	}
	fmt.Printf("done %d\n", time.Since(start).Nanoseconds())
	_, _ = in.ReadString('\n') // the driver has sampled /proc: exit
	return nil
}

// buildBodies reads the dump and cuts it into NDJSON bulk bodies the way
// the sink batches: a body is sent when it holds maxActions documents or
// the next one would take it past maxBytes. Each action carries the
// external_gte version the sink writes.
func buildBodies(file, index string, maxActions, maxBytes int) ([][]byte, int, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var (
		bodies [][]byte
		cur    []byte
		n, all int
	)
	for sc.Scan() {
		var d loaderDoc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", file, err)
		}
		if !sc.Scan() {
			return nil, 0, fmt.Errorf("%s: document %s without a source line", file, d.ID)
		}
		src := sc.Bytes()
		action := appendIndexAction(nil, index, d.ID, d.Version)
		if n > 0 && (n >= maxActions || len(cur)+len(action)+len(src)+1 > maxBytes) {
			bodies, cur, n = append(bodies, cur), nil, 0
		}
		cur = append(cur, action...)
		cur = append(cur, src...)
		cur = append(cur, '\n')
		n++
		all++
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	if n > 0 {
		bodies = append(bodies, cur)
	}
	return bodies, all, nil
}

// appendIndexAction is the sink's action line (sink/elasticsearch,
// appendAction): index, id, the position as an external_gte version.
func appendIndexAction(dst []byte, index, id string, version uint64) []byte {
	ix, _ := json.Marshal(index)
	i, _ := json.Marshal(id)
	dst = append(dst, `{"index":{"_index":`...)
	dst = append(dst, ix...)
	dst = append(dst, `,"_id":`...)
	dst = append(dst, i...)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendUint(dst, version, 10)
	return append(dst, ",\"version_type\":\"external_gte\"}}\n"...)
}

// sendBodies posts every body to _bulk, inFlight at a time, and fails on
// the first refused request or item: the loader has no retries, so a
// failure means the comparison is void, not slower.
func sendBodies(ctx context.Context, cl *esClient, bodies [][]byte, inFlight int) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range max(inFlight, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				if err := cl.bulk(ctx, bodies[i]); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					next.Store(int64(len(bodies))) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// esClient is the few Elasticsearch calls the comparison needs.
type esClient struct {
	url string
	hc  *http.Client
}

func newESClient(url string, conns int) *esClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(conns, 2)
	return &esClient{url: strings.TrimRight(url, "/"), hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// do sends one request and returns the status and body; statuses other
// than 2xx are errors unless listed in ok.
func (c *esClient) do(ctx context.Context, method, path string, body []byte, ok ...int) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		if strings.HasSuffix(path, "_bulk") {
			req.Header.Set("Content-Type", "application/x-ndjson")
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if resp.StatusCode/100 != 2 {
		for _, s := range ok {
			if s == resp.StatusCode {
				return resp.StatusCode, data, nil
			}
		}
		return resp.StatusCode, data, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, tail(string(data), 500))
	}
	return resp.StatusCode, data, nil
}

// bulk posts one body; the response's items are parsed only when its
// "errors" flag is set (it comes first in Elasticsearch 8's response).
func (c *esClient) bulk(ctx context.Context, body []byte) error {
	_, data, err := c.do(ctx, "POST", "/_bulk", body)
	if err != nil {
		return err
	}
	if bytes.Contains(data[:min(len(data), 64)], []byte(`"errors":false`)) {
		return nil
	}
	var r struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			Error any `json:"error"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("bulk response: %w", err)
	}
	for _, it := range r.Items {
		for _, v := range it {
			if v.Error != nil {
				return fmt.Errorf("bulk item refused: %v", v.Error)
			}
		}
	}
	return nil
}

// count refreshes index and returns its document count.
func (c *esClient) count(ctx context.Context, index string) (int, error) {
	if _, _, err := c.do(ctx, "POST", "/"+index+"/_refresh", nil); err != nil {
		return 0, err
	}
	_, data, err := c.do(ctx, "GET", "/"+index+"/_count", nil)
	if err != nil {
		return 0, err
	}
	var r struct {
		Count int `json:"count"`
	}
	return r.Count, json.Unmarshal(data, &r)
}

// deleteIndex deletes index; a missing one is fine.
func (c *esClient) deleteIndex(ctx context.Context, index string) error {
	_, _, err := c.do(ctx, "DELETE", "/"+index, nil, 404)
	return err
}

// createLike creates index with the mappings of from, the index the sink
// created (its derived mapping) and default settings, as the sink does.
func (c *esClient) createLike(ctx context.Context, index, from string) error {
	_, data, err := c.do(ctx, "GET", "/"+from+"/_mapping", nil)
	if err != nil {
		return err
	}
	var m map[string]struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{"settings": map[string]any{}, "mappings": m[from].Mappings})
	_, _, err = c.do(ctx, "PUT", "/"+index, body)
	return err
}

// dump writes every document of index to w as the loader reads them: a
// {_id, version} line, then the stored source, byte for byte what the
// sink sent. It returns the number of documents and source bytes.
func (c *esClient) dump(ctx context.Context, index string, w io.Writer) (n int, srcBytes int64, err error) {
	bw := bufio.NewWriter(w)
	_, data, err := c.do(ctx, "POST", "/"+index+"/_search?scroll=1m", []byte(`{"size":5000,"version":true,"sort":["_doc"]}`))
	for err == nil {
		var r struct {
			ScrollID string `json:"_scroll_id"`
			Hits     struct {
				Hits []struct {
					ID      string          `json:"_id"`
					Version uint64          `json:"_version"`
					Source  json.RawMessage `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err = json.Unmarshal(data, &r); err != nil {
			break
		}
		if len(r.Hits.Hits) == 0 {
			_, _, _ = c.do(ctx, "DELETE", "/_search/scroll", []byte(`{"scroll_id":`+strconv.Quote(r.ScrollID)+`}`), 404)
			break
		}
		for _, h := range r.Hits.Hits {
			meta, _ := json.Marshal(loaderDoc{ID: h.ID, Version: h.Version})
			bw.Write(meta)
			bw.WriteByte('\n')
			bw.Write(h.Source)
			bw.WriteByte('\n')
			n++
			srcBytes += int64(len(h.Source))
		}
		_, data, err = c.do(ctx, "POST", "/_search/scroll", []byte(`{"scroll":"1m","scroll_id":`+strconv.Quote(r.ScrollID)+`}`))
	}
	if err != nil {
		return n, srcBytes, err
	}
	return n, srcBytes, bw.Flush()
}
