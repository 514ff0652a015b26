package pipeline

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/signalchan"
)

func init() { config.RegisterSchema("signals", "", signalchan.Config{}) }

// SignalChannel delivers signals from outside the source's own signal
// table (a Kafka topic) to the source. It runs for as long as the
// pipeline does, across the source's restarts: while the source is not
// running, it holds the signal and offers it again (sluice.ErrNotRunning).
type SignalChannel interface {
	// Run delivers signals to recv until ctx ends.
	Run(ctx context.Context, recv sluice.SignalReceiver) error
}

// buildSignals builds the pipeline's signals block (path is its key).
// A channel needs a source that takes signals (sluice.SignalReceiver).
func buildSignals(name, topicPrefix, path string, raw map[string]any, src sluice.Source, log *zap.Logger, counter *sluice.SignalCounter) (SignalChannel, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	k, err := signalchan.New(raw, signalchan.Env{Pipeline: name, TopicPrefix: topicPrefix, Path: path, Logger: log, Signals: counter})
	if err != nil || k == nil {
		return nil, err
	}
	if _, ok := src.(sluice.SignalReceiver); src != nil && !ok {
		return nil, fmt.Errorf("%s.kafka: this pipeline's source takes signals only from its own signal table", path)
	}
	return k, nil
}

// runSignals starts p.SignalChannel, if any, and returns what stops it
// and waits for it.
func (p *Pipeline) runSignals(ctx context.Context) (stop func()) {
	recv, ok := p.Source.(sluice.SignalReceiver)
	if p.SignalChannel == nil || !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.SignalChannel.Run(ctx, recv); err != nil {
			p.Logger.Error("signal channel stopped", zap.Error(err))
		}
	}()
	return func() { cancel(); <-done }
}
