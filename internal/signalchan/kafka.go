package signalchan

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/kafkaconn"
)

// Kafka is the Kafka signal channel of one pipeline. Its consumer group
// commits a record's offset once the source accepted or refused the
// signal, so a signal is acted on once across restarts (at least once: a
// crash between the source's answer and the commit offers it again). A
// new group starts at the topic's end: signals written before the
// pipeline first ran are not replayed; an existing group resumes where it
// stopped, so a signal written while the daemon was down is acted on when
// it is back.
type Kafka struct {
	cfg      KafkaConfig
	pipeline string
	prefix   string
	counter  *sluice.SignalCounter
	log      *zap.Logger

	// minWait and maxWait bound the backoff, both between connection
	// attempts and while the source is not running. Tests shorten them.
	minWait, maxWait time.Duration
}

// Group is the channel's consumer group.
func (k *Kafka) Group() string { return k.cfg.Group }

// maxLogged bounds how much of a malformed record's value is logged.
const maxLogged = 256

// Run consumes the topic and hands this pipeline's signals to recv, in
// topic order, until ctx ends. Broker failures are logged and retried
// with backoff; Run returns only when ctx ends.
func (k *Kafka) Run(ctx context.Context, recv sluice.SignalReceiver) error {
	k.defaults()
	wait := k.minWait
	for {
		started := time.Now()
		err := k.runOnce(ctx, recv)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > 2*k.maxWait {
			wait = k.minWait
		}
		k.log.Warn("signal topic: consumer failed; retrying", zap.Error(err), zap.Duration("backoff", wait))
		if !sleep(ctx, jitter(wait)) {
			return nil
		}
		wait = min(2*wait, k.maxWait)
	}
}

func (k *Kafka) defaults() {
	if k.minWait <= 0 {
		k.minWait = 500 * time.Millisecond
	}
	if k.maxWait <= 0 {
		k.maxWait = 30 * time.Second
	}
}

// runOnce connects, makes sure the topic and the group's starting offsets
// exist, and consumes until ctx ends or the client fails.
func (k *Kafka) runOnce(ctx context.Context, recv sluice.SignalReceiver) error {
	conn, err := kafkaconn.Opts(k.cfg.TLS, k.cfg.SASL)
	if err != nil {
		return fmt.Errorf("signal topic: %w", err)
	}
	conn = append(conn,
		kgo.SeedBrokers(k.cfg.Brokers...),
		kgo.ClientID(k.cfg.ClientID),
		kgo.WithLogger(kafkaconn.Logger{L: k.log}),
	)
	// The starting offsets are committed before the consumer exists: a
	// consumer starts joining its group as soon as it is created, and a
	// group with a member refuses a commit from outside it
	// (UNKNOWN_MEMBER_ID), so a commit made through the consumer's own
	// client raced its join, and lost it on every retry under load.
	adm, err := kgo.NewClient(conn...)
	if err != nil {
		return fmt.Errorf("signal topic: client: %w", err)
	}
	err = k.start(ctx, kadm.NewClient(adm))
	adm.Close()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(conn[:len(conn):len(conn)],
		kgo.ConsumerGroup(k.cfg.Group),
		kgo.ConsumeTopics(k.cfg.Topic),
		// A new group's offsets are committed at the topic's end before
		// it consumes (start above); this only applies to an offset
		// the topic's retention has passed: the oldest signals kept
		// were never handled, so they are read.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(k.cfg.SessionTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, k.cfg.SessionTimeout/3)),
		kgo.MetadataMaxAge(5*time.Second),
		kgo.FetchMaxWait(time.Second),
	)...)
	if err != nil {
		return fmt.Errorf("signal topic: client: %w", err)
	}
	defer cl.Close() // leaves the group, so a restart rejoins at once
	k.log.Info("signal topic: consuming", zap.String("group", k.cfg.Group))
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if fs.IsClientClosed() {
			return errors.New("signal topic: client closed")
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			k.log.Warn("signal topic: fetch", zap.String("topic", topic), zap.Int32("partition", p), zap.Error(err))
			ferr = err
		})
		if ferr != nil && fs.NumRecords() == 0 {
			// franz-go retries what can be retried; a pause keeps a
			// persistent error (authorization) from spinning.
			if !sleep(ctx, jitter(k.minWait)) {
				return nil
			}
			continue
		}
		var skipped *kgo.Record // handled without the source, not yet committed
		for _, r := range fs.Records() {
			delivered, err := k.handle(ctx, recv, r)
			if err != nil {
				return nil // ctx ended while the source was not running: offered again next time
			}
			if !delivered {
				skipped = r
				continue
			}
			skipped = nil
			k.commit(ctx, cl, r)
		}
		if skipped != nil {
			k.commit(ctx, cl, skipped)
		}
	}
}

// start creates the topic when it is missing (one partition: signals are
// ordered) and, for a group that has never committed, commits the
// topic's end offsets, so the group starts at the end whenever its
// consumer joins: a signal written after start returns is never missed,
// and one written before the pipeline ever ran is never replayed.
func (k *Kafka) start(ctx context.Context, adm *kadm.Client) error {
	resp, err := adm.CreateTopic(ctx, 1, -1, nil, k.cfg.Topic)
	switch {
	case err == nil:
		k.log.Info("signal topic: created", zap.Int32("partitions", resp.NumPartitions))
	case errors.Is(err, kerr.TopicAlreadyExists):
	default:
		// Maybe no right to create topics: the topic may exist anyway,
		// or be made by someone else; the consumer waits for it.
		k.log.Warn("signal topic: cannot create it", zap.Error(err))
	}
	committed, err := adm.FetchOffsets(ctx, k.cfg.Group)
	if err != nil {
		return fmt.Errorf("signal topic: offsets of group %s: %w", k.cfg.Group, err)
	}
	ends, err := kafkaconn.EndOffsets(ctx, adm, k.cfg.Topic)
	if err != nil {
		return err
	}
	fresh := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Partition < 0 {
			return
		}
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil && c.At >= 0 {
			return // the group resumes there
		}
		fresh.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: -1})
	})
	if len(fresh) == 0 {
		return nil
	}
	cresp, err := adm.CommitOffsets(ctx, k.cfg.Group, fresh)
	if err == nil {
		err = cresp.Error()
	}
	if err != nil {
		// A group with members (an earlier run that has not timed out
		// yet) refuses the commit: try again after the backoff.
		return fmt.Errorf("signal topic: starting offsets of new group %s: %w", k.cfg.Group, err)
	}
	k.log.Info("signal topic: new consumer group starts at the topic's end", zap.String("group", k.cfg.Group))
	return nil
}

// handle hands one record to recv when it is keyed for this pipeline.
// delivered is false for records of other pipelines. It waits, with
// backoff, while the source is not running; err is non-nil only when ctx
// ended meanwhile (the record is then not committed).
func (k *Kafka) handle(ctx context.Context, recv sluice.SignalReceiver, r *kgo.Record) (delivered bool, err error) {
	if key := string(r.Key); key != k.pipeline && (k.prefix == "" || key != k.prefix) {
		k.log.Debug("signal topic: record for another pipeline skipped", zap.String("key", clip(r.Key, 64)), zap.Int64("offset", r.Offset))
		return false, nil
	}
	s, err := sluice.ParseSignal(r.Value)
	if err != nil {
		k.counter.Count(sluice.ChannelKafka, s.Type, err)
		k.log.Warn("signal topic: malformed signal record skipped", zap.Int32("partition", r.Partition), zap.Int64("offset", r.Offset),
			zap.String("value", clip(r.Value, maxLogged)), zap.Error(err))
		return true, nil
	}
	if s.ID == "" {
		// Debezium's records carry an id; one without gets its place
		// in the topic, which is unique.
		s.ID = fmt.Sprintf("kafka-%s-%d-%d", r.Topic, r.Partition, r.Offset)
	}
	fields := []zap.Field{zap.String("id", s.ID), zap.String("type", s.Type), zap.Int64("offset", r.Offset)}
	wait := k.minWait
	for attempt := 0; ; attempt++ {
		err := recv.Signal(ctx, s)
		switch {
		case err == nil:
			k.counter.Count(sluice.ChannelKafka, s.Type, nil)
			k.log.Info("signal topic: signal accepted", fields...)
			return true, nil
		case errors.Is(err, sluice.ErrRefused):
			k.counter.Count(sluice.ChannelKafka, s.Type, err)
			k.log.Warn("signal topic: signal refused", append(fields, zap.Error(err))...)
			return true, nil
		case ctx.Err() != nil:
			return false, ctx.Err()
		case errors.Is(err, sluice.ErrNotRunning):
			if attempt == 0 {
				k.log.Info("signal topic: source not running; the signal waits for it", fields...)
			}
		default:
			// Not refused for what it says: a failure of the moment
			// (the database, the snapshot state). Offered again.
			k.log.Warn("signal topic: the source could not take the signal; offering it again", append(fields, zap.Error(err))...)
		}
		if !sleep(ctx, jitter(wait)) {
			return false, ctx.Err()
		}
		wait = min(2*wait, k.maxWait/6)
	}
}

// commit commits r's offset; a failure is logged: the signal may then be
// offered again after a restart.
func (k *Kafka) commit(ctx context.Context, cl *kgo.Client, r *kgo.Record) {
	// The source has acted: the commit must not be lost to a shutdown
	// that begins meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cl.CommitRecords(ctx, r); err != nil {
		k.log.Warn("signal topic: committing the offset; the signal may be offered again after a restart",
			zap.Int64("offset", r.Offset), zap.Error(err))
	}
}

// jitter is 50–100% of d.
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// sleep waits d, or less when ctx ends first; it reports whether ctx is
// still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
