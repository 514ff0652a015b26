// Package pipeline runs one source, its transforms and its sinks, and owns
// the delivery guarantee: events are handed to every sink in read order,
// the tracker finds the last transaction boundary that every sink has
// acknowledged, and only that position goes back to the source to confirm.
// Any failure tears the pipeline down and restarts it, after a backoff with
// jitter, from the last confirmed position: events after it may repeat,
// none are lost.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

var (
	errClosed = errors.New("pipeline: closed")
	// errDrainTimeout ends a shutdown whose sinks did not finish within
	// DrainTimeout; it is logged, and the pipeline stops without error.
	errDrainTimeout = errors.New("pipeline: drain timeout: sinks abandoned; unacknowledged events will be read again")
)

// Pipeline is one source, an ordered list of transforms and one or more
// sinks, each with its own transforms.
type Pipeline struct {
	Name   string
	Source sluice.Source
	// Transforms run on every event, in order, before any sink holds it.
	Transforms []Transform
	Sinks      []sluice.Sink
	// SinkNames holds, indexed like Sinks, each sink's name in the
	// configuration: the sink label of its metrics. Nil or shorter:
	// the sink's index is its name.
	SinkNames []string
	// SinkTransforms holds, indexed like Sinks, the transforms that run for
	// one sink only, after Transforms, on that sink's Clone of the event.
	// Nil, or shorter than Sinks: the other sinks have none.
	SinkTransforms [][]Transform
	Logger         *zap.Logger

	// Capacity bounds the events in flight (handed to sinks, not yet
	// acknowledged by all). Default 8192.
	Capacity int
	// DrainTimeout bounds a shutdown: once ctx ends, sinks have this long
	// to acknowledge what they hold and to close; then they are abandoned
	// (a Write blocked on a destination that is down returns) and Run
	// returns. Only acknowledged events are ever confirmed, so what was
	// abandoned is read again on the next start. Default 30s; pipeline.Build
	// takes the source's drain_timeout.
	DrainTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between restarts after a
	// failure. Defaults 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// LivenessTick is how often the watchdog samples the loop's progress
	// (liveness.go). Default 1s.
	LivenessTick time.Duration

	Stats Stats
	// Signals counts the pipeline's signals by channel, type and result
	// (sluice_signals_total); Build shares it with the source.
	Signals *sluice.SignalCounter
	// SignalChannel, when set, delivers signals from a Kafka topic to
	// Source while Run runs (signals.go).
	SignalChannel SignalChannel

	countersOnce sync.Once
	counters     []*SinkCounters // SinkCounters
	turns        atomic.Uint64   // calls into emit, Open and Close, counted on entry and return
}

// Transform is a transform as the runner holds it: the plugin and its
// config key (e.g. "pipelines.shop.transforms[0]"), which its errors name.
type Transform struct {
	Path string
	sluice.Transform
}

// apply runs ts on ev in order and reports whether ev is kept, and how
// many of ts saw it (all when kept; through the one that dropped it
// otherwise). A failure is permanent (see sluice.Transform) and names the
// transform's key.
func apply(ts []Transform, ev *sluice.Event) (keep bool, seen int, err error) {
	for i, t := range ts {
		keep, err := t.Apply(ev)
		if err != nil {
			return false, i + 1, sluice.Permanent(fmt.Errorf("%s: %s: %w", t.Path, describe(ev), err))
		}
		if !keep {
			return false, i + 1, nil
		}
	}
	return true, len(ts), nil
}

// describe names an event for an error message: its op, table and position.
func describe(ev *sluice.Event) string {
	where := "no table"
	if ev.Table != nil {
		where = ev.Table.QualifiedName()
	}
	return fmt.Sprintf("op %s on %s at position %d", ev.Op, where, ev.Pos.LSN)
}

// Stats are the pipeline's counters, safe to read at any time.
type Stats struct {
	Events     atomic.Int64  // events handed to sinks
	Restarts   atomic.Int64  // failures followed by a restart
	Checkpoint atomic.Uint64 // TxLSN of the last confirmed position
	Ready      atomic.Bool   // true while source and sinks are connected
	Failed     atomic.Bool   // the pipeline stopped on a permanent error
	LastError  atomic.Value  // string: the last failure

	// Lag, measured when it happens (Debezium's MilliSecondsBehindSource):
	// ReadCommitMs is the commit time (Unix ms) of the last event read and
	// ReadLagMs how long after its commit it was read; DeliveredCommitMs
	// and DeliveredLagMs the same for the newest event every sink has
	// acknowledged. They stay put while the database is idle, so an idle
	// pipeline does not look behind.
	ReadCommitMs, ReadLagMs           atomic.Int64
	DeliveredCommitMs, DeliveredLagMs atomic.Int64
	// InFlight reports the events handed to sinks and not yet
	// acknowledged by all (at most Capacity); nil while not running.
	InFlight atomic.Pointer[func() int]

	// Running is true while Run runs (restarts and their backoff
	// included), and Progress is when its loop last turned or was idle
	// (Unix ns); see liveness.go and Pipeline.Stuck.
	Running  atomic.Bool
	Progress atomic.Int64
}

// Run runs the pipeline until ctx ends (a clean shutdown, returning nil)
// or a permanent error occurs. Other failures are logged and retried.
func (p *Pipeline) Run(ctx context.Context) error {
	p.defaults()
	for _, s := range p.Sinks {
		if r, ok := s.(sink.Reclaimer); ok {
			r.Reclaim()
		}
	}
	defer p.watch()()
	defer p.runSignals(ctx)()
	backoff := p.MinBackoff
	for {
		started := time.Now()
		err := p.runOnce(ctx)
		p.Stats.Ready.Store(false)
		if errors.Is(err, sluice.ErrDone) {
			p.Logger.Info("source finished its work; pipeline stopped")
			return nil
		}
		if ctx.Err() != nil {
			if err != nil && !errors.Is(err, context.Canceled) {
				p.Logger.Warn("pipeline stopped with error during shutdown", zap.Error(err))
			}
			return nil
		}
		if err == nil {
			err = errors.New("source stopped unexpectedly")
		}
		if sluice.IsPermanent(err) {
			return fmt.Errorf("pipeline %s: %w", p.Name, err)
		}
		p.Stats.LastError.Store(err.Error())
		p.Stats.Restarts.Add(1)
		if time.Since(started) > 2*p.MaxBackoff {
			backoff = p.MinBackoff // it ran well for a while: start over
		}
		wait := backoff/2 + rand.N(backoff/2+1) // jitter: 50–100% of backoff
		p.Logger.Warn("pipeline failed; restarting from the last checkpoint",
			zap.Error(err), zap.Duration("backoff", wait))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(2*backoff, p.MaxBackoff)
	}
}

// Ready returns nil while the pipeline is connected and every sink or
// source that reports its own readiness (sluice.ReadyChecker) is ready.
func (p *Pipeline) Ready() error {
	if p.Stats.Failed.Load() {
		msg, _ := p.Stats.LastError.Load().(string)
		return fmt.Errorf("pipeline %s: failed and stopped: %s", p.Name, msg)
	}
	if !p.Stats.Ready.Load() {
		return fmt.Errorf("pipeline %s: not connected", p.Name)
	}
	for _, s := range p.Sinks {
		if rc, ok := s.(sluice.ReadyChecker); ok {
			if err := rc.Ready(); err != nil {
				return fmt.Errorf("pipeline %s: %w", p.Name, err)
			}
		}
	}
	if rc, ok := p.Source.(sluice.ReadyChecker); ok {
		if err := rc.Ready(); err != nil {
			return fmt.Errorf("pipeline %s: %w", p.Name, err)
		}
	}
	return nil
}

func (p *Pipeline) defaults() {
	if p.Capacity <= 0 {
		p.Capacity = 8192
	}
	if p.MinBackoff <= 0 {
		p.MinBackoff = 500 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 30 * time.Second
	}
	if p.DrainTimeout <= 0 {
		p.DrainTimeout = 30 * time.Second
	}
	if p.Logger == nil {
		p.Logger = zap.NewNop()
	}
	if p.LivenessTick <= 0 {
		p.LivenessTick = time.Second
	}
}

// runOnce connects everything, streams until ctx ends or something fails,
// and tears down. On a clean shutdown the source stops reading, sinks
// drain their acknowledgements (which the source confirms), then sinks
// close.
func (p *Pipeline) runOnce(ctx context.Context) error {
	// Sinks must finish delivering what they hold when the daemon is asked
	// to stop, so their context is not a child of ctx's cancellation; it
	// ends only on failure or after the drain.
	sinkCtx, cancelSinks := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelSinks(nil)
	srcCtx, cancelSrc := context.WithCancelCause(ctx)
	defer cancelSrc(nil)

	// A shutdown may take DrainTimeout, no more: then the sinks' context
	// ends, so a Write or Close blocked on a destination that is down
	// returns, and the source sees its emit fail.
	closeBy := make(chan time.Time, 1) // when the sinks must be closed
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
		case <-finished:
			return
		}
		deadline := time.Now().Add(p.DrainTimeout)
		closeBy <- deadline
		t := time.NewTimer(p.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			p.Logger.Warn("shutdown: sinks did not finish in time", zap.Duration("drain_timeout", p.DrainTimeout))
			cancelSinks(errDrainTimeout)
			cancelSrc(errDrainTimeout)
		case <-finished:
		}
	}()

	opened := make([]sluice.Sink, 0, len(p.Sinks))
	afterSinks := func() {} // what ends once the sinks are closed
	defer func() {
		defer afterSinks()
		budget := 30 * time.Second // closing after a failure
		if ctx.Err() != nil {
			// A shutdown: what is left of the drain (the watcher above
			// always sends once ctx has ended).
			budget = max(time.Until(<-closeBy), time.Second)
		}
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
		defer cancel()
		for _, s := range opened {
			if err := p.closeSink(closeCtx, s); err != nil {
				p.Logger.Warn("closing sink", zap.Error(err))
			}
		}
	}()
	for _, s := range p.Sinks {
		if err := p.openSink(srcCtx, s); err != nil {
			return fmt.Errorf("open sink: %w", err)
		}
		opened = append(opened, s)
	}

	var failOnce sync.Once
	fail := func(err error) {
		failOnce.Do(func() {
			cancelSrc(err)
			cancelSinks(err)
		})
	}
	confirm := p.confirmer(fail)
	tr := newTracker(p.Capacity, confirm.request)
	tr.delivered = func(commitMs int64) {
		p.Stats.DeliveredCommitMs.Store(commitMs)
		p.Stats.DeliveredLagMs.Store(max(time.Now().UnixMilli()-commitMs, 0))
	}
	p.gateCheckpoints(tr, fail)
	inFlight := tr.inFlight
	p.Stats.InFlight.Store(&inFlight)
	defer p.Stats.InFlight.Store(nil)
	defer tr.close()

	// Stateful transforms open after the sinks and close when the run
	// ends (stateful.go).
	closeTransforms, err := p.openTransforms(srcCtx)
	afterSinks = func() {
		confirm.stop() // the drain's last confirmation, with the state still open
		closeTransforms()
	}
	if err != nil {
		return err
	}

	acks := tr.ackFuncs(fail)
	meters := p.sinkMeters(acks)
	// Sinks that write at transaction boundaries get the marks too, and
	// the heartbeats go to the sinks that write them; the checkpoint
	// waits for their acknowledgements (heartbeat.go).
	marks, heartbeats := markWriters(p.Sinks)
	// deliver hands one event that passed the pipeline's transforms to
	// every sink, through the sink's own transforms. It waits for room
	// under sinkCtx, not srcCtx: after a stop request a source finishes
	// the transaction it is in the middle of (its events are already with
	// the sinks), so that the drain confirms it and a restart does not
	// repeat it. Only a failure or the drain's deadline ends that.
	deliver := func(ev *sluice.Event) error {
		var commitMs int64
		if !ev.CommitTime.IsZero() {
			commitMs = ev.CommitTime.UnixMilli()
			if commitMs != p.Stats.ReadCommitMs.Load() { // once per transaction, not per event
				p.Stats.ReadCommitMs.Store(commitMs)
				p.Stats.ReadLagMs.Store(max(time.Now().UnixMilli()-commitMs, 0))
			}
		}
		seq, err := tr.addAt(sinkCtx, ev.Pos, commitMs, false, len(p.Sinks))
		if err != nil {
			return err
		}
		p.Stats.Events.Add(1)
		ack := acks[seq%uint64(len(acks))]
		for i, s := range p.Sinks {
			out := ev
			if i < len(p.SinkTransforms) && len(p.SinkTransforms[i]) > 0 {
				out = ev.Clone() // other sinks hold ev: this sink's transforms change a copy
				keep, _, err := apply(p.SinkTransforms[i], out)
				if err != nil {
					fail(err)
					return err
				}
				if !keep {
					ack(nil) // filtered for this sink: its part is done
					continue
				}
			}
			if err := s.Write(sinkCtx, out, meters[i].handOver(ack, seq)); err != nil {
				fail(err)
				return err
			}
		}
		return nil
	}
	chain := newChain(p.Transforms, deliver, fail)
	emit := func(ev *sluice.Event) error {
		switch ev.Op {
		case sluice.OpMark:
			return emitMark(sinkCtx, tr, acks, marks, ev, fail)
		case sluice.OpHeartbeat: // not a change: no transforms
			return emitMark(sinkCtx, tr, acks, heartbeats, ev, fail)
		}
		return chain.run(ev, 0)
	}

	p.seekSource()
	p.Stats.Ready.Store(true)
	err = p.Source.Run(srcCtx, p.turning(emit))
	if cause := context.Cause(srcCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause // a sink failed: that is the real reason
	}
	if f := tr.failure(); f != nil {
		err = f
	}
	return err
}
