package elasticsearch

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

// model applies events to a map the way the index should look: id →
// document (columns by name), unchanged columns kept from the previous
// state, truncates emptying it.
func model(events []*sluice.Event) map[string]map[string]any {
	m := map[string]map[string]any{}
	enc := docEncoder{}
	for _, ev := range events {
		switch ev.Op {
		case sluice.OpTruncate:
			clear(m)
		case sluice.OpCreate, sluice.OpUpdate, sluice.OpRead:
			id, _ := enc.appendID(nil, ev.Table, ev.After)
			doc := map[string]any{}
			src, unch := enc.appendDoc(nil, ev.Table, ev.After)
			_ = json.Unmarshal(src, &doc)
			for _, c := range unch {
				if v, ok := m[string(id)][c]; ok {
					doc[c] = v
				}
			}
			m[string(id)] = doc
		case sluice.OpDelete:
			id, _ := enc.appendID(nil, ev.Table, ev.Before)
			delete(m, string(id))
		}
	}
	return m
}

// sameDocs compares an index's documents with the model's.
func sameDocs(t *testing.T, got, want map[string]map[string]any) {
	t.Helper()
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("document %s missing; want %v", id, w)
			continue
		}
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if !jsonEqual(gj, wj) {
			t.Errorf("document %s = %s, want %s", id, gj, wj)
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("document %s should not exist: %v", id, g)
		}
	}
}

// ordersStream is a stream over public.orders with every kind of change.
func ordersStream(clk *eventtest.TxClock) []*sluice.Event {
	var evs []*sluice.Event
	var ins []*sluice.Event
	for id := int64(1); id <= 20; id++ {
		ins = append(ins, insertEvent(id, fmt.Sprintf("order %d", id), id, strings.Repeat("b", 100)+fmt.Sprint(id)))
	}
	evs = append(evs, clk.Tx(ins...)...)
	// Updates: full, partial (big unchanged), twice in one transaction.
	evs = append(evs, clk.Tx(updateEvent(orderRow(1, "changed", 10, "new big")))...)
	evs = append(evs, clk.Tx(updateEvent(partialRow(2, "partial", 20)))...)
	evs = append(evs, clk.Tx(
		updateEvent(partialRow(3, "first", 1)),
		updateEvent(partialRow(3, "second", 2)),
	)...)
	// Deletes, a delete followed by a re-insert, a message.
	evs = append(evs, clk.Tx(deleteEvent(4), deleteEvent(5), eventtest.Message("audit", "x"))...)
	evs = append(evs, clk.Tx(deleteEvent(6))...)
	evs = append(evs, clk.Tx(insertEvent(6, "back", 66, "again"))...)
	// A key change 7 → 107.
	del := deleteEvent(7)
	del.OtherKey = eventtest.KeyRow(eventtest.OrdersWide, eventtest.Int(107))
	cre := insertEvent(107, "moved", 7, "moved big")
	cre.OtherKey = eventtest.KeyRow(eventtest.OrdersWide, eventtest.Int(7))
	evs = append(evs, clk.Tx(del, cre)...)
	// A partial update after a delete and re-insert in one transaction.
	evs = append(evs, clk.Tx(deleteEvent(8), insertEvent(8, "re", 8, "big 8"), updateEvent(partialRow(8, "re2", 9)))...)
	return evs
}

// TestSinkIntegration writes a stream with every kind of change to the
// real Elasticsearch and compares the index with the model.
func TestSinkIntegration(t *testing.T) { eachBackend(t, testSinkIntegration) }

func testSinkIntegration(t *testing.T, b backend) {
	e := newBackendTest(t, b)
	clk := &eventtest.TxClock{}
	events := ordersStream(clk)
	s := e.sink(nil)
	writeAll(t, s, events)
	sameDocs(t, e.Docs(e.index("orders")), model(events))

	st := s.Stats()
	if st.Events != uint64(len(events)) || st.EventErrors != 0 || st.Skipped != 1 || st.PartialUpdates != 4 || st.PartialIncomplete != 0 {
		t.Errorf("stats = %+v", st)
	}
	// The version of a document is its last change's commit LSN.
	_, v, _ := e.rawDoc(e.index("orders"), "1")
	if want := int64(events[20].Pos.TxLSN); v != want {
		t.Errorf("doc 1 has _version %d, want the commit LSN %d", v, want)
	}
	// The derived mapping types the columns.
	m := e.Must("GET", "/"+e.index("orders")+"/_mapping", nil)
	if !strings.Contains(string(m), `"qty":{"type":"integer"}`) || !strings.Contains(string(m), `"note":{"type":"text","fields":{"keyword"`) {
		t.Errorf("mapping = %s", m)
	}
}

// TestTruncateIntegration: a truncate deletes every document of the
// table's index and later changes apply; a replay of the stream through a
// new sink leaves the same result (the truncate mark drops the replayed
// older inserts).
func TestTruncateIntegration(t *testing.T) { eachBackend(t, testTruncateIntegration) }

func testTruncateIntegration(t *testing.T, b backend) {
	e := newBackendTest(t, b)
	clk := &eventtest.TxClock{}
	var events []*sluice.Event
	var ins []*sluice.Event
	for id := int64(1); id <= 30; id++ {
		ins = append(ins, insertEvent(id, "x", id, "y"))
	}
	events = append(events, clk.Tx(ins...)...)
	events = append(events, clk.Tx(updateEvent(orderRow(1, "before truncate", 1, "y")))...)
	events = append(events, clk.Tx(eventtest.Truncate(eventtest.OrdersWide), insertEvent(31, "after", 31, "z"))...)
	events = append(events, clk.Tx(insertEvent(32, "later", 32, "z"))...)
	writeAll(t, e.sink(nil), events)
	want := model(events)
	sameDocs(t, e.Docs(e.index("orders")), want)

	// Replay everything after the deletes are forgotten by Elasticsearch.
	e.Must("PUT", "/"+e.index("orders")+"/_settings", `{"index.gc_deletes":"0s"}`)
	replay := e.sink(nil)
	writeAll(t, replay, events)
	sameDocs(t, e.Docs(e.index("orders")), want)
	if st := replay.Stats(); st.StaleSkipped < 30 {
		t.Errorf("replay stats = %+v, want the 31 pre-truncate changes skipped", st)
	}
}

// TestDeadLetterIntegration: a document the index refuses (a mapping
// conflict) goes to the dead-letter file with its reason; the other
// documents of the same request are indexed and every event is acked.
func TestDeadLetterIntegration(t *testing.T) { eachBackend(t, testDeadLetterIntegration) }

func testDeadLetterIntegration(t *testing.T, b backend) {
	e := newBackendTest(t, b)
	dir := t.TempDir()
	mapping := filepath.Join(dir, "mapping.json")
	// note is an integer in this index: "abc" cannot be indexed.
	if err := os.WriteFile(mapping, []byte(`{"dynamic":"strict","properties":{"id":{"type":"integer"},"note":{"type":"integer"},"qty":{"type":"integer"},"big":{"type":"text"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	dlq := filepath.Join(dir, "dlq.jsonl")
	clk := &eventtest.TxClock{}
	events := clk.Tx(insertEvent(1, "1", 1, "a"), insertEvent(2, "abc", 2, "b"), insertEvent(3, "3", 3, "c"))
	events = append(events, clk.Tx(insertEvent(4, "4", 4, "d"))...)
	s := e.sink(map[string]any{"mapping_file": mapping, "dead_letter": map[string]any{"file": dlq}})
	writeAll(t, s, events)

	got := e.Docs(e.index("orders"))
	if len(got) != 3 || got["2"] != nil {
		t.Errorf("documents = %v, want 1, 3 and 4", got)
	}
	data, err := os.ReadFile(dlq)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 1 {
		t.Fatalf("dead letters = %q, want one", data)
	}
	var rec deadRecordJSON
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.ID != "2" || rec.Index != e.index("orders") || rec.Status != 400 || rec.Error == nil ||
		!strings.Contains(rec.Error.String(), "note") || rec.Op != "c" || rec.Table != "public.orders" ||
		!jsonEqual(rec.Document, []byte(`{"id":2,"note":"abc","qty":2,"big":"b"}`)) {
		t.Errorf("dead letter = %s", lines[0])
	}
	if st := s.Stats(); st.DeadLettered != 1 || st.Indexed != 3 {
		t.Errorf("stats = %+v", st)
	}
}

// TestReplayIntegration replays a stream after Elasticsearch has forgotten
// the deletes (index.gc_deletes 0s), as a restart hours later would: the
// whole stream, every prefix of it cut at a transaction boundary (a
// replay that stops early), and a lone old insert of a deleted row. The
// index must equal the final state every time: no resurrected deletes, no
// older values.
func TestReplayIntegration(t *testing.T) { eachBackend(t, testReplayIntegration) }

func testReplayIntegration(t *testing.T, b backend) {
	e := newBackendTest(t, b)
	clk := &eventtest.TxClock{}
	events := ordersStream(clk)
	writeAll(t, e.sink(nil), events)
	index := e.index("orders")
	want := model(events)
	sameDocs(t, e.Docs(index), want)

	e.Must("PUT", "/"+index+"/_settings", `{"index.gc_deletes":"0s"}`)
	e.waitDeletesForgotten(index)

	// Transaction boundaries of the stream.
	var cuts []int
	for i := 1; i <= len(events); i++ {
		if i == len(events) || events[i].Pos.TxLSN != events[i-1].Pos.TxLSN {
			cuts = append(cuts, i)
		}
	}
	var stale, conflicts uint64
	for _, n := range cuts {
		r := e.sink(nil)
		writeAll(t, r, events[:n])
		sameDocs(t, e.Docs(index), want)
		st := r.Stats()
		stale += st.StaleSkipped
		conflicts += st.VersionConflicts
		if t.Failed() {
			t.Fatalf("after replaying %d of %d events: %+v", n, len(events), st)
		}
	}
	if stale == 0 || conflicts == 0 {
		t.Errorf("replays skipped %d stale changes and had %d version conflicts; want both > 0", stale, conflicts)
	}

	// A lone replayed insert of a deleted row, long after its delete.
	late := insertEvent(4, "order 4", 4, "late")
	late.Pos, late.TxOrder = events[3].Pos, 4
	r := e.sink(nil)
	writeAll(t, r, []*sluice.Event{late})
	if _, _, found := e.rawDoc(index, "4"); found {
		t.Error("the late replay resurrected deleted document 4")
	}
	if st := r.Stats(); st.StaleSkipped != 1 {
		t.Errorf("late replay stats = %+v, want 1 stale", st)
	}

	// New changes after a replay apply as usual.
	more := clk.Tx(insertEvent(4, "really back", 44, "b"), updateEvent(partialRow(1, "newest", 1)))
	writeAll(t, e.sink(nil), more)
	want = model(append(append([]*sluice.Event{}, events...), more...))
	sameDocs(t, e.Docs(index), want)

	// Control: Elasticsearch itself has indeed forgotten the delete of
	// document 5, so without tombstones the replays above would have
	// resurrected it. (The replays sent the delete again: wait until that
	// is forgotten too.)
	e.waitDeletesForgotten(index)
	status, body := e.Do("PUT", fmt.Sprintf("/%s/_doc/5?version=%d&version_type=external_gte", index, events[0].Pos.TxLSN), `{"id":5}`)
	if status != 201 {
		t.Errorf("control: an old insert of deleted document 5 got HTTP %d (%s); gc_deletes did not take effect, the test proves nothing", status, body)
	}
}

// waitDeletesForgotten waits until Elasticsearch prunes the versions of
// deleted documents of index (gc_deletes must be 0s). It prunes them
// lazily, at a refresh once its cached clock has moved on, so a probe
// document is deleted and re-inserted with an older version until that is
// accepted: from then on every earlier delete is forgotten too.
func (e *esTest) waitDeletesForgotten(index string) {
	e.t.Helper()
	const probe = "gc-deletes-probe"
	e.Must("PUT", "/"+index+"/_doc/"+probe+"?version=2&version_type=external", `{}`)
	e.Must("DELETE", "/"+index+"/_doc/"+probe+"?version=3&version_type=external", nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		e.Must("POST", "/"+index+"/_refresh", nil)
		status, body := e.Do("PUT", "/"+index+"/_doc/"+probe+"?version=1&version_type=external", `{}`)
		if status == 201 {
			e.Must("DELETE", "/"+index+"/_doc/"+probe+"?version=4&version_type=external", nil)
			e.Must("POST", "/"+index+"/_refresh", nil)
			return
		}
		if status != 409 || time.Now().After(deadline) {
			e.t.Fatalf("Elasticsearch does not forget deletes (gc_deletes 0s): probe insert got HTTP %d: %s", status, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
