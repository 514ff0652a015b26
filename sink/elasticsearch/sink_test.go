package elasticsearch

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/sink"
)

// write writes events to an open sink without closing it.
func write(t *testing.T, s *Sink, events []*sluice.Event) *ackLog {
	t.Helper()
	acks := newAckLog(len(events))
	for i, ev := range events {
		s.Write(t.Context(), ev, acks.ack(i))
	}
	return acks
}

func closeSink(t *testing.T, s *Sink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestRetryKeepsDocumentOrder: two changes of one document in one
// transaction share a version; when the first is refused with 429 and
// the second accepted, the retry must send the second again after the
// first, or the document would end in the first change's state.
func TestRetryKeepsDocumentOrder(t *testing.T) {
	f := newFakeES(t)
	f.item = func(bulkNo int, a fakeAction) (int, string) {
		if bulkNo == 0 && strings.Contains(a.source, `"first"`) {
			return 429, "es_rejected_execution_exception"
		}
		return 0, ""
	}
	s := f.sink(nil)
	clk := &eventtest.TxClock{}
	events := clk.Tx(insertEvent(1, "first", 1, "b"), updateEvent(orderRow(1, "second", 2, "b")), insertEvent(2, "other", 1, "b"))
	acks := write(t, s, events)
	closeSink(t, s)
	acks.check(t)
	d, _ := f.doc("orders", "1")
	if !strings.Contains(string(d.source), `"second"`) {
		t.Errorf("document 1 = %s, want the second change", d.source)
	}
	if len(f.bulks) != 2 || len(f.bulks[1]) != 2 || !strings.Contains(f.bulks[1][0].source, "first") || !strings.Contains(f.bulks[1][1].source, "second") {
		t.Errorf("bulk requests = %+v; want the retry to send first, then second", f.bulks)
	}
	if st := s.Stats(); st.Retries != 1 || st.Indexed != 3 {
		t.Errorf("stats = %+v", st)
	}
}

// TestUnavailableIsRetriedAndNotReady: requests answered 503 (or not at
// all) are retried with backoff; meanwhile Ready reports an error; nothing
// is acknowledged before it is written.
func TestUnavailableIsRetriedAndNotReady(t *testing.T) {
	f := newFakeES(t)
	var down atomic.Bool
	f.reject = func(r *http.Request, _ int) int {
		// Bulk requests and the readiness probe fail.
		if down.Load() && (r.URL.Path == "/_bulk" || r.URL.Path == "/sluice-state") {
			return 503
		}
		return 0
	}
	s := f.sink(nil)
	down.Store(true)
	clk := &eventtest.TxClock{}
	acks := write(t, s, clk.Tx(insertEvent(1, "a", 1, "b")))
	deadline := time.Now().Add(5 * time.Second)
	for s.Ready() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Ready(); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Ready() = %v while the cluster answers 503", err)
	}
	select {
	case <-acks.done:
		t.Fatal("event acknowledged while every request failed")
	case <-time.After(100 * time.Millisecond):
	}
	down.Store(false)
	<-acks.done
	acks.check(t)
	for s.Ready() != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.Ready(); err != nil {
		t.Errorf("Ready() = %v after recovery", err)
	}
	closeSink(t, s)
	if st := s.Stats(); st.Retries == 0 {
		t.Errorf("stats = %+v, want retries", st)
	}
	if err := s.Ready(); !errors.Is(err, ErrNotOpen) {
		t.Errorf("Ready() after Close = %v", err)
	}
}

// TestItemOutcomes: how each kind of bulk item failure settles its event.
func TestItemOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		errType   string
		dlq       bool
		wantErr   bool
		permanent bool
		dead      int
	}{
		{name: "mapping error to the dead-letter file", status: 400, errType: "document_parsing_exception", dlq: true, dead: 1},
		{name: "mapping error without dead letter fails for good", status: 400, errType: "mapper_parsing_exception", wantErr: true, permanent: true},
		{name: "version conflict is a replay", status: 409, errType: "version_conflict_engine_exception"},
		{name: "forbidden fails, retried by the runner", status: 403, errType: "security_exception", dlq: true, wantErr: true},
		{name: "missing index fails", status: 404, errType: "index_not_found_exception", dlq: true, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeES(t)
			f.item = func(_ int, a fakeAction) (int, string) {
				if a.id == "2" {
					return tc.status, tc.errType
				}
				return 0, ""
			}
			raw := map[string]any{}
			dlq := filepath.Join(t.TempDir(), "dlq.jsonl")
			if tc.dlq {
				raw["dead_letter"] = map[string]any{"file": dlq}
			}
			s := f.sink(raw)
			clk := &eventtest.TxClock{}
			acks := write(t, s, clk.Tx(insertEvent(1, "a", 1, "b"), insertEvent(2, "a", 1, "b"), insertEvent(3, "a", 1, "b")))
			closeSink(t, s)
			if _, ok := f.doc("orders", "3"); !ok {
				t.Error("the document after the failing one was not indexed")
			}
			err := acks.errs[1]
			if (err != nil) != tc.wantErr || sluice.IsPermanent(err) != tc.permanent {
				t.Errorf("ack = %v (permanent %v), want error %v, permanent %v", err, sluice.IsPermanent(err), tc.wantErr, tc.permanent)
			}
			if tc.permanent && !errors.Is(err, ErrRefused) {
				t.Errorf("ack = %v, want ErrRefused", err)
			}
			if acks.errs[0] != nil || acks.errs[2] != nil {
				t.Errorf("other acks = %v, %v", acks.errs[0], acks.errs[2])
			}
			data, _ := os.ReadFile(dlq)
			if n := strings.Count(string(data), "\n"); n != tc.dead {
				t.Errorf("%d dead letters, want %d: %s", n, tc.dead, data)
			}
		})
	}
}

// TestRejectedBeforeSending: rows that cannot be addressed (a table
// without key) go to the dead-letter file without a request.
func TestRejectedBeforeSending(t *testing.T) {
	f := newFakeES(t)
	dlq := filepath.Join(t.TempDir(), "dlq.jsonl")
	s := f.sink(map[string]any{"dead_letter": map[string]any{"file": dlq}})
	keyless := &sluice.Table{Schema: "public", Name: "log", Columns: []sluice.Column{{Name: "line", Type: sluice.TypeText}}}
	clk := &eventtest.TxClock{}
	events := clk.Tx(&sluice.Event{Op: sluice.OpCreate, Table: keyless, After: sluice.Row{eventtest.Text("hello")}})
	acks := write(t, s, events)
	closeSink(t, s)
	acks.check(t)
	data, err := os.ReadFile(dlq)
	if err != nil {
		t.Fatal(err)
	}
	var rec deadRecordJSON
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Error == nil || rec.Error.Type != "sluice_rejected" || !strings.Contains(rec.Error.Reason, "primary key") ||
		rec.Index != "log" || !jsonEqual(rec.Document, []byte(`{"line":"hello"}`)) || rec.Status != 0 {
		t.Errorf("dead letter = %s", data)
	}
	if f.bulkCount() != 0 {
		t.Errorf("%d bulk requests for a rejected row", f.bulkCount())
	}
}

// TestDocumentOrderAcrossRequests: with several requests in flight, a
// request touching a document still in flight waits, so Elasticsearch sees
// each document's changes in order; Write blocks meanwhile.
func TestDocumentOrderAcrossRequests(t *testing.T) {
	f := newFakeES(t)
	f.hold = make(chan struct{})
	s := f.sink(map[string]any{"bulk": map[string]any{"max_actions": 1, "max_in_flight": 3, "flush_interval": "10ms"}})
	clk := &eventtest.TxClock{}
	events := append(clk.Tx(insertEvent(1, "v1", 1, "b")), clk.Tx(insertEvent(2, "other", 1, "b"))...)
	events = append(events, clk.Tx(updateEvent(orderRow(1, "v2", 2, "b")))...)
	acks := newAckLog(len(events))
	s.Write(t.Context(), events[0], acks.ack(0))
	s.Write(t.Context(), events[1], acks.ack(1))
	third := make(chan struct{})
	go func() {
		s.Write(t.Context(), events[2], acks.ack(2))
		close(third)
	}()
	waitUntil(t, func() bool { return f.bulkCount() == 2 })
	select {
	case <-third:
		t.Fatal("Write of a second change of document 1 returned while the first is in flight")
	case <-time.After(100 * time.Millisecond):
	}
	if n := f.bulkCount(); n != 2 {
		t.Fatalf("%d requests in flight; want 2: the second change of document 1 must wait", n)
	}
	// Answer both requests in flight; then the third can leave.
	f.hold <- struct{}{}
	f.hold <- struct{}{}
	<-third
	f.hold <- struct{}{}
	<-acks.done
	closeSink(t, s)
	acks.check(t)
	if d, _ := f.doc("orders", "1"); !strings.Contains(string(d.source), "v2") {
		t.Errorf("document 1 = %s", d.source)
	}
}

// TestWriteBlocksWhenInFlightIsFull: the memory bound. With one request
// in flight and a full batch, Write waits for the request.
func TestWriteBlocksWhenInFlightIsFull(t *testing.T) {
	f := newFakeES(t)
	f.hold = make(chan struct{})
	s := f.sink(map[string]any{"bulk": map[string]any{"max_actions": 2, "max_in_flight": 1, "flush_interval": "1h"}})
	clk := &eventtest.TxClock{}
	var events []*sluice.Event
	for id := int64(1); id <= 5; id++ {
		events = append(events, clk.Tx(insertEvent(id, "x", 1, "b"))...)
	}
	acks := newAckLog(len(events))
	returned := make(chan int, len(events))
	go func() {
		for i, ev := range events {
			s.Write(t.Context(), ev, acks.ack(i))
			returned <- i
		}
	}()
	// Events 0-1 fill the first request, 2-3 the next batch; Write of
	// event 3 has to wait for the slot.
	waitUntil(t, func() bool { return len(returned) == 3 })
	time.Sleep(50 * time.Millisecond)
	if n := len(returned); n != 3 {
		t.Fatalf("%d Writes returned with one request in flight and a full batch; want 3", n)
	}
	if p := s.Stats().Pending; p != 4 {
		t.Errorf("pending = %d, want 4", p)
	}
	f.hold <- struct{}{}
	waitUntil(t, func() bool { return len(returned) == 5 })
	go func() {
		for range 2 {
			f.hold <- struct{}{}
		}
	}()
	closeSink(t, s)
	acks.check(t)
}

// TestCloseGivesUp: Close bounded by its context acknowledges what could
// not be delivered with ErrClosed, exactly once.
func TestCloseGivesUp(t *testing.T) {
	f := newFakeES(t)
	f.reject = func(r *http.Request, _ int) int {
		if r.URL.Path == "/_bulk" {
			return 503
		}
		return 0
	}
	s := f.sink(nil)
	clk := &eventtest.TxClock{}
	acks := write(t, s, clk.Tx(insertEvent(1, "a", 1, "b"), insertEvent(2, "a", 1, "b")))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err == nil {
		t.Error("Close returned nil with undelivered events")
	}
	<-acks.done
	for i, err := range acks.errs {
		if !errors.Is(err, ErrClosed) || acks.calls[i] != 1 {
			t.Errorf("event %d: %d acks, last %v; want one ErrClosed", i, acks.calls[i], err)
		}
	}
	if err := s.Write(t.Context(), insertEvent(3, "a", 1, "b"), func(error) {}); !errors.Is(err, ErrNotOpen) {
		t.Errorf("Write after Close = %v", err)
	}
}

// TestPartialUpdateMergesStoredDocument: an update without an unchanged
// TOAST column takes it from the stored document; from an earlier change
// in the same request when there is one.
func TestPartialUpdateMergesStoredDocument(t *testing.T) {
	f := newFakeES(t)
	f.put("orders", "1", 100, `{"id":1,"note":"old","qty":1,"big":"stored big"}`)
	s := f.sink(nil)
	clk := &eventtest.TxClock{}
	events := clk.Tx(updateEvent(partialRow(1, "new", 2)))
	events = append(events, clk.Tx(
		insertEvent(2, "n", 1, "in batch big"),
		updateEvent(partialRow(2, "n2", 2)),
		updateEvent(partialRow(3, "never stored", 3)),
	)...)
	acks := write(t, s, events)
	closeSink(t, s)
	acks.check(t)
	for id, want := range map[string]string{
		"1": `{"id":1,"note":"new","qty":2,"big":"stored big"}`,
		"2": `{"id":2,"note":"n2","qty":2,"big":"in batch big"}`,
		"3": `{"id":3,"note":"never stored","qty":3}`,
	} {
		if d, _ := f.doc("orders", id); !jsonEqual(d.source, []byte(want)) {
			t.Errorf("document %s = %s, want %s", id, d.source, want)
		}
	}
	if st := s.Stats(); st.PartialUpdates != 3 || st.PartialIncomplete != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// TestCreateDoesNotInheritStoredColumns: the create half of a key change
// may lack an unchanged TOAST column; what the index holds under the new
// key then belongs to an earlier row of that key (its delete or the
// table's truncate not applied yet: a topic's partitions interleave) and
// must not fill the column in.
func TestCreateDoesNotInheritStoredColumns(t *testing.T) {
	f := newFakeES(t)
	f.put("orders", "7", 100, `{"id":7,"note":"earlier row","qty":1,"big":"earlier big"}`)
	s := f.sink(nil)
	clk := &eventtest.TxClock{}
	create := &sluice.Event{Op: sluice.OpCreate, Table: eventtest.OrdersWide, After: partialRow(7, "new row", 2)}
	acks := write(t, s, clk.Tx(create))
	closeSink(t, s)
	acks.check(t)
	if d, _ := f.doc("orders", "7"); !jsonEqual(d.source, []byte(`{"id":7,"note":"new row","qty":2}`)) {
		t.Errorf("document 7 = %s, want the new row without the earlier row's big", d.source)
	}
	if st := s.Stats(); st.PartialIncomplete != 1 {
		t.Errorf("stats = %+v, want the create counted incomplete", st)
	}
}

// TestReplayGuard: after a restart, changes at or below an index's
// high-water mark are checked against tombstones; one older than its
// document's delete is dropped, a newer one (a re-insert) applies.
func TestReplayGuard(t *testing.T) {
	f := newFakeES(t)
	clk := &eventtest.TxClock{}
	events := clk.Tx(insertEvent(5, "old", 1, "b"), insertEvent(6, "old", 1, "b"))
	del := clk.Tx(deleteEvent(5))
	reinsert := clk.Tx(insertEvent(6, "new", 2, "b"))
	state := "sluice-state"
	hwm, _ := json.Marshal(stateDoc{Kind: "hwm", Index: "orders", LSN: reinsert[0].Pos.TxLSN + hwmStep})
	f.put(state, hwmID("orders"), reinsert[0].Pos.TxLSN+hwmStep, string(hwm))
	tomb, _ := json.Marshal(stateDoc{Kind: "tombstone", Index: "orders", ID: "5", LSN: del[0].Pos.TxLSN, Order: 1})
	f.put(state, tombstoneID("orders", "5"), del[0].Pos.TxLSN, string(tomb))
	tomb6, _ := json.Marshal(stateDoc{Kind: "tombstone", Index: "orders", ID: "6", LSN: del[0].Pos.TxLSN, Order: 1})
	f.put(state, tombstoneID("orders", "6"), del[0].Pos.TxLSN, string(tomb6))
	s := f.sink(nil)
	acks := write(t, s, append(events, reinsert...))
	closeSink(t, s)
	acks.check(t)
	if _, ok := f.doc("orders", "5"); ok {
		t.Error("document 5 resurrected")
	}
	if d, ok := f.doc("orders", "6"); !ok || !strings.Contains(string(d.source), "new") {
		t.Errorf("document 6 = %s, want the re-insert", d.source)
	}
	if st := s.Stats(); st.StaleSkipped != 2 || st.Indexed != 1 {
		t.Errorf("stats = %+v, want 2 stale (5 and the old 6), 1 indexed", st)
	}
}

// TestTooLargeRequestIsSplit: a 413 makes the sink send smaller requests.
func TestTooLargeRequestIsSplit(t *testing.T) {
	f := newFakeES(t)
	f.reject = func(r *http.Request, _ int) int {
		if r.URL.Path == "/_bulk" && r.ContentLength > 400 {
			return 413
		}
		return 0
	}
	s := f.sink(nil)
	clk := &eventtest.TxClock{}
	var ins []*sluice.Event
	for id := int64(1); id <= 4; id++ {
		ins = append(ins, insertEvent(id, "x", 1, "b"))
	}
	ins = append(ins, insertEvent(5, strings.Repeat("y", 500), 1, "b")) // too large alone
	dlq := filepath.Join(t.TempDir(), "dlq.jsonl")
	s.cfg.DeadLetter.File = dlq
	s.conn.Load().dlq, _ = openDeadLetter(t.Context(), &s.cfg.DeadLetter)
	acks := write(t, s, clk.Tx(ins...))
	closeSink(t, s)
	acks.check(t)
	for id := 1; id <= 4; id++ {
		if _, ok := f.doc("orders", string(rune('0'+id))); !ok {
			t.Errorf("document %d missing", id)
		}
	}
	if data, _ := os.ReadFile(dlq); !strings.Contains(string(data), "request_too_large") {
		t.Errorf("dead letters = %s", data)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestAuthAndTLS: basic auth and API keys are sent with every request;
// a CA file makes a private certificate trusted.
func TestAuthAndTLS(t *testing.T) {
	f := newFakeESTLS(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		raw  map[string]any
		want string
	}{
		{"basic", map[string]any{"username": "elastic", "password": "s3cret"}, "Basic " + base64.StdEncoding.EncodeToString([]byte("elastic:s3cret"))},
		{"api key wins", map[string]any{"username": "elastic", "password": "s3cret", "api_key": "a2V5OnNlY3JldA=="}, "APIKey a2V5OnNlY3JldA=="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.raw["tls"] = map[string]any{"ca_file": ca}
			s := f.sink(tc.raw)
			clk := &eventtest.TxClock{}
			acks := write(t, s, clk.Tx(insertEvent(1, "a", 1, "b")))
			closeSink(t, s)
			acks.check(t)
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, a := range f.auth {
				if a != tc.want {
					t.Fatalf("Authorization %q, want %q", a, tc.want)
				}
			}
			f.auth = nil
		})
	}
	// Without the CA the certificate is refused: Open fails.
	s, err := sink.Build(New, map[string]any{"urls": []any{f.srv.URL}, "request_timeout": "2s"}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(t.Context()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Open without the CA = %v", err)
	}
}

// TestSecretsNotLogged: passwords, API keys and passwords inside URLs
// appear in no log entry, also when a request fails.
func TestSecretsNotLogged(t *testing.T) {
	f := newFakeES(t)
	var fail atomic.Bool
	f.reject = func(r *http.Request, _ int) int {
		if fail.Load() && r.URL.Path == "/_bulk" {
			return 503
		}
		return 0
	}
	core, logs := observer.New(zap.DebugLevel)
	u := strings.Replace(f.srv.URL, "http://", "http://user:urlpass@", 1)
	s, err := sink.Build(New, map[string]any{"urls": []any{u}, "index": "{table}", "username": "user", "password": "s3cret", "api_key": "a2V5",
		"retry": map[string]any{"initial_backoff": "5ms", "max_backoff": "10ms"}, "bulk": map[string]any{"flush_interval": "5ms"}},
		sink.Env{Pipeline: "unit", Path: "p", Encoder: testEnv(t).Encoder, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	clk := &eventtest.TxClock{}
	acks := write(t, s, clk.Tx(insertEvent(1, "a", 1, "b")))
	waitUntil(t, func() bool { return s.Stats().Retries > 0 })
	fail.Store(false)
	<-acks.done
	closeSink(t, s)
	if logs.Len() == 0 {
		t.Fatal("nothing logged")
	}
	for _, e := range logs.All() {
		line := fmt.Sprintf("%s %v", e.Message, e.ContextMap())
		for _, secret := range []string{"s3cret", "a2V5", "urlpass"} {
			if strings.Contains(line, secret) {
				t.Errorf("log entry leaks %q: %s", secret, line)
			}
		}
	}
}
