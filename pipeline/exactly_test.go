package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

// eosSink acknowledges everything at once, like the Kafka sink's
// exactly_once, and commits when the test says so.
type eosSink struct {
	markSink
	committed sluice.Position
	has       bool
	notify    func(uint64, error)
	bounds    uint64
}

var _ sink.PositionCommitter = (*eosSink)(nil)

func (s *eosSink) CommitsPositions() bool              { return true }
func (s *eosSink) Committed() (sluice.Position, bool)  { return s.committed, s.has }
func (s *eosSink) NotifyCommits(f func(uint64, error)) { s.mu.Lock(); s.notify = f; s.mu.Unlock() }
func (s *eosSink) WriteHeartbeat(ctx context.Context, ev *sluice.Event, ack func(error)) error {
	return s.WriteMark(ctx, ev, ack)
}

func (s *eosSink) Write(_ context.Context, ev *sluice.Event, ack func(error)) error {
	s.mu.Lock()
	s.evs = append(s.evs, ev)
	s.mu.Unlock()
	ack(nil)
	return nil
}

func (s *eosSink) WriteMark(ctx context.Context, ev *sluice.Event, ack func(error)) error {
	s.mu.Lock()
	s.bounds++
	s.mu.Unlock()
	return s.Write(ctx, ev, ack)
}

// commit reports a commit covering the boundaries handed over so far.
func (s *eosSink) commit(err error) {
	s.mu.Lock()
	b, f := s.bounds, s.notify
	s.mu.Unlock()
	f(b, err)
}

func (s *eosSink) received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.evs)
}

// seekSource is a fakeSource that records SeekAfter.
type seekSource struct {
	fakeSource
	mu     sync.Mutex
	sought []sluice.Position
	runs   []int // len(sought) when each Run started
}

func (s *seekSource) SeekAfter(pos sluice.Position) {
	s.mu.Lock()
	s.sought = append(s.sought, pos)
	s.mu.Unlock()
}

func (s *seekSource) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	s.mu.Lock()
	s.runs = append(s.runs, len(s.sought))
	s.mu.Unlock()
	return s.fakeSource.Run(ctx, emit)
}

// The checkpoint follows the exactly-once sink's commits, not its acks:
// a mark acknowledged but not committed is not confirmed, and a commit
// confirms the newest checkpoint it covers.
func TestCheckpointsWaitForCommits(t *testing.T) {
	src := &seekSource{fakeSource: fakeSource{done: make(chan struct{}), events: func(int) []*sluice.Event {
		return []*sluice.Event{row(10), mark(100), row(20), mark(200)}
	}}}
	s := &eosSink{committed: sluice.Position{TxLSN: 50}, has: true}
	p := &Pipeline{Name: "t", Source: src, Sinks: []sluice.Sink{s}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	<-src.done
	waitFor(t, "the events", func() bool { return s.received() == 4 })

	src.mu.Lock()
	sought, runs := src.sought, src.runs
	src.mu.Unlock()
	if len(sought) != 1 || sought[0].TxLSN != 50 || runs[0] != 1 {
		t.Fatalf("sought %v before runs %v, want tx_lsn 50 before the first run", sought, runs)
	}
	if got := src.lastConfirmed(); got != 0 {
		t.Fatalf("confirmed %d before any commit", got)
	}
	s.commit(nil) // covers both marks
	waitFor(t, "checkpoint 200", func() bool { return src.lastConfirmed() == 200 })

	s.commit(errors.New("commit refused"))
	waitFor(t, "a restart", func() bool { return p.Stats.Restarts.Load() > 0 })
	cancel()
	<-done
}

// The gate confirms the newest checkpoint a commit covers, and a
// checkpoint that comes after its commit at once.
func TestCommitGate(t *testing.T) {
	var got []uint64
	g := &commitGate{confirm: func(p sluice.Position) { got = append(got, p.TxLSN) }, fail: func(error) {}}
	g.checkpoint(sluice.Position{TxLSN: 1}, 1)
	g.checkpoint(sluice.Position{TxLSN: 3}, 3)
	g.commit(2, nil) // covers mark 1 only: mark 3 waits
	g.commit(5, nil) // covers mark 3
	g.checkpoint(sluice.Position{TxLSN: 4}, 4)
	g.checkpoint(sluice.Position{TxLSN: 6}, 6)
	if want := []uint64{1, 3, 4}; !equal(got, want) {
		t.Fatalf("confirmed %v, want %v", got, want)
	}
	var failed error
	g.fail = func(err error) { failed = err }
	g.commit(0, errors.New("aborted"))
	if failed == nil || len(got) != 3 {
		t.Fatalf("a failed commit: fail got %v, confirmed %v", failed, got)
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCheckExactlyOnce(t *testing.T) {
	seeker := &seekSource{}
	plain := &fakeSource{}
	for _, tc := range []struct {
		name  string
		src   sluice.Source
		sinks []sluice.Sink
		want  string
	}{
		{"one", seeker, []sluice.Sink{&eosSink{}, &holdSink{}}, ""},
		{"none", plain, []sluice.Sink{&holdSink{}}, ""},
		{"two", seeker, []sluice.Sink{&eosSink{}, &eosSink{}}, "exactly_once is on for 2 sinks"},
		{"source cannot seek", plain, []sluice.Sink{&eosSink{}}, "cannot start from a sink's position"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := []string{"a", "b"}[:len(tc.sinks)]
			err := checkExactlyOnce("pipelines.p", tc.src, tc.sinks, names)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
