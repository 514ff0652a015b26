package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// parseBulkItems reads the items of a bulk response filtered to
// items.*.status and items.*.error; it must hold exactly n.
//
// A response without item errors comes in one canonical form,
// {"items":[{"index":{"status":201}},…]}, which acceptedItems reads
// directly: decoding it with encoding/json into maps cost ~2 µs per
// document, 12% of a PostgreSQL → Elasticsearch run's CPU. Anything else
// (an error, another layout, whitespace) takes encoding/json, so both
// ways read every response the same.
func parseBulkItems(data []byte, n int) ([]bulkItem, error) {
	if items, ok := acceptedItems(data, n); ok {
		return items, nil
	}
	return decodeBulkItems(data, n)
}

// decodeBulkItems reads any bulk response with encoding/json.
func decodeBulkItems(data []byte, n int) ([]bulkItem, error) {
	var r struct {
		Items []map[string]bulkItem `json:"items"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("elasticsearch sink: bulk request: bad response: %w", err)
	}
	if len(r.Items) != n {
		return nil, fmt.Errorf("elasticsearch sink: bulk request: %d items in the response for %d actions", len(r.Items), n)
	}
	items := make([]bulkItem, n)
	for i, m := range r.Items {
		for _, it := range m { // one key: the action name
			items[i] = it
		}
	}
	return items, nil
}

// acceptedItems reads a response of exactly n items of the form
// {"<action>":{"status":<status>}}, with an action name of lower-case
// letters and a status of one to three digits without a leading zero,
// and nothing else, not even whitespace. ok is false for any other body.
func acceptedItems(data []byte, n int) (items []bulkItem, ok bool) {
	p, ok := bytes.CutPrefix(data, []byte(`{"items":[`))
	if !ok || n <= 0 {
		return nil, false
	}
	items = make([]bulkItem, 0, n)
	for {
		if p, ok = bytes.CutPrefix(p, []byte(`{"`)); !ok {
			return nil, false
		}
		name := 0
		for name < len(p) && p[name] >= 'a' && p[name] <= 'z' {
			name++
		}
		if name == 0 {
			return nil, false
		}
		if p, ok = bytes.CutPrefix(p[name:], []byte(`":{"status":`)); !ok {
			return nil, false
		}
		status, digits := 0, 0
		for digits < len(p) && digits < 4 && p[digits] >= '0' && p[digits] <= '9' {
			status = status*10 + int(p[digits]-'0')
			digits++
		}
		if digits == 0 || digits > 3 || p[0] == '0' {
			return nil, false
		}
		if p, ok = bytes.CutPrefix(p[digits:], []byte(`}}`)); !ok || len(items) == n {
			return nil, false
		}
		items = append(items, bulkItem{Status: status})
		if len(p) > 0 && p[0] == ',' {
			p = p[1:]
			continue
		}
		return items, string(p) == "]}" && len(items) == n
	}
}
