package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// writeDaemon writes the daemon's YAML with one pipeline named e.name:
// source and sinks are YAML blocks written without indentation (sinks
// holds one key per sink). The admin endpoints listen on e.admin (a free
// port when empty), the state lives under e.dir.
func (e *env) writeDaemon(source, sinks string) {
	e.t.Helper()
	admin := e.admin
	if admin == "" {
		admin = "127.0.0.1:0"
	}
	cfg := fmt.Sprintf("log: {level: info, format: json}\nhttp: {listen: %q}\nstate_dir: %q\npipelines:\n  %s:\n    source:\n%s    sinks:\n%s",
		admin, filepath.Join(e.dir, "state"), e.name, indent(source, 6), indent(sinks, 6))
	e.cfgPath = filepath.Join(e.dir, "sluice.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// indent prefixes every non-empty line of block with n spaces.
func indent(block string, n int) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString(strings.Repeat(" ", n))
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// eventsSeen is the daemon's sluice_events_total (events handed to the
// sinks since it started), or -1 while /metrics does not answer.
func (e *env) eventsSeen(t *testing.T) float64 {
	return e.metric(t, `sluice_events_total{pipeline="`+e.name+`"}`)
}

// waitEvents waits until the running daemon d handed at least n events to
// its sinks and returns the count; it fails when d exits first.
func (e *env) waitEvents(t *testing.T, d *daemon, n float64) float64 {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if got := e.eventsSeen(t); got >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon handed %.0f events to its sinks in 3m, waiting for %.0f", e.eventsSeen(t), n)
		}
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("sluice exited (%v) while waiting for %.0f events:\n%s", err, n, d.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readyz is the status code and body of the daemon's /readyz, or 0 while
// it does not answer.
func (e *env) readyz() (int, string) {
	resp, err := http.Get("http://" + e.admin + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// waitReadyz waits until /readyz answers with status, returning the body.
func (e *env) waitReadyz(t *testing.T, status int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, body := e.readyz()
		if code == status {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz answered %d (%s) for %v, waiting for %d", code, body, timeout, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// topicFold consumes change topics from the start and keeps what a
// compacting consumer keeps: the latest record per key, where a tombstone
// (and a delete) removes the key. Keys are {"id":n}; the value kept is
// the row's v.
type topicFold struct {
	t       *testing.T
	cl      *kgo.Client
	state   map[int64]int64
	records int
	// chain, when set (foldCommitted), follows each key's changes.
	chain *chains
}

func (e *env) foldTopics(t *testing.T, topics ...string) *topicFold {
	t.Helper()
	return e.fold(t, nil, topics...)
}

// foldCommitted is foldTopics for a read_committed consumer that also
// checks that every change arrives exactly once (chains).
func (e *env) foldCommitted(t *testing.T, topics ...string) *topicFold {
	t.Helper()
	f := e.fold(t, []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}, topics...)
	f.chain = &chains{keys: map[int64]*link{}}
	return f
}

func (e *env) fold(t *testing.T, opts []kgo.Opt, topics ...string) *topicFold {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(e.brokers, ",")...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &topicFold{t: t, cl: cl, state: map[int64]int64{}}
}

// poll applies what arrives within a second. Records of one key share a
// partition, which is read in offset order, so the fold sees each key's
// records in the order they were written.
func (f *topicFold) poll() {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fs := f.cl.PollFetches(ctx)
	fs.EachRecord(func(r *kgo.Record) {
		f.records++
		var k struct{ ID *int64 }
		if err := json.Unmarshal(r.Key, &k); err != nil || k.ID == nil {
			f.t.Fatalf("%s: record key %s is not {\"id\":n}", r.Topic, r.Key)
		}
		if r.Value == nil {
			delete(f.state, *k.ID) // tombstone
			return
		}
		var v struct {
			Op     string `json:"op"`
			Before *struct {
				V int64 `json:"v"`
			} `json:"before"`
			After *struct {
				V int64 `json:"v"`
			} `json:"after"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			f.t.Fatalf("%s: %s: %v", r.Topic, r.Value, err)
		}
		if f.chain != nil {
			var before *int64
			if v.Before != nil {
				before = &v.Before.V
			}
			var after int64
			if v.After != nil {
				after = v.After.V
			}
			f.chain.add(*k.ID, v.Op, before, after, r)
		}
		switch v.Op {
		case "d":
			delete(f.state, *k.ID)
		case "c", "u", "r":
			f.state[*k.ID] = v.After.V
		default:
			f.t.Errorf("%s: unexpected op %q: %s", r.Topic, v.Op, r.Value)
		}
	})
}

// until polls until the fold equals want (or the failure bound passes)
// and returns the fold.
func (f *topicFold) until(want map[int64]int64, bound time.Duration) map[int64]int64 {
	f.t.Helper()
	deadline := time.Now().Add(bound)
	for !sameMap(f.state, want) && time.Now().Before(deadline) {
		f.poll()
	}
	return f.state
}

func sameMap(a, b map[int64]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// explainKeys logs, for up to three keys of ids, every record of that key
// on topic in offset order: what a reader needs when a fold went wrong.
func (e *env) explainKeys(t *testing.T, topic string, ids []int64) {
	t.Helper()
	if len(ids) > 3 {
		ids = ids[:3]
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[fmt.Sprintf(`{"id":%d}`, id)] = true
	}
	for _, r := range e.consumeAll([]string{topic}) {
		if !want[string(r.key)] {
			continue
		}
		v := "null (tombstone)"
		if r.value != nil {
			v = blank(string(r.value), []*regexp.Regexp{regexp.MustCompile(`"pad":"[^"]{20}[^"]*"`)})
		}
		t.Logf("key %s: partition %d offset %d event %s: %s", r.key, r.partition, r.offset, r.headers["sluice.event.id"], v)
	}
}

// diffKeys returns the keys stateDiff counts, sorted.
func diffKeys(got, want map[int64]int64) []int64 {
	var ids []int64
	for id, v := range want {
		if g, ok := got[id]; !ok || g != v {
			ids = append(ids, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// stateDiff counts how a replayed state differs from the table's:
// missing rows (in the table, not replayed), stale rows (replayed with an
// older v) and resurrected rows (replayed, but deleted from the table).
func stateDiff(got, want map[int64]int64) (missing, stale, resurrected int) {
	for id, v := range want {
		g, ok := got[id]
		switch {
		case !ok:
			missing++
		case g != v:
			stale++
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			resurrected++
		}
	}
	return
}

// esState reads an index whose documents are rows (id, v, …) into id → v.
func esState(t *testing.T, es *testenv.ES, index string) map[int64]int64 {
	t.Helper()
	out := map[int64]int64{}
	for id, doc := range es.Docs(index) {
		k, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			t.Fatalf("%s: document id %q is not a number", index, id)
		}
		n, ok := doc["v"].(json.Number)
		if !ok {
			t.Fatalf("%s/%s: v is %v", index, id, doc["v"])
		}
		v, err := n.Int64()
		if err != nil {
			t.Fatalf("%s/%s: v %s: %v", index, id, n, err)
		}
		out[k] = v
	}
	return out
}

// pgConn adapts a pgx connection to testenv.SQLConn.
type pgConn struct{ c *pgx.Conn }

func (p pgConn) Exec(stmt string) error {
	_, err := p.c.Exec(context.Background(), stmt)
	return err
}
func (p pgConn) Close() { p.c.Close(context.Background()) }

func (e *env) pgConnect() (testenv.SQLConn, error) {
	c, err := pgx.Connect(context.Background(), e.pgDSN)
	return pgConn{c}, err
}

// myConn adapts a go-mysql connection to testenv.SQLConn.
type myConn struct{ c *client.Conn }

func (m myConn) Exec(stmt string) error {
	r, err := m.c.Execute(stmt)
	if r != nil {
		r.Close()
	}
	return err
}
func (m myConn) Close() { m.c.Close() }

func (e *myEnv) myConnect() (testenv.SQLConn, error) {
	c, err := client.Connect(e.addr, e.user, e.pass, "sluice")
	if err != nil {
		return nil, err
	}
	return myConn{c}, nil
}

// myTableState returns the rows (id, v) of a MySQL table as id → v.
func (e *myEnv) myTableState(t *testing.T, table string) map[int64]int64 {
	t.Helper()
	r, err := e.db.Execute("SELECT id, v FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[int64]int64{}
	for i := range r.Values {
		id, err1 := r.GetInt(i, 0)
		v, err2 := r.GetInt(i, 1)
		if err1 != nil || err2 != nil {
			t.Fatalf("row %d of %s: %v %v", i, table, err1, err2)
		}
		out[id] = v
	}
	return out
}
