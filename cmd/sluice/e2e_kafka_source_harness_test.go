package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// The harness of the kafka source's end-to-end tests: a capture daemon
// (the env's own pipeline, postgres → kafka) and one or more index
// daemons (kafka → elasticsearch), each a process of its own.

// indexer is a second daemon of a test, with its own pipeline name,
// config file, state dir and admin address. It lives in a copy of the
// test's env, so that writeDaemon, launch, metric, eventsSeen and
// waitEvents serve it unchanged; the copy never uses the env's database
// connection.
type indexer struct {
	*env
	d *daemon
}

// newIndexer returns the harness of a daemon running the pipeline name.
func (e *env) newIndexer(name string) *indexer {
	c := *e
	c.name, c.dir, c.admin, c.cfgPath = name, e.t.TempDir(), freeAddr(e.t), ""
	return &indexer{env: &c}
}

// start launches the daemon on its config file.
func (ix *indexer) start() { ix.d = ix.launch() }

// kill stops the daemon with kill -9.
func (ix *indexer) kill() { ix.d.stop(ix.t, syscall.SIGKILL) }

// stop stops the daemon with SIGTERM and returns its exit code.
func (ix *indexer) stop() int { return ix.d.stop(ix.t, syscall.SIGTERM) }

// events is the running daemon's sluice_events_total (-1 while /metrics
// does not answer).
func (ix *indexer) events() float64 { return ix.eventsSeen(ix.t) }

// wait waits until the running daemon handed n events to its sinks.
func (ix *indexer) wait(n float64) float64 { return ix.waitEvents(ix.t, ix.d, n) }

// exited reports whether the running daemon exited, and how.
func (ix *indexer) exited() (bool, error) {
	select {
	case err := <-ix.d.done:
		ix.d.done <- err
		return true, err
	default:
		return false, nil
	}
}

// kafkaSource is the source block of an index pipeline reading topic in
// group; extra lines are added to it.
func kafkaSource(brokers, topic, group string, extra ...string) string {
	return fmt.Sprintf("type: kafka\nbrokers: [%s]\ntopics: [%s]\ngroup: %s\ncommit_interval: 200ms\ndrain_timeout: 20s\n%s",
		brokers, topic, group, strings.Join(extra, "\n"))
}

// esSink is the sinks block of an index pipeline: Elasticsearch with its
// own state index (the documents go to the default index, named after
// the index pipeline: {prefix}.{schema}.{table}).
func esSink(url, stateIndex string) string {
	return fmt.Sprintf(`elasticsearch:
  urls: [%s]
  state_index: %s
  bulk: {flush_interval: 50ms}
  retry: {initial_backoff: 50ms, max_backoff: 1s}`, url, stateIndex)
}

// writeCapture writes the env's pipeline: table (snapshot initial) →
// Kafka, partitions per topic, truncates written too. Its topic is
// e.name + ".public." + table.
func (e *env) writeCapture(table string, partitions int) {
	e.t.Helper()
	e.writeDaemon(fmt.Sprintf(`type: postgres
dsn: %q
tables: [public.%s]
status_interval: 1s
drain_timeout: 20s
snapshot: {mode: initial, chunk_size: 1000}`, e.pgDSN, table), fmt.Sprintf(`kafka:
  brokers: [%s]
  linger: 1ms
  topic_creation: {partitions: %d}`, e.brokers, partitions))
	// A pipeline key writeDaemon has no parameter for.
	f, err := os.OpenFile(e.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString("    encoding: {skipped_operations: none}\n")
		f.Close()
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

// startCapture starts the capture daemon and waits until its initial
// snapshot is stored as done.
func (e *env) startCapture() *daemon {
	e.t.Helper()
	d := e.launch()
	e.waitUntil(e.t, "the capture's initial snapshot", 2*time.Minute, func() bool {
		select {
		case err := <-d.done:
			e.t.Fatalf("the capture daemon exited (%v):\n%s", err, d.logs.String())
		default:
		}
		return e.snapshotDone()
	})
	return d
}

// kafkaAdmin is a client of the test's brokers, closed at the end, and
// its admin client.
func (e *env) kafkaAdmin() (*kgo.Client, *kadm.Client) {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(e.brokers, ",")...))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// evictMembers removes every member from the group, as the coordinator
// does once their sessions time out: after kill -9 of the group's only
// daemon, its restart joins at once instead of after session_timeout.
func evictMembers(t *testing.T, cl *kgo.Client, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	groups, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err == nil {
		err = groups.Error()
	}
	if err != nil {
		t.Fatalf("describe group %s: %v", group, err)
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = group
	for _, m := range groups[group].Members {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m.MemberID
		req.Members = append(req.Members, lm)
	}
	if len(req.Members) == 0 {
		return
	}
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, m := range resp.Members {
			if e := kerr.ErrorForCode(m.ErrorCode); e != nil && !errors.Is(e, kerr.UnknownMemberID) && err == nil {
				err = e
			}
		}
	}
	if err != nil {
		t.Fatalf("remove the members of group %s: %v", group, err)
	}
}

// deleteGroupAtEnd deletes the consumer group when the test ends (after
// the daemons in it stopped: register it before starting them).
func deleteGroupAtEnd(t *testing.T, adm *kadm.Client, group string) {
	t.Cleanup(func() {
		if err := deleteGroup(adm, group); err != nil {
			t.Errorf("delete group %s: %v", group, err)
		}
	})
}

// resetGroup deletes the group's committed offsets (the whole group, which
// must be empty): its next member starts from the earliest offsets.
func resetGroup(t *testing.T, adm *kadm.Client, group string) {
	t.Helper()
	if err := deleteGroup(adm, group); err != nil {
		t.Fatalf("reset group %s: %v", group, err)
	}
}

// deleteGroup deletes the group, waiting while it is not empty: a member
// that just left may still be listed for a moment, one killed with
// kill -9 until its session times out.
func deleteGroup(adm *kadm.Client, group string) error {
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := adm.DeleteGroup(ctx, group)
		cancel()
		if err == nil || errors.Is(err, kerr.GroupIDNotFound) {
			return nil
		}
		if !errors.Is(err, kerr.NonEmptyGroup) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// groupLag is how many records of topic the group has not committed (its
// committed offsets against the end offsets), or -1 when it cannot tell.
func groupLag(t *testing.T, adm *kadm.Client, group, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		return -1
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return -1
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := committed.Lookup(topic, o.Partition)
		switch {
		case !ok || c.Err != nil || c.At < 0:
			lag += o.Offset
		case c.At < o.Offset:
			lag += o.Offset - c.At
		}
	})
	return lag
}

// waitGroupCaughtUp waits until the group committed every record of topic
// (which it does only once every sink acknowledged them all) and ix, a
// daemon of the group, is idle: nothing in its queue, its event count
// unchanged across a commit interval.
func waitGroupCaughtUp(t *testing.T, adm *kadm.Client, ix *indexer, group, topic string) {
	t.Helper()
	last := -2.0
	ix.waitUntil(t, "the group "+group+" to commit the end of "+topic, 3*time.Minute, func() bool {
		if gone, err := ix.exited(); gone {
			t.Fatalf("the index daemon exited (%v):\n%s", err, ix.d.logs.String())
		}
		n := ix.events()
		idle := n == last && ix.metric(t, `sluice_queue_events{pipeline="`+ix.name+`"}`) == 0
		last = n
		return idle && groupLag(t, adm, group, topic) == 0
	})
}

// waitIndexMatches polls the index until it holds the table's rows (id →
// v) or bound passes, and returns both, logging how they differ.
func waitIndexMatches(t *testing.T, e *env, es *testenv.ES, index, table string, bound time.Duration) (got, want map[int64]int64) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		want = e.tableState(t, table)
		got = map[int64]int64{}
		if es.Exists(index) {
			got = esState(t, es, index)
		}
		if sameMap(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	missing, stale, resurrected := stateDiff(got, want)
	t.Logf("%s: %d documents, the table %d rows: %d missing, %d stale, %d resurrected",
		index, len(got), len(want), missing, stale, resurrected)
	return got, want
}

// sameDocs fails the test unless two reads of an index hold the same
// documents, compared by id with their whole _source.
func sameDocs(t *testing.T, what string, got, want map[string]map[string]any) {
	t.Helper()
	bad := diffDocs(got, want)
	if len(bad) == 0 {
		return
	}
	t.Errorf("%s: %d documents of %d differ (%d now)", what, len(bad), len(want), len(got))
	for _, id := range bad[:min(len(bad), 5)] {
		t.Errorf("document %s: now %v, before %v", id, trimDoc(got[id]), trimDoc(want[id]))
	}
}

// diffDocs returns the ids, sorted, of the documents that differ between
// two reads of an index (missing in one, or another _source).
func diffDocs(got, want map[string]map[string]any) []string {
	var bad []string
	for id, w := range want {
		if g, ok := got[id]; !ok || !reflect.DeepEqual(g, w) {
			bad = append(bad, id)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			bad = append(bad, id)
		}
	}
	slices.Sort(bad)
	return bad
}

// trimDoc shortens long values (TOAST pads) for the log.
func trimDoc(d map[string]any) map[string]any {
	if d == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range d {
		if s, ok := v.(string); ok && len(s) > 24 {
			v = s[:24] + "…"
		}
		out[k] = v
	}
	return out
}
