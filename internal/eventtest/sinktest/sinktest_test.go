package sinktest

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/sink"
)

func TestEnv(t *testing.T) {
	env := Env(t, "pipelines.shop.sinks.out")
	if env.Pipeline != "shop" || env.Path != "pipelines.shop.sinks.out" || env.Encoder == nil || env.Logger == nil {
		t.Errorf("Env = %+v, want every field filled, as pipeline.Build does", env)
	}
}

// fakeConfig and fakeSink are a sink that is never opened.
type fakeConfig struct {
	Level int `yaml:"level"`
}

func (c fakeConfig) Defaults() fakeConfig { return fakeConfig{Level: 1} }

type fakeSink struct{ cfg fakeConfig }

var errNotOpen = errors.New("fake sink: not open")

func newFake(cfg fakeConfig, env sink.Env) (*fakeSink, error) {
	if cfg.Level < 0 {
		return nil, errors.New(env.Path + ".level: must not be negative")
	}
	return &fakeSink{cfg: cfg}, nil
}

func (s *fakeSink) Config() fakeConfig          { return s.cfg }
func (s *fakeSink) Open(context.Context) error  { return nil }
func (s *fakeSink) Close(context.Context) error { return nil }
func (s *fakeSink) Write(_ context.Context, _ *sluice.Event, ack func(error)) error {
	ack(errNotOpen)
	return errNotOpen
}

func init() { sink.Register("sinktest-fake", newFake, fakeConfig{}) }

func TestRunConfigCases(t *testing.T) {
	RunConfigCases(t, newFake, "p", []ConfigCase[fakeConfig]{
		{Name: "defaults", Raw: map[string]any{}, Check: func(t *testing.T, c fakeConfig) {
			if c.Level != 1 {
				t.Errorf("level %d, want the default 1", c.Level)
			}
		}},
		{Name: "invalid", Raw: map[string]any{"level": -1}, WantErr: []string{"p.level", "negative"}},
		{Name: "unknown key", Raw: map[string]any{"lvl": 1}, WantErr: []string{"p.lvl: unknown key"}},
	})
}

func TestRegisteredAndWriteBeforeOpen(t *testing.T) {
	Registered(t, "sinktest-fake", map[string]any{"level": 2}, Env(t, "p"))
	s, err := sink.Build(newFake, map[string]any{}, Env(t, "p"))
	if err != nil {
		t.Fatal(err)
	}
	WriteBeforeOpen(t, s, eventtest.Insert(eventtest.Orders, eventtest.Int(1), eventtest.Text("a")), errNotOpen)
}
