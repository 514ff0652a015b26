// Package kafka is the sink that makes sluice a drop-in for Debezium on
// Kafka: it writes each change event as a record whose key and value are
// the codec's Debezium JSON, to Debezium's topic names, partitioned by key
// with the Java client's murmur2 so consumers (and Java producers) see the
// same key→partition mapping, and follows deletes with tombstones so
// compacted topics work. Like Debezium it writes nothing for the
// operations encoding.skipped_operations names (truncates by default),
// and with encoding.provide_transaction_metadata it writes the
// transaction topic's BEGIN and END records (transaction.go).
//
// Delivery: the producer is idempotent with acks=all and retries without
// limit; an event is acknowledged only when every record it produced
// (the change, its tombstone, a BEGIN record before it) has been written,
// and with the first error otherwise. Backpressure comes from franz-go's buffered-record limit
// (max_buffered_records): Write blocks while it is reached.
//
// Topics are created on first use with kadm (partitions, replication
// factor, cleanup.policy=compact by default), like Debezium's
// topic.creation.* settings; already existing topics are left alone.
//
// Records without a key: Kafka refuses them on compacted topics (and fails
// the rest of their batch with them). On such a topic a truncate is
// acknowledged without a record, logged once and counted, which is what
// Debezium consumers see anyway (Debezium skips truncates by default); a
// row of a table without a key fails the pipeline with the permanent
// ErrNullKeyCompacted, because its data must not vanish. With
// cleanup_policy delete both are produced with a null key.
package kafka

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
	"github.com/sluice-cdc/sluice/sink"
)

func init() { sink.Register("kafka", New, Config{}) }

// Sink writes events to Kafka. Build it with New; Open, Write and Close
// follow sluice.Sink's contract.
type Sink struct {
	cfg    Config
	log    *zap.Logger
	enc    *codec.Encoder
	router *sink.Router

	conn atomic.Pointer[conn] // nil until Open, and after Close

	// Only touched by Write (one goroutine).
	known     map[string]topicInfo // topics that exist or were created
	lastTable *sluice.Table        // the table of the last event, and its topic
	lastTopic string
	lastInfo  topicInfo
	bufHint   int // expected encoded size of the next event
	tx        codec.TxTracker

	txMeta  bool   // provide_transaction_metadata: write the transaction topic
	txTopic string // its name

	// avro is format avro's registry client and id cache (avro.go), made
	// by the first Open; nil with format json.
	avro atomic.Pointer[avroFormat]

	inflight sync.WaitGroup // events whose ack is still to be called; Close waits

	// dial, when set (tests), replaces franz-go's dialer for every broker.
	dial func(ctx context.Context, network, host string) (net.Conn, error)

	// eos is exactly_once's state (exactly.go); nil when it is off.
	eos *exactly

	stats   counters
	metrics clientMetrics // franz-go's, once RegisterMetrics was called (metrics.go)
}

var (
	_ sluice.Sink         = (*Sink)(nil)
	_ sluice.ReadyChecker = (*Sink)(nil)
)

type conn struct {
	cl  *kgo.Client
	adm *kadm.Client

	probeErr  atomic.Pointer[error] // the last health probe's verdict
	stopProbe context.CancelFunc
	probeDone chan struct{}
}

// New builds a kafka sink from its decoded configuration (defaults filled
// in). It validates, naming offending keys under env.Path, and does no I/O.
func New(cfg Config, env sink.Env) (*Sink, error) {
	if err := cfg.validate(env.Path); err != nil {
		return nil, err
	}
	if env.Encoder == nil {
		return nil, fmt.Errorf("%s: kafka sink: no encoder (runner bug)", env.Path)
	}
	router, err := sink.NewRouter(env.Path, cfg.Topic, cfg.MessageTopic, env.Encoder.Options())
	if err != nil {
		return nil, err
	}
	enc := env.Encoder
	if cfg.Format == FormatAvro {
		if enc, err = typedEncoder(enc); err != nil {
			return nil, fmt.Errorf("%s: %w", env.Path, err)
		}
	}
	s := &Sink{
		cfg:     cfg,
		log:     env.Logger,
		enc:     enc,
		router:  router,
		known:   map[string]topicInfo{},
		bufHint: 512,
		txMeta:  env.Encoder.Options().TransactionMetadata,
		txTopic: router.TransactionTopic(),
	}
	if cfg.ExactlyOnce {
		s.eos = &exactly{cfg: cfg.Transactions, id: transactionalID(cfg.Transactions, env.Pipeline, env.Path), log: env.Logger, owner: newOwner()}
	}
	return s, nil
}

// Config returns the sink's configuration with defaults filled in.
func (s *Sink) Config() Config { return s.cfg }

// Open creates the franz-go client and checks that a broker answers (and
// that TLS and SASL work), so the runner can retry it with backoff. Calling
// Open again replaces the client; records still buffered in the old one
// are failed (their events are acked with kgo.ErrClientClosed).
func (s *Sink) Open(ctx context.Context) error {
	opts, err := s.cfg.clientOpts()
	if err != nil {
		return err
	}
	if s.cfg.Format == FormatAvro && s.avro.Load() == nil {
		// Here, not in New: it reads the registry's secret and TLS files.
		a, err := newAvroFormat(s.cfg.Registry, s.log)
		if err != nil {
			return fmt.Errorf("kafka sink: %w", err)
		}
		s.avro.Store(a)
	}
	opts = append(opts, kgo.WithLogger(kafkaconn.Logger{L: s.log}))
	if s.eos != nil {
		// The old client's open transaction is abandoned: its buffered
		// records must fail before the new transaction's state starts.
		s.closeOld()
		opts = append(opts, kgo.TransactionalID(s.eos.id), kgo.TransactionTimeout(s.cfg.Transactions.Timeout))
	}
	if s.dial != nil {
		opts = append(opts, kgo.Dialer(s.dial))
	}
	opts, m := s.metrics.withHooks(opts)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka sink: client: %w", err)
	}
	s.metrics.use(m) // before the ping: failed connects are counted too
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return fmt.Errorf("kafka sink: connect %v: %w", s.cfg.Brokers, err)
	}
	if s.eos != nil {
		conn, err := kafkaconn.Opts(s.cfg.TLS, s.cfg.SASL)
		if err == nil {
			err = s.openExactly(ctx, cl, conn)
		}
		if err != nil {
			cl.Close()
			return err
		}
	}
	c := &conn{cl: cl, adm: kadm.NewClient(cl), probeDone: make(chan struct{})}
	var probeCtx context.Context
	probeCtx, c.stopProbe = context.WithCancel(context.WithoutCancel(ctx))
	go s.probe(probeCtx, c)
	if old := s.conn.Swap(c); old != nil {
		old.close()
	}
	// The runner reopens after a failure and the source replays from the
	// last checkpoint, which is a transaction boundary: start afresh, so
	// the replayed transaction gets its BEGIN again and is counted once.
	s.tx = codec.TxTracker{}
	s.log.Info("connected",
		zap.Strings("brokers", s.cfg.Brokers),
		zap.Bool("exactly_once", s.eos != nil),
		zap.Bool("tls", s.cfg.TLS.Enabled),
		zap.String("sasl_mechanism", s.cfg.SASL.Mechanism),
		zap.String("sasl_username", s.cfg.SASL.Username),
		zap.String("compression", s.cfg.Compression),
		zap.Int("max_buffered_records", s.cfg.MaxBufferedRecords))
	return nil
}

// probe asks a broker for metadata every health_check_interval until ctx
// ends, keeping the verdict for Ready. A broker that refuses connections
// fails the probe at once; a silent network fails it when the probe's
// timeout passes.
func (s *Sink) probe(ctx context.Context, c *conn) {
	defer close(c.probeDone)
	timeout := min(max(s.cfg.HealthCheckInterval, 2*time.Second), 30*time.Second)
	t := time.NewTicker(s.cfg.HealthCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := c.cl.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			err = fmt.Errorf("kafka sink: brokers %v unreachable: %w", s.cfg.Brokers, err)
			if c.probeErr.Load() == nil {
				s.log.Warn("brokers unreachable; reporting not ready", zap.Error(err))
			}
			c.probeErr.Store(&err)
		} else if c.probeErr.Swap(nil) != nil {
			s.log.Info("brokers reachable again")
		}
	}
}

// Ready implements sluice.ReadyChecker: an error while the sink is not
// open or the last health probe failed.
func (s *Sink) Ready() error {
	c := s.conn.Load()
	if c == nil {
		return ErrNotOpen
	}
	if err := c.probeErr.Load(); err != nil {
		return *err
	}
	if a := s.avro.Load(); a != nil {
		return a.reg.Ready()
	}
	return nil
}

// closeOld closes the client of an earlier Open, if any, and waits (at
// most closeAckWait) for the acks of its failed records.
func (s *Sink) closeOld() {
	old := s.conn.Swap(nil)
	if old == nil {
		return
	}
	old.close()
	s.waitAcks("acks of the previous connection still outstanding")
}

// waitAcks waits, at most closeAckWait, until every written event has
// been acknowledged, and logs warning if that takes longer.
func (s *Sink) waitAcks(warning string) {
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	t := time.NewTimer(closeAckWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn(warning, zap.Duration("waited", closeAckWait))
	}
}

// close stops the health probe and closes the client, which fails every
// record still buffered with kgo.ErrClientClosed.
func (c *conn) close() {
	if c.stopProbe != nil { // nil for a conn built without Open (tests)
		c.stopProbe()
		<-c.probeDone
	}
	c.cl.Close()
}

// closeAckWait bounds how long Close waits for the last acks once the
// client is closed. Closing fails every record still buffered, so their
// promises run within milliseconds; the bound only guards against an ack
// callback that blocks.
const closeAckWait = 10 * time.Second

// Close flushes buffered records (bounded by ctx), closes the client, which
// fails whatever could not be flushed with kgo.ErrClientClosed, and waits
// until every written event has been acknowledged. It must not run
// concurrently with Write. It returns the flush error, if any.
func (s *Sink) Close(ctx context.Context) error {
	c := s.conn.Swap(nil)
	if c == nil {
		return nil
	}
	if s.eos != nil {
		s.closeExactly(ctx)
	}
	flushErr := c.cl.Flush(ctx)
	c.close()
	if a := s.avro.Load(); a != nil {
		a.reg.Close() // its idle connections; a later Open uses it again
	}
	s.waitAcks("acks still outstanding after close")
	if flushErr != nil {
		return fmt.Errorf("kafka sink: flush: %w", flushErr)
	}
	return nil
}

// Stats are running totals since the sink was built.
type Stats struct {
	Events        uint64 // events acknowledged with nil
	EventErrors   uint64 // events acknowledged with an error
	Records       uint64 // records written (changes and tombstones)
	RecordBytes   uint64 // key+value bytes of written records
	RecordErrors  uint64 // records that failed
	TopicsCreated uint64 // topics this sink created
	// TruncatesSkipped counts truncates acknowledged without a record
	// because their topic is compacted (they are included in Events).
	TruncatesSkipped uint64
	// Skipped counts events acknowledged without a record because
	// skipped_operations names their op (they are included in Events).
	Skipped uint64
}

type counters struct {
	events, eventErrors, records, recordBytes, recordErrors, topicsCreated, truncatesSkipped, skipped atomic.Uint64
}

// Stats returns the sink's counters; safe to call from any goroutine.
func (s *Sink) Stats() Stats {
	return Stats{
		Events:        s.stats.events.Load(),
		EventErrors:   s.stats.eventErrors.Load(),
		Records:       s.stats.records.Load(),
		RecordBytes:   s.stats.recordBytes.Load(),
		RecordErrors:  s.stats.recordErrors.Load(),
		TopicsCreated: s.stats.topicsCreated.Load(),

		TruncatesSkipped: s.stats.truncatesSkipped.Load(),
		Skipped:          s.stats.skipped.Load(),
	}
}

// fail acknowledges an event that produced no record.
func (s *Sink) fail(ack func(error), err error) error {
	s.stats.eventErrors.Add(1)
	ack(err)
	return err
}
