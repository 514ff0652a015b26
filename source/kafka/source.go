package kafka

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/source"
)

func init() { source.Register("kafka", New, Config{}) }

// Source reads Debezium change events from Kafka topics in a consumer
// group. See doc.go.
type Source struct {
	cfg  Config
	log  *zap.Logger
	name string // the pipeline

	tables *tableCache

	// mu guards the offsets' bookkeeping, which Confirm (the runner's
	// goroutine), the group's callbacks and the poll loop share.
	mu       sync.Mutex
	owned    map[tp]uint64 // partitions assigned now → their assignment's number
	assigns  uint64        // assignments so far (numbers them)
	marks    []mark        // emitted, not yet confirmed, in emission order
	seq      uint64        // the last mark's number
	done     uint64        // the last confirmed mark's number
	toCommit map[tp]int64  // confirmed and not yet committed: next offset per partition
	changed  chan struct{} // signalled when done moves

	skipped, deadLetters, records atomic.Int64
}

type tp struct {
	topic     string
	partition int32
}

// mark is a partition's place after a batch of its records: once the
// runner confirmed the mark, every record before next is delivered.
type mark struct {
	seq    uint64
	tp     tp
	assign uint64
	next   int64
}

// New builds the source; it does no I/O.
func New(cfg Config, env source.Env) (*Source, error) {
	if cfg.Group == "" {
		cfg.Group = "sluice-" + env.Pipeline
	}
	if cfg.DeadLetterTopic == "" {
		cfg.DeadLetterTopic = cfg.Group + ".dead-letter"
	}
	if err := cfg.validate(env.Path); err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, log: env.Logger.With(zap.String("source", "kafka")), name: env.Pipeline,
		tables: newTableCache(), owned: map[tp]uint64{}, toCommit: map[tp]int64{}, changed: make(chan struct{}, 1)}, nil
}

// Connector implements source.Source: what a sink that writes Debezium's
// envelope again writes as source.connector.
func (s *Source) Connector() string { return s.cfg.Connector }

// Database implements source.Source.
func (s *Source) Database() string { return s.cfg.Database }

// DrainTimeout implements source.Source.
func (s *Source) DrainTimeout() time.Duration { return s.cfg.DrainTimeout }

// Stats are the source's running totals: records read, skipped (not
// change events) and sent to the dead-letter topic.
func (s *Source) Stats() (records, skipped, deadLetters int64) {
	return s.records.Load(), s.skipped.Load(), s.deadLetters.Load()
}

// Confirm implements sluice.Source: every event up to the mark pos is
// delivered, so the partitions' offsets after the marks up to it may be
// committed. Marks of partitions that were taken away since are dropped:
// their new owner reads those records again.
func (s *Source) Confirm(pos sluice.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.marks {
		if m.seq > pos.TxLSN {
			break
		}
		if s.owned[m.tp] == m.assign {
			s.toCommit[m.tp] = m.next
		}
		n++
	}
	s.marks = s.marks[n:]
	s.done = max(s.done, pos.TxLSN)
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

func (s *Source) clientOpts() ([]kgo.Opt, error) {
	conn, err := kafkaconn.Opts(s.cfg.TLS, s.cfg.SASL)
	if err != nil {
		return nil, fmt.Errorf("kafka source: %w", err)
	}
	reset := kgo.NewOffset().AtStart()
	if s.cfg.StartFrom == "latest" {
		reset = kgo.NewOffset().AtEnd()
	}
	opts := append(conn,
		kgo.SeedBrokers(s.cfg.Brokers...),
		kgo.ClientID(s.cfg.ClientID),
		kgo.ConsumerGroup(s.cfg.Group),
		kgo.ConsumeResetOffset(reset),
		// Topics that do not exist yet (a capture that has not written)
		// and new topics matching topic_pattern are found at the next
		// metadata refresh: every 5s instead of franz-go's 5m.
		kgo.MetadataMaxAge(5*time.Second),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, s.cfg.SessionTimeout/3)),
		// Records already handed to the pipeline are finished before
		// partitions move: the poll loop allows a rebalance only between
		// batches, so the revoke callback sees every mark of them.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		// The dead-letter records: acks=all, sent at once.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.WithLogger(kafkaconn.Logger{L: s.log}),
	)
	if s.cfg.TopicPattern != "" {
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+s.cfg.TopicPattern+")$"))
	} else {
		opts = append(opts, kgo.ConsumeTopics(s.cfg.Topics...))
	}
	return opts, nil
}

// Run implements sluice.Source.
func (s *Source) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	s.mu.Lock()
	s.marks, s.toCommit, s.owned = nil, map[tp]int64{}, map[tp]uint64{}
	s.seq, s.done = 0, 0
	s.mu.Unlock()
	opts, err := s.clientOpts()
	if err != nil {
		return err
	}
	var schemas schemaSource
	if s.cfg.Format == FormatAvro {
		if schemas, err = newRegistrySchemas(s.cfg.Registry, s.log); err != nil {
			return sluice.Permanent(fmt.Errorf("kafka source: registry: %w", err))
		}
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka source: client: %w", err)
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		var up source.Startup // a stop before consuming is a clean one
		return up.Result(ctx, fmt.Errorf("kafka source: connect %v: %w", s.cfg.Brokers, err))
	}
	s.log.Info("kafka source: consuming", zap.String("group", s.cfg.Group), zap.Strings("topics", s.cfg.Topics),
		zap.String("topic_pattern", s.cfg.TopicPattern), zap.String("format", s.cfg.Format))

	commitCtx, stopCommits := context.WithCancel(context.WithoutCancel(ctx))
	commits := make(chan struct{})
	go func() {
		defer close(commits)
		t := time.NewTicker(s.cfg.CommitInterval)
		defer t.Stop()
		for {
			select {
			case <-commitCtx.Done():
				return
			case <-t.C:
				if err := s.commit(commitCtx, cl); err != nil && commitCtx.Err() == nil {
					s.log.Warn("kafka source: committing offsets", zap.Error(err))
				}
			}
		}
	}()
	defer func() { stopCommits(); <-commits }()

	b := &batcher{s: s, cl: cl, emit: emit, decoders: s.newDecoders(schemas)}
	err = b.loop(ctx)
	if ctx.Err() != nil {
		s.drain(context.WithoutCancel(ctx), cl)
		return nil
	}
	return err
}

// drain waits, at most DrainTimeout, for the runner to confirm every
// mark emitted, then commits what was confirmed.
func (s *Source) drain(ctx context.Context, cl *kgo.Client) {
	deadline := time.NewTimer(s.cfg.DrainTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		all := s.done >= s.seq
		s.mu.Unlock()
		if all {
			break
		}
		select {
		case <-s.changed:
			continue
		case <-deadline.C:
			s.log.Warn("kafka source: shutdown: not every record was acknowledged in time; they will be read again")
		}
		break
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.commit(cctx, cl); err != nil {
		s.log.Warn("kafka source: committing offsets on shutdown", zap.Error(err))
	}
}

// commit commits the confirmed offsets of the partitions still owned.
func (s *Source) commit(ctx context.Context, cl *kgo.Client) error {
	offs := s.takeCommits(nil)
	if len(offs) == 0 {
		return nil
	}
	var failed error
	cl.CommitOffsetsSync(ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			failed = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && failed == nil {
					failed = fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, e)
				}
			}
		}
	})
	if failed != nil {
		s.mu.Lock()
		for t, ps := range offs { // put back what was not committed
			for p, o := range ps {
				k := tp{t, p}
				if _, ok := s.owned[k]; ok {
					if cur, ok := s.toCommit[k]; !ok || cur < o.Offset {
						s.toCommit[k] = o.Offset
					}
				}
			}
		}
		s.mu.Unlock()
	}
	return failed
}

// takeCommits removes and returns the offsets to commit, of every owned
// partition or only of only (when not nil).
func (s *Source) takeCommits(only map[string][]int32) map[string]map[int32]kgo.EpochOffset {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[int32]kgo.EpochOffset{}
	for k, o := range s.toCommit {
		if _, ok := s.owned[k]; !ok {
			delete(s.toCommit, k)
			continue
		}
		if only != nil && !contains(only[k.topic], k.partition) {
			continue
		}
		if out[k.topic] == nil {
			out[k.topic] = map[int32]kgo.EpochOffset{}
		}
		out[k.topic][k.partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
		delete(s.toCommit, k)
	}
	return out
}

func contains(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func (s *Source) assigned(_ context.Context, _ *kgo.Client, added map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assigns++
	for t, ps := range added {
		for _, p := range ps {
			s.owned[tp{t, p}] = s.assigns
		}
	}
	s.log.Info("kafka source: partitions assigned", zap.Any("partitions", added))
}

// revoked commits what was confirmed of the partitions taken away, then
// forgets them: records of theirs in flight go to the new owner again.
func (s *Source) revoked(ctx context.Context, cl *kgo.Client, gone map[string][]int32) {
	offs := s.takeCommits(gone)
	if len(offs) > 0 {
		cl.CommitOffsetsSync(ctx, offs, nil)
	}
	s.forget(gone)
	s.log.Info("kafka source: partitions revoked", zap.Any("partitions", gone))
}

func (s *Source) lost(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
	s.forget(gone)
	s.log.Warn("kafka source: partitions lost (the group moved on without this member)", zap.Any("partitions", gone))
}

func (s *Source) forget(gone map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range gone {
		for _, p := range ps {
			delete(s.owned, tp{t, p})
			delete(s.toCommit, tp{t, p})
		}
	}
}

// addMark records a partition's mark and returns its number.
func (s *Source) addMark(k tp, next int64) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.owned[k]
	if !ok {
		return 0, false
	}
	s.seq++
	s.marks = append(s.marks, mark{seq: s.seq, tp: k, assign: a, next: next})
	return s.seq, true
}

// newDecoders makes one decoder per worker; schemas is nil for JSON.
func (s *Source) newDecoders(schemas schemaSource) []*decoder {
	ds := make([]*decoder, max(runtime.GOMAXPROCS(0), 1))
	for i := range ds {
		ds[i] = &decoder{json: newJSONDecoder(s.tables, s.cfg.UnavailableValuePlaceholder)}
		if schemas != nil {
			ds[i].avro = newAvroDecoder(schemas, s.cfg.UnavailableValuePlaceholder)
		}
	}
	return ds
}

var errStopped = errors.New("kafka source: stopped")
