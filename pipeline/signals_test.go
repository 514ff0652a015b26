package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
)

// signalSource fails its first runs (so the pipeline restarts it) and
// takes signals.
type signalSource struct {
	sourceFunc
}

func (signalSource) Signal(context.Context, sluice.Signal) error { return nil }

// countingChannel records how often Run was called and whether it runs.
type countingChannel struct {
	runs, running atomic.Int32
	recv          sluice.SignalReceiver
	mu            sync.Mutex
}

func (c *countingChannel) Run(ctx context.Context, recv sluice.SignalReceiver) error {
	c.runs.Add(1)
	c.running.Add(1)
	defer c.running.Add(-1)
	c.mu.Lock()
	c.recv = recv
	c.mu.Unlock()
	<-ctx.Done()
	return nil
}

// TestSignalChannelOutlivesSourceRestarts: the channel starts once with
// the pipeline, keeps running while the source fails and restarts, and
// stops when the pipeline does.
func TestSignalChannelOutlivesSourceRestarts(t *testing.T) {
	var starts atomic.Int32
	src := signalSource{sourceFunc(func(ctx context.Context, _ func(*sluice.Event) error) error {
		if starts.Add(1) <= 3 {
			return errors.New("database went away")
		}
		<-ctx.Done()
		return nil
	})}
	ch := &countingChannel{}
	p := &Pipeline{Name: "shop", Source: src, Sinks: []sluice.Sink{sinkFunc(func(*sluice.Event, func(error)) {})},
		SignalChannel: ch, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, "the source's fourth start", func() bool { return starts.Load() >= 4 })
	if n := ch.runs.Load(); n != 1 || ch.running.Load() != 1 {
		t.Errorf("after 3 source restarts the channel was started %d times, running %d; want once, running", n, ch.running.Load())
	}
	ch.mu.Lock()
	if _, ok := ch.recv.(signalSource); !ok {
		t.Errorf("the channel delivers to %T, want the source", ch.recv)
	}
	ch.mu.Unlock()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ch.running.Load() != 0 {
		t.Error("the channel still runs after the pipeline stopped")
	}
}

// TestBuildSignals: a signals block builds a channel for a source that
// takes signals, and is refused, naming the key, for one that does not.
func TestBuildSignals(t *testing.T) {
	raw := map[string]any{"kafka": map[string]any{"brokers": []any{"127.0.0.1:9092"}, "topic": "sluice-signals"}}
	ch, err := buildSignals("shop", "shop", "pipelines.shop.signals", raw, signalSource{}, nil, &sluice.SignalCounter{})
	if err != nil || ch == nil {
		t.Errorf("a source that takes signals: %v, %v", ch, err)
	}
	_, err = buildSignals("shop", "shop", "pipelines.shop.signals", raw, sourceFunc(nil), nil, nil)
	if err == nil || err.Error() != "pipelines.shop.signals.kafka: this pipeline's source takes signals only from its own signal table" {
		t.Errorf("a source without signals: %v", err)
	}
	if ch, err := buildSignals("shop", "shop", "pipelines.shop.signals", nil, sourceFunc(nil), nil, nil); ch != nil || err != nil {
		t.Errorf("no block: %v, %v", ch, err)
	}
	f, err := config.Parse([]byte("pipelines:\n  shop:\n    source: {type: postgres}\n    sinks: {stdout: {}}\n    signals:\n      kafka: {brokers: [b:9092], topic: s, nope: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Build("shop", f.Pipelines["shop"], "", nil)
	if err == nil || !strings.Contains(err.Error(), "pipelines.shop.signals.kafka.nope: unknown key") {
		t.Errorf("Build: %v, want the unknown key named", err)
	}
}

// TestSignalsEnvironmentOverride: SLUICE_PIPELINES_<NAME>_SIGNALS_… sets a
// key of the signals block that the file leaves out, as it does for the
// source's and the sinks' blocks, so a password need not be in the file.
func TestSignalsEnvironmentOverride(t *testing.T) {
	t.Setenv("SLUICE_PIPELINES_SHOP_SIGNALS_KAFKA_SASL_PASSWORD", "s3cret")
	f, err := config.Parse([]byte(`
pipelines:
  shop:
    source: {type: postgres, dsn: "postgres://u@h/db"}
    signals:
      kafka: {brokers: ["k:9092"], topic: sig, sasl: {mechanism: plain, username: u}}
    sinks: {stdout: {}}
`))
	if err != nil {
		t.Fatal(err)
	}
	kafka, _ := f.Pipelines["shop"].Signals["kafka"].(map[string]any)
	sasl, _ := kafka["sasl"].(map[string]any)
	if sasl["password"] != "s3cret" {
		t.Errorf("signals.kafka.sasl = %v, want the password from the environment", sasl)
	}
}
