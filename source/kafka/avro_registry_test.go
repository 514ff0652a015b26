package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/registry/schemaregistry"
)

type sharedFake struct {
	*fakeSchemas
	sharedPlans
}

// TestRegistrySchemas: the registry source resolves the schema references
// Apicurio's serializer registers (a fake registry serving the recorded
// subjects) into the self-contained schemas recorded in ids/, retries a
// failing registry, names the id it cannot find, and asks once per id.
func TestRegistrySchemas(t *testing.T) {
	dir := filepath.Join(avroGolden, "postgres")
	var subjects []struct {
		Subject    string            `json:"subject"`
		Version    int               `json:"version"`
		ID         int               `json:"id"`
		References []json.RawMessage `json:"references"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "subjects.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &subjects); err != nil {
		t.Fatal(err)
	}
	byID, byPath := map[string][]byte{}, map[string][]byte{}
	for _, s := range subjects {
		text, err := os.ReadFile(filepath.Join(dir, s.Subject+".avsc"))
		if err != nil {
			t.Fatal(err)
		}
		refs := s.References
		if refs == nil {
			refs = []json.RawMessage{}
		}
		body, _ := json.Marshal(map[string]any{"subject": s.Subject, "version": s.Version, "id": s.ID, "schema": string(text), "references": refs})
		byID[fmt.Sprintf("/schemas/ids/%d", s.ID)] = body
		byPath[fmt.Sprintf("/subjects/%s/versions/%d", s.Subject, s.Version)] = body
	}
	var mu sync.Mutex
	requests, failures := map[string]int{}, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests[r.URL.Path]++
		if failures > 0 {
			failures--
			http.Error(w, `{"error_code":50001,"message":"busy"}`, http.StatusServiceUnavailable)
			return
		}
		body, ok := byID[r.URL.Path]
		if !ok {
			body, ok = byPath[r.URL.Path]
		}
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_code":40403,"message":"Schema not found"}`))
			return
		}
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	src, err := newRegistrySchemas(schemaregistry.Config{URL: srv.URL, RetryMin: time.Millisecond, RetryMax: 2 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	ids, _ := filepath.Glob(filepath.Join(dir, "ids", "*.avsc"))
	checked := 0
	for _, p := range ids {
		id, _ := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".avsc"))
		if _, ok := byID[fmt.Sprintf("/schemas/ids/%d", id)]; !ok {
			continue // an older version: the recording keeps only the latest text
		}
		got, err := src.SchemaByID(ctx, id)
		if err != nil {
			t.Fatalf("id %d: %v", id, err)
		}
		want, _ := os.ReadFile(p)
		var g, w any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatalf("id %d: %v", id, err)
		}
		_ = json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("id %d resolves to\n%s\nwant ids/%d.avsc", id, got, id)
		}
		checked++
	}
	if checked < 15 {
		t.Errorf("only %d ids checked", checked)
	}

	mu.Lock()
	before := requests["/schemas/ids/10"]
	mu.Unlock()
	if _, err := src.SchemaByID(ctx, 10); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if requests["/schemas/ids/10"] != before {
		t.Error("a cached id was asked again")
	}
	failures = 2
	mu.Unlock()
	if _, err := src.SchemaByID(ctx, 9); err != nil { // not asked yet
		t.Errorf("after two 503s: %v", err)
	}
	mu.Lock()
	failures = 100
	mu.Unlock()
	if _, err := src.SchemaByID(ctx, 4); err == nil || !strings.Contains(err.Error(), "schema id 4") || !strings.Contains(err.Error(), "gave up") {
		t.Errorf("a registry failing for good: %v", err)
	}
	mu.Lock()
	failures = 0
	mu.Unlock()
	if _, err := src.SchemaByID(ctx, 77777); err == nil || !strings.Contains(err.Error(), "schema id 77777 not found") {
		t.Errorf("an unknown id: %v", err)
	}
}

// TestRegistryOutageHoldsRecordsBack: a record whose schema could not be
// fetched because the registry was down (or a shutdown ended the
// request) fails the source before its partition's mark, so it is read
// again after the restart; it does not go to the dead-letter topic as an
// unreadable record would.
func TestRegistryOutageHoldsRecordsBack(t *testing.T) {
	for _, why := range []error{
		fmt.Errorf("schema registry http://r: schema id 7: gave up after 6 attempts: %w: HTTP 503", errRegistryUnavailable),
		fmt.Errorf("schema registry http://r: schema id 7: %w", context.Canceled),
	} {
		s := &Source{owned: map[tp]uint64{{"orders", 0}: 1}}
		var emitted []sluice.Op
		b := &batcher{s: s, emit: func(ev *sluice.Event) error { emitted = append(emitted, ev.Op); return nil }}
		p := &kgo.FetchTopicPartition{Topic: "orders", FetchPartition: kgo.FetchPartition{Partition: 0,
			Records: []*kgo.Record{{Topic: "orders", Offset: 10}, {Topic: "orders", Offset: 11}}}}
		ok := &sluice.Event{Op: sluice.OpCreate}
		err := b.deliver(context.Background(), p, []result{{ev: ok}, {err: why}})
		if err == nil || !strings.Contains(err.Error(), "offset 11") {
			t.Errorf("%v: deliver returned %v, want an error naming offset 11", why, err)
		}
		if len(emitted) != 1 || emitted[0] != sluice.OpCreate || s.deadLetters.Load() != 0 {
			t.Errorf("%v: emitted %v, %d dead letters; want the first record only, no mark, none", why, emitted, s.deadLetters.Load())
		}
	}
}
