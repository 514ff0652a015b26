package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice/internal/testenv"
)

// board records which member runs which job, and every start: a job that
// runs on two members at once, or restarts where it stayed, shows there.
type board struct {
	mu      sync.Mutex
	owner   map[string]string
	starts  map[string]int
	overlap []string
}

func (b *board) job(member, name string) Job {
	return Job{Spec: Spec{Name: name, Shape: "source=test sinks=none"}, Run: func(ctx context.Context) error {
		b.mu.Lock()
		if o := b.owner[name]; o != "" {
			b.overlap = append(b.overlap, fmt.Sprintf("%s started on %s while %s ran it", name, member, o))
		}
		b.owner[name] = member
		b.starts[name]++
		b.mu.Unlock()
		<-ctx.Done()
		b.mu.Lock()
		delete(b.owner, name)
		b.mu.Unlock()
		return nil
	}}
}

// counts is how many jobs each member runs, and how many run at all.
func (b *board) counts() (map[string]int, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := map[string]int{}
	for _, m := range b.owner {
		c[m]++
	}
	return c, len(b.owner)
}

// rig is a cluster of in-process members on the test broker.
type rig struct {
	t       *testing.T
	brokers string
	group   string
	board   *board
	wg      sync.WaitGroup
}

func newRig(t *testing.T) *rig {
	brokers := testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS")
	r := &rig{t: t, brokers: brokers, group: fmt.Sprintf("test-cluster-%d", time.Now().UnixNano()%1_000_000),
		board: &board{owner: map[string]string{}, starts: map[string]int{}}}
	testenv.DeleteTopicsAtEnd(t, brokers, "sluice_cluster_"+r.group)
	testenv.DeleteGroupAtEnd(t, brokers, r.group)
	t.Cleanup(r.wg.Wait) // every member has left before the group is deleted
	return r
}

// start runs a member with the jobs named; cancel makes it leave.
func (r *rig) start(name string, jobs ...string) (*Member, context.CancelFunc) {
	r.t.Helper()
	c, err := Parse(map[string]any{"group": r.group, "brokers": strings.Split(r.brokers, ","), "member": name,
		"session_timeout": "6s", "rebalance_timeout": "20s"}, "cluster")
	if err != nil {
		r.t.Fatal(err)
	}
	var js []Job
	for _, j := range jobs {
		js = append(js, r.board.job(name, j))
	}
	m, err := New(c, js, Options{Logger: zaptest.NewLogger(r.t).Named(name), Version: "test"})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.wg.Go(func() {
		if err := m.Run(ctx); err != nil {
			r.t.Errorf("member %s: %v", name, err)
		}
	})
	r.t.Cleanup(cancel)
	return m, cancel
}

// until polls cond until it holds, failing after a minute.
func (r *rig) until(what string, cond func() bool) time.Duration {
	r.t.Helper()
	began := time.Now()
	for !cond() {
		if time.Since(began) > time.Minute {
			c, n := r.board.counts()
			r.t.Fatalf("waited a minute for %s; running: %d, per member %v", what, n, c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(began)
}

var sixJobs = []string{"billing", "crm", "orders", "shop", "stock", "users"}

// TestMembersShareJobs: one member runs all six jobs; two more join and
// each gets two, the jobs that stay on the first do not restart; one
// leaves and its jobs move at once (no session timeout to wait for); no
// job ever runs on two members; `cluster status` shows the assignment.
func TestMembersShareJobs(t *testing.T) {
	r := newRig(t)
	a, _ := r.start("a", sixJobs...)
	r.until("a to run all six", func() bool { c, _ := r.board.counts(); return c["a"] == 6 })
	if !a.Owned("crm") || a.Ready() != nil {
		t.Errorf("a: Owned(crm) %v, Ready %v", a.Owned("crm"), a.Ready())
	}
	_, _ = r.start("b", sixJobs...)
	_, cancelC := r.start("c", sixJobs...)
	r.until("two jobs on each member", func() bool {
		c, n := r.board.counts()
		return n == 6 && c["a"] == 2 && c["b"] == 2 && c["c"] == 2
	})
	r.board.mu.Lock()
	for name, m := range r.board.owner {
		if m == "a" && r.board.starts[name] != 1 {
			t.Errorf("%s stayed on a but started %d times", name, r.board.starts[name])
		}
	}
	r.board.mu.Unlock()

	cfg, _ := Parse(map[string]any{"group": r.group, "brokers": strings.Split(r.brokers, ",")}, "cluster")
	specs := make([]Spec, len(sixJobs))
	for i, n := range sixJobs {
		specs[i] = Spec{Name: n, Shape: "source=test sinks=none"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := ReadStatus(ctx, cfg, specs)
	if err != nil {
		t.Fatal(err)
	}
	r.board.mu.Lock()
	for _, m := range st.Members {
		for _, p := range m.Pipelines {
			if r.board.owner[p] != m.Name {
				t.Errorf("status: %s on %s, the board says %s", p, m.Name, r.board.owner[p])
			}
		}
		if len(m.Pipelines) != 2 || m.Version != "test" {
			t.Errorf("status member %+v, want two pipelines and version test", m)
		}
	}
	r.board.mu.Unlock()
	if len(st.Members) != 3 || len(st.Unassigned) != 0 || st.Mismatch != "" || st.State != "Stable" {
		t.Errorf("status %+v", st)
	}

	cancelC()
	moved := r.until("c's jobs on a and b", func() bool {
		c, n := r.board.counts()
		return n == 6 && c["c"] == 0
	})
	t.Logf("c left; its jobs ran elsewhere %v later", moved.Round(time.Millisecond))
	r.board.mu.Lock()
	defer r.board.mu.Unlock()
	if len(r.board.overlap) > 0 {
		t.Errorf("jobs ran twice at once: %v", r.board.overlap)
	}
}

// TestMismatchRefused: a member whose pipeline set differs is refused by
// the coordinator, runs nothing and says why; once the group's members
// left it joins, grows the topic for its extra pipeline and runs all.
func TestMismatchRefused(t *testing.T) {
	r := newRig(t)
	_, cancelA := r.start("a", sixJobs...)
	r.until("a to run all six", func() bool { _, n := r.board.counts(); return n == 6 })
	seven := append(slices.Clone(sixJobs[1:]), "audit", "billing2")
	d, _ := r.start("d", seven...)
	r.until("d refused", func() bool {
		err := d.Ready()
		return err != nil && strings.Contains(err.Error(), "only in this configuration [audit billing2], only in the group's [billing]")
	})
	if c, _ := r.board.counts(); c["d"] != 0 || c["a"] != 6 {
		t.Errorf("with d refused: %v, want all six on a", c)
	}
	cancelA()
	r.until("d to run its seven", func() bool { c, n := r.board.counts(); return c["d"] == 7 && n == 7 })
	if err := d.Ready(); err != nil {
		t.Errorf("d joined but Ready says %v", err)
	}
}

// TestExtraPartitionsIgnored: a cluster topic with more partitions than
// pipelines (left from a larger pipeline set) assigns only the
// pipelines' partitions, so both members get pipelines to run.
func TestExtraPartitionsIgnored(t *testing.T) {
	r := newRig(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(r.brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(t.Context(), 12, -1, nil, "sluice_cluster_"+r.group); err != nil {
		t.Fatal(err)
	}
	r.start("a", sixJobs[:4]...)
	r.start("b", sixJobs[:4]...)
	r.until("two jobs on each member", func() bool {
		c, n := r.board.counts()
		return n == 4 && c["a"] == 2 && c["b"] == 2
	})
	gs, err := kadm.NewClient(cl).DescribeGroups(t.Context(), r.group)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range gs[r.group].Members {
		a, _ := m.Assigned.AsConsumer()
		for _, tp := range a.Topics {
			if slices.ContainsFunc(tp.Partitions, func(p int32) bool { return p >= 4 }) {
				t.Errorf("member %s was assigned partitions %v, beyond the four pipelines", m.ClientID, tp.Partitions)
			}
		}
	}
}
