package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice/internal/kafkaconn"
)

// Job is one pipeline as a member runs it.
type Job struct {
	Spec
	// Run runs the pipeline until ctx ends (returning nil) or it fails
	// for good.
	Run func(ctx context.Context) error
	// WaitReleased, when set, runs before Run each time the pipeline is
	// assigned here: it returns once the previous owner let go of what
	// only one reader may hold (sluice.Handover), or when ctx ends.
	WaitReleased func(ctx context.Context) error
}

// Options are a member's optional settings.
type Options struct {
	// Logger receives the member's events; nil discards.
	Logger *zap.Logger
	// Version is sluice's version, sent in the client id so `sluice
	// cluster status` shows what each member runs.
	Version string
	// OnFailure is called when a pipeline's Run returns an error (a
	// permanent failure): the pipeline stays stopped on this member.
	OnFailure func(name string, err error)
}

// Member is this process in the cluster: it runs the pipelines the group
// assigns to it and stops those the group moves elsewhere.
type Member struct {
	cfg   *Config
	jobs  []Job // sorted by name: job i is partition i
	proto string
	opts  Options
	log   *zap.Logger

	mu      sync.Mutex
	running map[int32]*running
	ctx     context.Context // Run's: a started pipeline's parent

	owned      []atomic.Bool // per job: assigned to this member
	joined     atomic.Bool
	mismatch   atomic.Pointer[string]
	rebalances atomic.Int64
	lastLogged atomic.Int64 // unix ms of the last mismatch report
}

type running struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New checks the jobs (unique names) and returns a member that has not
// joined yet.
func New(cfg *Config, jobs []Job, o Options) (*Member, error) {
	js := slices.Clone(jobs)
	slices.SortFunc(js, func(a, b Job) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(js); i++ {
		if js[i].Name == js[i-1].Name {
			return nil, fmt.Errorf("cluster: pipeline %q twice", js[i].Name)
		}
	}
	if len(js) == 0 {
		return nil, errors.New("cluster: no pipeline to run")
	}
	specs := make([]Spec, len(js))
	for i, j := range js {
		specs[i] = j.Spec
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return &Member{cfg: cfg, jobs: js, proto: protocolName(specs), opts: o,
		log:     log.With(zap.String("cluster_group", cfg.Group), zap.String("member", cfg.Member)),
		running: map[int32]*running{}, owned: make([]atomic.Bool, len(js))}, nil
}

// Name is this member's name (cluster.member).
func (m *Member) Name() string { return m.cfg.Member }

// Owned reports whether the group assigned the pipeline to this member.
func (m *Member) Owned(name string) bool {
	i, ok := slices.BinarySearchFunc(m.jobs, name, func(j Job, n string) int { return strings.Compare(j.Name, n) })
	return ok && m.owned[i].Load()
}

// Ready is nil once the member joined the group, else why not.
func (m *Member) Ready() error {
	if s := m.mismatch.Load(); s != nil {
		return fmt.Errorf("cluster: %s", *s)
	}
	if !m.joined.Load() {
		return fmt.Errorf("cluster: not a member of group %s yet", m.cfg.Group)
	}
	return nil
}

// clientID tells the group who a member is: sluice/<version>/<member>.
func (m *Member) clientID() string { return "sluice/" + m.opts.Version + "/" + m.cfg.Member }

// Run joins the group and runs what it assigns until ctx ends; then it
// stops every pipeline (each drains) and leaves the group, so the others
// take them over at once. Broker failures are retried.
func (m *Member) Run(ctx context.Context) error {
	m.mu.Lock()
	m.ctx = ctx
	m.mu.Unlock()
	conn, err := kafkaconn.Opts(m.cfg.TLS, m.cfg.SASL)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 30*time.Second) {
		err := m.ensureTopic(ctx, conn)
		if err == nil {
			break
		}
		m.log.Warn("cluster topic not ready; retrying", zap.String("topic", m.cfg.Topic), zap.Error(err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait/2 + rand.N(wait/2)):
		}
	}
	opts := append(conn,
		kgo.SeedBrokers(m.cfg.Brokers...),
		kgo.ClientID(m.clientID()),
		kgo.WithLogger(kafkaconn.Logger{L: m.log}),
		kgo.WithHooks(manageErrHook{m}),
		kgo.ConsumerGroup(m.cfg.Group),
		kgo.ConsumeTopics(m.cfg.Topic),
		kgo.Balancers(newBalancer(m.specs(), m.cfg.Topic)),
		kgo.SessionTimeout(m.cfg.SessionTimeout),
		kgo.HeartbeatInterval(m.cfg.heartbeat()),
		kgo.RebalanceTimeout(m.cfg.RebalanceTimeout),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(m.assigned),
		kgo.OnPartitionsRevoked(m.revoked),
		kgo.OnPartitionsLost(m.lost),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	m.log.Info("joining the cluster", zap.String("topic", m.cfg.Topic), zap.Int("pipelines", len(m.jobs)), zap.String("protocol", m.proto))
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			var gs *kgo.ErrGroupSession
			if ctx.Err() == nil && !errors.As(err, &gs) {
				m.log.Debug("cluster topic fetch", zap.Error(err))
			}
		})
	}
	// The pipelines' contexts derive from ctx: they are draining already.
	// Close calls revoked with everything (waiting for the drains) and
	// then leaves the group.
	cl.Close()
	// Whatever the group did not revoke (it never answered) stops here
	// too: the process must not exit before every pipeline drained.
	m.mu.Lock()
	left := make([]int32, 0, len(m.running))
	for p := range m.running {
		left = append(left, p)
	}
	m.mu.Unlock()
	m.stop(left, "shutdown")
	m.joined.Store(false)
	m.log.Info("left the cluster")
	return nil
}

func (m *Member) specs() []Spec {
	s := make([]Spec, len(m.jobs))
	for i, j := range m.jobs {
		s[i] = j.Spec
	}
	return s
}

// ensureTopic creates the cluster topic with a partition per pipeline, or
// grows it to that many.
func (m *Member) ensureTopic(ctx context.Context, conn []kgo.Opt) error {
	cl, err := kgo.NewClient(append(conn, kgo.SeedBrokers(m.cfg.Brokers...), kgo.WithLogger(kafkaconn.Logger{L: m.log}))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	n := int32(len(m.jobs))
	resp, err := adm.CreateTopic(ctx, n, -1, nil, m.cfg.Topic)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, kerr.TopicAlreadyExists):
		return fmt.Errorf("create topic %s: %w", m.cfg.Topic, err)
	}
	td, err := adm.ListTopics(ctx, m.cfg.Topic)
	if err != nil {
		return fmt.Errorf("describe topic %s: %w", m.cfg.Topic, err)
	}
	t, ok := td[m.cfg.Topic]
	if !ok || t.Err != nil {
		return fmt.Errorf("describe topic %s: %v", m.cfg.Topic, t.Err)
	}
	if have := int32(len(t.Partitions)); have < n {
		rs, err := adm.UpdatePartitions(ctx, int(n), m.cfg.Topic)
		if err == nil {
			err = rs.Error()
		}
		if err != nil && !errors.Is(err, kerr.InvalidPartitions) { // grown by another member meanwhile
			return fmt.Errorf("grow topic %s to %d partitions: %w", m.cfg.Topic, n, err)
		}
		m.log.Info("cluster topic grown", zap.String("topic", m.cfg.Topic), zap.Int32("from", have), zap.Int32("to", n))
	}
	return nil
}

// assigned starts the pipelines newly assigned here.
func (m *Member) assigned(_ context.Context, _ *kgo.Client, as map[string][]int32) {
	m.joined.Store(true)
	if m.mismatch.Swap(nil) != nil {
		m.log.Info("joined the cluster: the configuration now matches the group's")
	}
	m.rebalances.Add(1)
	for _, p := range as[m.cfg.Topic] {
		if p < 0 || int(p) >= len(m.jobs) {
			continue
		}
		m.start(p)
	}
}

func (m *Member) start(p int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running[p] != nil || m.ctx == nil || m.ctx.Err() != nil {
		return
	}
	j := m.jobs[p]
	ctx, cancel := context.WithCancel(m.ctx)
	r := &running{cancel: cancel, done: make(chan struct{})}
	m.running[p] = r
	m.owned[p].Store(true)
	log := m.log.With(zap.String("pipeline", j.Name))
	log.Info("pipeline assigned to this member; starting it")
	go func() {
		defer close(r.done)
		if j.WaitReleased != nil {
			if err := j.WaitReleased(ctx); err != nil {
				return
			}
		}
		err := j.Run(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			// Stopped because it moved: what failed then is the
			// next owner's business.
			log.Warn("pipeline failed while it was handed over", zap.Error(err))
		case err != nil && m.opts.OnFailure != nil:
			m.opts.OnFailure(j.Name, err)
		}
	}()
}

// stop stops the pipelines of ps and waits until each returned: a
// pipeline moves only once it drained here.
func (m *Member) stop(ps []int32, why string) {
	m.mu.Lock()
	var rs []*running
	var names []string
	for _, p := range ps {
		if r := m.running[p]; r != nil {
			delete(m.running, p)
			m.owned[p].Store(false)
			r.cancel()
			rs = append(rs, r)
			names = append(names, m.jobs[p].Name)
		}
	}
	m.mu.Unlock()
	if len(rs) == 0 {
		return
	}
	began := time.Now()
	for _, r := range rs {
		<-r.done
	}
	m.log.Info("pipelines stopped on this member", zap.String("reason", why), zap.Strings("pipelines", names),
		zap.Duration("took", time.Since(began)))
}

func (m *Member) revoked(_ context.Context, _ *kgo.Client, rs map[string][]int32) {
	m.stop(rs[m.cfg.Topic], "moved to another member")
}

func (m *Member) lost(_ context.Context, _ *kgo.Client, ls map[string][]int32) {
	m.joined.Store(false)
	m.stop(ls[m.cfg.Topic], "the group session was lost")
}

// manageErrHook reports the errors of the group management loop; franz-go
// retries them.
type manageErrHook struct{ m *Member }

func (h manageErrHook) OnGroupManageError(err error) {
	m := h.m
	if !errors.Is(err, kerr.InconsistentGroupProtocol) {
		m.log.Warn("cluster group management failed; retrying", zap.Error(err))
		return
	}
	m.joined.Store(false)
	now := time.Now().UnixMilli()
	if last := m.lastLogged.Load(); now-last < 30_000 && m.mismatch.Load() != nil {
		return
	}
	m.lastLogged.Store(now)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := m.describeMismatch(ctx)
	m.mismatch.Store(&msg)
	m.log.Error("cluster configuration mismatch: the group refused this member; it runs no pipeline and retries", zap.String("mismatch", msg))
}
