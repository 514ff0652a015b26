package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/internal/kvstore"
	"github.com/sluice-cdc/sluice/sink"
)

// Exactly-once delivery (exactly_once: true). The producer is
// transactional; events go into a Kafka transaction that ends only at a
// source transaction boundary (a mark), after max_events events or
// max_wait, and the same Kafka transaction writes the mark's source
// position to the offsets topic under the transactional id. So a
// read_committed consumer sees a source transaction's events all or not at
// all, and the offsets topic always says up to where they are committed.
//
// Acknowledgements: an event is acknowledged when its records are written
// (inside the open transaction), a mark or heartbeat when it is handed
// over, so the runner's window of events in flight never waits for a
// commit. What the source may confirm is decided by the commits instead:
// the sink counts the boundaries (marks and heartbeats) it was handed
// since Open and, after each commit, tells the runner how many the
// committed position covers (sink.PositionCommitter.NotifyCommits); the
// runner confirms only checkpoints among those. So the source's own
// checkpoint never passes the committed position, and at start the runner
// reads the committed position (Committed) and the source skips
// everything up to it, even when its checkpoint is behind (a crash
// between the Kafka commit and the checkpoint).
//
// Fencing: the transactional id is stable across restarts (by default
// sluice-<pipeline>-<sink>). Open initializes the producer id, which bumps
// the epoch and aborts whatever an earlier instance left open; an older
// instance that is still alive (paused, partitioned) is refused by the
// brokers from then on and stops with errFenced instead of retrying.

// errFenced stops a sink whose transactional id a newer instance took.
var errFenced = errors.New("kafka sink: fenced: another instance with the same transactional id took over (exactly_once); this one stops")

// Transactions configures exactly_once.
type Transactions struct {
	// ID is the transactional id. Default "sluice-<pipeline>-<sink>".
	// Two running instances must never share it unless one is meant to
	// fence the other.
	ID string `yaml:"id"`
	// MaxEvents: a Kafka transaction is committed at the first source
	// transaction boundary after this many events. Default 10000.
	MaxEvents int `yaml:"max_events"`
	// MaxWait: a Kafka transaction is committed at the first source
	// transaction boundary after it was open this long. Default 100ms; it
	// bounds the latency a read_committed consumer sees.
	MaxWait time.Duration `yaml:"max_wait"`
	// Timeout is Kafka's transaction.timeout.ms: the broker aborts a
	// transaction open longer. It must exceed the time one source
	// transaction takes to be written. Default 1m; at most the brokers'
	// transaction.max.timeout.ms (15m by default).
	Timeout time.Duration `yaml:"timeout"`
	// OffsetsTopic holds the committed positions, keyed by transactional
	// id; one partition, compacted (created when missing). Default
	// "sluice_eos_offsets".
	OffsetsTopic string `yaml:"offsets_topic"`
}

func (Transactions) defaults() Transactions {
	return Transactions{MaxEvents: 10000, MaxWait: 100 * time.Millisecond, Timeout: time.Minute, OffsetsTopic: "sluice_eos_offsets"}
}

// validateExactly checks exactly_once and transactions.
func (c *Config) validateExactly(bad func(key, format string, args ...any)) {
	t := &c.Transactions
	if !c.ExactlyOnce {
		if *t != (Transactions{}).defaults() {
			bad("transactions", "set only with exactly_once: true")
		}
		return
	}
	if t.MaxEvents < 1 || t.MaxEvents > 1_000_000 {
		bad("transactions.max_events", "must be between 1 and 1000000, got %d", t.MaxEvents)
	}
	if t.MaxWait < time.Millisecond || t.MaxWait > time.Minute {
		bad("transactions.max_wait", "must be between 1ms and 1m0s, got %s", t.MaxWait)
	}
	if t.Timeout < time.Second || t.Timeout > time.Hour {
		bad("transactions.timeout", "must be between 1s and 1h0m0s, got %s", t.Timeout)
	}
	if t.Timeout <= t.MaxWait {
		bad("transactions.timeout", "must exceed transactions.max_wait (%s)", t.MaxWait)
	}
	if strings.TrimSpace(t.OffsetsTopic) == "" {
		bad("transactions.offsets_topic", "must not be empty")
	}
}

// transactionalID is the configured id, or the default for the sink at
// path ("pipelines.<pipeline>.sinks.<name>").
func transactionalID(t Transactions, pipeline, path string) string {
	if t.ID != "" {
		return t.ID
	}
	name := path[strings.LastIndexByte(path, '.')+1:]
	return "sluice-" + pipeline + "-" + name
}

// exactly is the state of exactly_once. Write's goroutine and the max_wait
// timer share it under mu.
type exactly struct {
	cfg Transactions
	id  string
	log *zap.Logger

	mu      sync.Mutex
	cl      *kgo.Client // the open transactional client
	inTx    bool
	began   time.Time
	events  int             // events in the open transaction
	tail    bool            // events were written after the last boundary
	last    sluice.Position // the last boundary's position
	hasLast bool
	bounds  uint64 // boundaries handed over since Open
	pending bool   // the open transaction holds a boundary
	notify  func(bounds uint64, err error)
	// failed is the first failed record of the open transaction, which
	// then must not commit. Atomic: promises set it while commitLocked
	// holds mu and waits for them in Flush.
	failed    atomic.Pointer[error]
	timer     *time.Timer
	committed sluice.Position // read at Open, then the last commit's
	hasCommit bool
	fenced    atomic.Bool // set from promises too
	owner     string      // this instance, in the positions it writes
	claimed   bool        // an Open of this instance claimed the id
	metrics   *eosMetrics // nil until RegisterMetrics
	broken    error       // a commit failed: nothing more is written until Open
}

// Committed implements sink.PositionCommitter.
func (s *Sink) Committed() (sluice.Position, bool) {
	if s.eos == nil {
		return sluice.Position{}, false
	}
	e := s.eos
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.committed, e.hasCommit
}

// CommitsPositions implements sink.PositionCommitter.
func (s *Sink) CommitsPositions() bool { return s.eos != nil }

var _ sink.PositionCommitter = (*Sink)(nil)

// storedPosition is the offsets topic's value.
type storedPosition struct {
	LSN    uint64 `json:"lsn,omitempty"`
	TxLSN  uint64 `json:"tx_lsn"`
	Resume string `json:"resume,omitempty"`
	Epoch  string `json:"epoch,omitempty"`
	// Owner is the instance that wrote it (openExactly).
	Owner string `json:"owner,omitempty"`
}

// openExactly runs in Open once the client is connected: it makes sure
// the offsets topic exists with one partition, claims the transactional
// id (fencing older instances and aborting what they left open), reads
// the committed position and writes it back under this instance's owner
// id.
//
// The claim is what stops a zombie for good: an instance that was paused
// or cut off and then restarts its pipeline (for any reason: its source
// connection was taken over too) would claim the id again and fence its
// successor. Reopening, an instance first reads the position; when
// another owner wrote it meanwhile, it stops with errFenced instead.
func (s *Sink) openExactly(ctx context.Context, cl *kgo.Client, conn []kgo.Opt) error {
	e := s.eos
	e.mu.Lock()
	e.resetLocked()
	e.cl, e.bounds, e.broken = nil, 0, nil
	e.fenced.Store(false)
	e.mu.Unlock()
	kv, err := kvstore.Open(ctx, s.cfg.Brokers, conn, e.cfg.OffsetsTopic)
	if err != nil {
		return fmt.Errorf("kafka sink: exactly-once offsets %w", err)
	}
	defer kv.Close()
	if err := kv.CheckPartitions(ctx, 1); err != nil {
		return sluice.Permanent(fmt.Errorf("kafka sink: exactly-once offsets %w", err))
	}
	if e.claimed {
		sp, _, err := e.read(ctx, kv)
		if err != nil {
			return err
		}
		if sp.Owner != "" && sp.Owner != e.owner {
			e.fenced.Store(true)
			return sluice.Permanent(fmt.Errorf("%w (instance %s wrote the position since)", errFenced, sp.Owner))
		}
	}
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return e.classify(fmt.Errorf("kafka sink: transactional id %s: %w", e.id, err))
	}
	sp, found, err := e.read(ctx, kv)
	if err != nil {
		return err
	}
	sp.Owner = e.owner
	if err := e.claim(ctx, cl, sp); err != nil {
		return err
	}
	e.mu.Lock()
	e.cl, e.claimed = cl, true
	e.committed = sluice.Position{LSN: sp.LSN, TxLSN: sp.TxLSN, Resume: sp.Resume, Epoch: sp.Epoch}
	e.hasCommit = found && (sp.TxLSN != 0 || sp.Resume != "")
	e.mu.Unlock()
	return nil
}

// Reclaim implements sink.Reclaimer: the next Open claims the
// transactional id as a new instance, so a position another instance
// wrote since is its predecessor's, not a successor's.
func (s *Sink) Reclaim() {
	if s.eos == nil {
		return
	}
	e := s.eos
	e.mu.Lock()
	defer e.mu.Unlock()
	e.claimed, e.owner = false, newOwner()
}

var _ sink.Reclaimer = (*Sink)(nil)

// read reads the transactional id's committed value.
func (e *exactly) read(ctx context.Context, kv *kvstore.Topic) (storedPosition, bool, error) {
	var sp storedPosition
	v, err := kv.GetCommitted(ctx, []byte(e.id))
	if err != nil {
		return sp, false, fmt.Errorf("kafka sink: exactly-once offsets %w", err)
	}
	if v == nil {
		return sp, false, nil
	}
	if err := json.Unmarshal(v, &sp); err != nil {
		return sp, false, sluice.Permanent(fmt.Errorf("kafka sink: exactly-once offsets topic %s, key %s: %w", e.cfg.OffsetsTopic, e.id, err))
	}
	return sp, true, nil
}

// claim commits sp (the committed position under this owner) in a
// transaction of its own.
func (e *exactly) claim(ctx context.Context, cl *kgo.Client, sp storedPosition) error {
	v, _ := json.Marshal(sp)
	err := cl.BeginTransaction()
	if err == nil {
		err = cl.ProduceSync(ctx, &kgo.Record{Topic: e.cfg.OffsetsTopic, Partition: 0, Key: []byte(e.id), Value: v}).FirstErr()
		end := kgo.TryCommit
		if err != nil {
			end = kgo.TryAbort
		}
		if eerr := cl.EndTransaction(ctx, end); err == nil {
			err = eerr
		}
	}
	if err != nil {
		return e.classify(fmt.Errorf("kafka sink: claim transactional id %s: %w", e.id, err))
	}
	return nil
}

// resetLocked forgets the open transaction (the pipeline restarts from
// the committed position anyway).
func (e *exactly) resetLocked() {
	if e.timer != nil {
		e.timer.Stop()
	}
	e.inTx, e.events, e.tail, e.hasLast, e.pending = false, 0, false, false, false
	e.failed.Store(nil)
}

// NotifyCommits implements sink.PositionCommitter.
func (s *Sink) NotifyCommits(f func(bounds uint64, err error)) {
	if s.eos == nil {
		return
	}
	s.eos.mu.Lock()
	s.eos.notify = f
	s.eos.mu.Unlock()
}

// notifyLocked reports a commit's outcome to the runner.
func (e *exactly) notifyLocked(bounds uint64, err error) {
	if e.notify != nil {
		e.notify(bounds, err)
	}
}

// beginLocked opens a transaction when none is open.
func (e *exactly) beginLocked() error {
	if e.fenced.Load() {
		return sluice.Permanent(errFenced)
	}
	if e.cl == nil {
		return ErrNotOpen
	}
	if e.broken != nil {
		return e.broken
	}
	if e.inTx {
		return nil
	}
	if err := e.cl.BeginTransaction(); err != nil {
		return e.classify(fmt.Errorf("kafka sink: begin transaction: %w", err))
	}
	e.inTx, e.began, e.events = true, time.Now(), 0
	if e.timer == nil {
		e.timer = time.AfterFunc(e.cfg.MaxWait, e.onTimer)
	} else {
		e.timer.Reset(e.cfg.MaxWait)
	}
	return nil
}

// beforeRecords runs before records are produced, opening a transaction
// if none is open. An event's records (event true) make the transaction
// end inside a source transaction until the next boundary; a boundary's
// own records (the transaction topic's END, a heartbeat) do not.
func (e *exactly) beforeRecords(event bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.beginLocked(); err != nil {
		return err
	}
	if event {
		e.events++
		e.tail = true
	}
	return nil
}

// nopAck acknowledges a boundary's own records under exactly_once: their
// failure is recorded by the promise (recordFailed) and fails the commit,
// and the boundary is acknowledged by the commit.
func nopAck(error) {}

// recordFailed notes a failed record of the open transaction, which then
// must not commit. It runs in produce promises.
func (e *exactly) recordFailed(err error) {
	e.failed.CompareAndSwap(nil, &err)
}

// boundary records a source transaction boundary at pos, acknowledges it
// and commits when the transaction is full or old enough. With no
// transaction open, everything before the boundary is committed already.
func (e *exactly) boundary(ctx context.Context, pos sluice.Position, ack func(error)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bounds++
	ack(nil)
	if !e.inTx {
		e.notifyLocked(e.bounds, nil)
		return nil
	}
	if pos.TxLSN != 0 || pos.Resume != "" {
		e.last, e.hasLast = pos, true
	}
	e.tail, e.pending = false, true
	if e.events >= e.cfg.MaxEvents || time.Since(e.began) >= e.cfg.MaxWait {
		return e.commitLocked(ctx)
	}
	return nil
}

// onTimer commits a transaction that is max_wait old and ends at a
// boundary; one that does not commits at its next boundary.
func (e *exactly) onTimer() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.inTx || e.tail || !e.pending {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Timeout)
	defer cancel()
	if err := e.commitLocked(ctx); err != nil {
		e.log.Warn("exactly-once: commit failed; the pipeline restarts from the last committed position", zap.Error(err))
	}
}

// commitLocked flushes the open transaction's records, writes the last
// boundary's position to the offsets topic and commits; on any failure it
// aborts. The runner is told the outcome.
func (e *exactly) commitLocked(ctx context.Context) (err error) {
	began := time.Now()
	defer func() { e.metrics.ended(began, err) }()
	err = e.cl.Flush(ctx)
	if f := e.failed.Load(); err == nil && f != nil {
		err = *f
	}
	if err == nil && e.hasLast {
		v, _ := json.Marshal(storedPosition{LSN: e.last.LSN, TxLSN: e.last.TxLSN, Resume: e.last.Resume, Epoch: e.last.Epoch, Owner: e.owner})
		err = e.cl.ProduceSync(ctx, &kgo.Record{Topic: e.cfg.OffsetsTopic, Partition: 0, Key: []byte(e.id), Value: v}).FirstErr()
	}
	if err == nil {
		if err = e.cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
			if e.hasLast {
				e.committed, e.hasCommit = e.last, true
			}
			e.resetLocked()
			e.notifyLocked(e.bounds, nil)
			return nil
		}
		err = fmt.Errorf("kafka sink: commit transaction: %w", err)
	} else {
		err = fmt.Errorf("kafka sink: transaction not committed: %w", err)
	}
	err = e.classify(err)
	if aerr := e.cl.EndTransaction(ctx, kgo.TryAbort); aerr != nil && !e.fenced.Load() {
		e.log.Warn("exactly-once: abort failed; the next open aborts it", zap.Error(aerr))
	}
	e.resetLocked()
	e.broken = err
	e.notifyLocked(0, err)
	return err
}

// classify turns the brokers' fencing errors into the permanent errFenced
// (and remembers it: nothing this producer writes can commit any more).
// A fenced instance must stop rather than restart: a restart would claim
// the transactional id again and fence its successor in turn.
func (e *exactly) classify(err error) error {
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) {
		e.fenced.Store(true)
		return sluice.Permanent(fmt.Errorf("%w (%v)", errFenced, err))
	}
	return classify(err)
}

// closeExactly ends the open transaction when the sink closes: committed
// when it ends at a boundary (a clean shutdown drains to one), else
// aborted, so nothing half-written of a source transaction is committed.
func (s *Sink) closeExactly(ctx context.Context) {
	e := s.eos
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inTx && e.cl != nil {
		if !e.tail && e.pending && !e.fenced.Load() {
			if err := e.commitLocked(ctx); err != nil {
				e.log.Warn("exactly-once: commit at close failed", zap.Error(err))
			}
		} else {
			if err := e.cl.EndTransaction(ctx, kgo.TryAbort); err != nil && !e.fenced.Load() {
				e.log.Warn("exactly-once: abort at close failed", zap.Error(err))
			}
			e.metrics.ended(time.Now(), ErrNotOpen)
		}
	}
	e.resetLocked()
	e.cl = nil
}

var _ sink.CommittedDropper = (*Sink)(nil)

// DropCommitted implements sink.CommittedDropper: it writes a tombstone
// for the transactional id's position in the offsets topic.
func (s *Sink) DropCommitted(ctx context.Context, dryRun bool) (string, bool, error) {
	if s.eos == nil {
		return "", false, nil
	}
	what := fmt.Sprintf("Kafka topic %s, key %s", s.cfg.Transactions.OffsetsTopic, s.eos.id)
	conn, err := kafkaconn.Opts(s.cfg.TLS, s.cfg.SASL)
	if err != nil {
		return what, false, fmt.Errorf("kafka sink: %w", err)
	}
	kv, err := kvstore.OpenExisting(ctx, s.cfg.Brokers, conn, s.cfg.Transactions.OffsetsTopic)
	if err != nil || kv == nil {
		return what, false, err
	}
	defer kv.Close()
	v, err := kv.GetCommitted(ctx, []byte(s.eos.id))
	if err != nil || v == nil {
		return what, false, err
	}
	if !dryRun {
		if err := kv.Put(ctx, []byte(s.eos.id), nil); err != nil {
			return what, true, err
		}
	}
	return what, true, nil
}

// newOwner is a random instance id.
func newOwner() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
