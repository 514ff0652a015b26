package elasticsearch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
)

// pos is an event's place in the source's commit order: the commit LSN
// of its transaction and its 1-based index in that transaction. Both are
// the same when a stream is replayed.
type pos struct {
	lsn   uint64
	order int64
}

func (a pos) less(b pos) bool {
	return a.lsn < b.lsn || a.lsn == b.lsn && a.order < b.order
}

func (a pos) String() string {
	return strconv.FormatUint(a.lsn, 10) + ":" + strconv.FormatInt(a.order, 10)
}

// maxVersion is the largest external version Elasticsearch accepts.
const maxVersion = math.MaxInt64

// hwmStep is how far ahead of what it is about to send the sink records
// an index's high-water mark, so that the mark is written about once per
// 64 MiB of WAL instead of once per bulk request.
const hwmStep = 64 << 20

// The state index holds three kinds of documents, none of them searched
// by users (the index is hidden):
//
//	t:<sha256(index NUL id)>  tombstone of a deleted document: its position
//	truncate:<index>          the position of the last truncate of the index
//	hwm:<index>               write-ahead high-water mark: no change with a
//	                          larger commit LSN has ever been sent to the index
//	epoch:<index>             the source log (Position.Epoch) the index is
//	                          written from; its positions are comparable
//
// All are written with external versions (the commit LSN), so a replay
// never moves one back.
type stateDoc struct {
	Kind  string `json:"kind"`
	Index string `json:"index"`
	ID    string `json:"id,omitempty"`
	LSN   uint64 `json:"lsn"`
	Order int64  `json:"order,omitempty"`
	Epoch string `json:"epoch,omitempty"`
}

// tombstoneID is the state-index id of index/id's tombstone.
func tombstoneID(index, id string) string {
	// Room to hash index NUL id in, and for the 66 bytes of the result.
	return string(appendTombstoneID(make([]byte, 0, max(len(index)+len(id)+1, 66)), index, id))
}

// appendTombstoneID appends "t:" and the hex SHA-256 of index NUL id. It
// hashes in dst's spare room, so a delete's tombstone allocates nothing
// once the bulk body has grown.
func appendTombstoneID(dst []byte, index, id string) []byte {
	n := len(dst)
	dst = append(dst, index...)
	dst = append(dst, 0)
	dst = append(dst, id...)
	sum := sha256.Sum256(dst[n:])
	dst = append(dst[:n], "t:"...)
	return hex.AppendEncode(dst, sum[:])
}

func truncateID(index string) string { return "truncate:" + index }
func hwmID(index string) string      { return "hwm:" + index }
func epochID(index string) string    { return "epoch:" + index }

// stateIndexBody creates the state index: hidden (wildcard searches and
// Kibana skip it), one shard, a replica when the cluster has a second
// node, and nothing indexed but kind and index.
const stateIndexBody = `{"settings":{"index.hidden":true,"number_of_shards":1,"auto_expand_replicas":"0-1"},` +
	`"mappings":{"dynamic":false,"properties":{"kind":{"type":"keyword"},"index":{"type":"keyword"}}}}`

// ensureStateIndex creates the state index unless it exists.
func (c *conn) ensureStateIndex(ctx context.Context) error {
	path := "/" + url.PathEscape(c.stateIndex)
	status, _, err := c.cl.do(ctx, "HEAD", path, nil)
	if err != nil {
		return err
	}
	switch status {
	case 200:
		return nil
	case 404:
	default:
		return &statusError{op: "HEAD " + path, status: status}
	}
	data, status, err := c.cl.call(ctx, "PUT", path, []byte(stateIndexBody), 400)
	if err != nil {
		return err
	}
	if status == 400 {
		if se := responseError("PUT "+path, status, data); se.err == nil || se.err.Type != "resource_already_exists_exception" {
			return se
		}
	}
	return nil
}

// mgetDoc is one entry of an _mget request.
type mgetDoc struct {
	Index  string `json:"_index"`
	ID     string `json:"_id"`
	Source bool   `json:"_source"`
}

// mgetResult is one entry of an _mget response.
type mgetResult struct {
	Found   bool            `json:"found"`
	Version uint64          `json:"_version"`
	Source  json.RawMessage `json:"_source"`
	Error   *esError        `json:"error"`
}

// mget reads documents (from any indices) in one request. A document of a
// missing index is reported as not found; other per-document failures are
// left in the results' Error for the caller.
func (c *conn) mget(ctx context.Context, docs []mgetDoc) ([]mgetResult, error) {
	body, err := json.Marshal(struct {
		Docs []mgetDoc `json:"docs"`
	}{docs})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch sink: mget: %w", err)
	}
	data, _, err := c.cl.call(ctx, "POST", "/_mget?realtime=true", body)
	if err != nil {
		return nil, err
	}
	var r struct {
		Docs []mgetResult `json:"docs"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("elasticsearch sink: mget: bad response: %w", err)
	}
	if len(r.Docs) != len(docs) {
		return nil, fmt.Errorf("elasticsearch sink: mget: %d results for %d documents", len(r.Docs), len(docs))
	}
	for i := range r.Docs {
		if e := r.Docs[i].Error; e != nil && e.Type == "index_not_found_exception" {
			r.Docs[i].Error = nil
		}
	}
	return r.Docs, nil
}

// stateErrors turns a failed read of a state document (typically an
// unavailable shard) into a retryable error: the sink cannot decide
// without it.
func stateErrors(docs []mgetDoc, res []mgetResult, stateIndex string) error {
	for i, r := range res {
		if r.Error != nil && docs[i].Index == stateIndex {
			return &statusError{op: "read " + stateIndex + "/" + docs[i].ID, status: 503, err: r.Error}
		}
	}
	return nil
}

// readState returns a state document, or ok=false.
func readState(r mgetResult) (stateDoc, bool) {
	if !r.Found {
		return stateDoc{}, false
	}
	var d stateDoc
	if err := json.Unmarshal(r.Source, &d); err != nil {
		return stateDoc{}, false
	}
	return d, true
}

// appendStateAction appends a bulk "index" action writing a state
// document with external version lsn. gte allows the same transaction to
// rewrite it; truncate marks and tombstones of one transaction keep
// their latest position that way.
func appendStateAction(dst []byte, stateIndex, id string, versionType string, d stateDoc) []byte {
	dst = appendJSONString(appendActionHead(dst, "index", stateIndex), id)
	return appendStateDocLine(appendVersion(dst, d.LSN, versionType), d)
}

// appendTombstoneAction is appendStateAction for the tombstone of o,
// with its id appended in place (tombstoneID's characters need no
// escaping).
func appendTombstoneAction(dst []byte, stateIndex string, o *op) []byte {
	dst = append(appendActionHead(dst, "index", stateIndex), '"')
	dst = append(appendTombstoneID(dst, o.index, o.id), '"')
	dst = appendVersion(dst, o.pos.lsn, "external_gte")
	return appendStateDocLine(dst, stateDoc{Kind: "tombstone", Index: o.index, ID: o.id, LSN: o.pos.lsn, Order: o.pos.order})
}

// appendStateDocLine appends d and a newline, a bulk action's document.
func appendStateDocLine(dst []byte, d stateDoc) []byte {
	return append(appendStateDoc(dst, d), '\n')
}

// appendStateDoc appends d as JSON, with stateDoc's field names and
// omitempty fields, as encoding/json would write it (TestAppendStateDoc
// holds the two to the same values) but without reflection, on the
// delete path.
func appendStateDoc(dst []byte, d stateDoc) []byte {
	dst = append(dst, `{"kind":`...)
	dst = appendJSONString(dst, d.Kind)
	dst = append(dst, `,"index":`...)
	dst = appendJSONString(dst, d.Index)
	if d.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = appendJSONString(dst, d.ID)
	}
	dst = append(dst, `,"lsn":`...)
	dst = strconv.AppendUint(dst, d.LSN, 10)
	if d.Order != 0 {
		dst = append(dst, `,"order":`...)
		dst = strconv.AppendInt(dst, d.Order, 10)
	}
	if d.Epoch != "" {
		dst = append(dst, `,"epoch":`...)
		dst = appendJSONString(dst, d.Epoch)
	}
	return append(dst, '}')
}
