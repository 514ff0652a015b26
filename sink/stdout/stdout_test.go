package stdout

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
	"github.com/sluice-cdc/sluice/internal/eventtest"
	"github.com/sluice-cdc/sluice/internal/eventtest/sinktest"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

const testPath = "pipelines.shop.sinks.out"

func testEnv(t testing.TB) sink.Env { return sinktest.Env(t, testPath) }

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		raw     map[string]any
		want    Config
		wantErr string
	}{
		{name: "defaults", raw: map[string]any{"type": "stdout"},
			want: Config{Type: "stdout", Topic: "{prefix}.{schema}.{table}", MessageTopic: "{prefix}.message"}},
		{name: "pretty", raw: map[string]any{"pretty": true, "topic": "cdc.{table}"},
			want: Config{Topic: "cdc.{table}", MessageTopic: "{prefix}.message", Pretty: true}},
		{name: "unknown key", raw: map[string]any{"writer": "stderr"}, wantErr: testPath + ".writer: unknown key"},
		{name: "wrong type", raw: map[string]any{"pretty": "yes"}, wantErr: testPath + ".pretty"},
		{name: "bad topic", raw: map[string]any{"topic": "{nope}"}, wantErr: testPath + ".topic: "},
		{name: "bad message topic", raw: map[string]any{"message_topic": "{table}"}, wantErr: testPath + ".message_topic: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sink.Build(New, tt.raw, testEnv(t))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Config(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("config = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestExampleConfig(t *testing.T) {
	s, err := sink.Build(New, testenv.ExampleConfig(t), testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Type: "stdout", Topic: "{prefix}.{schema}.{table}", MessageTopic: "{prefix}.message"}
	if got := s.Config(); got != want {
		t.Errorf("example = %+v, want the defaults %+v", got, want)
	}
	if _, err := sink.Lookup("stdout"); err != nil {
		t.Error(err)
	}
}

type line struct {
	Topic   string                     `json:"topic"`
	Key     json.RawMessage            `json:"key"`
	Value   json.RawMessage            `json:"value"`
	Headers map[string]json.RawMessage `json:"headers"`
}

func TestWrite(t *testing.T) {
	env := testEnv(t)
	enc := env.Encoder
	del := &sluice.Event{Op: sluice.OpDelete, Table: eventtest.Orders, Before: sluice.Row{eventtest.Int(4), eventtest.Missing},
		OtherKey: sluice.Row{eventtest.Int(104), eventtest.Missing}}
	upd := &sluice.Event{Op: sluice.OpUpdate, Table: eventtest.Orders, After: sluice.Row{eventtest.Int(2), eventtest.Unchanged}}
	events := []*sluice.Event{
		{Op: sluice.OpCreate, Table: eventtest.Orders, After: sluice.Row{eventtest.Int(1), eventtest.Text("a \"quoted\"\nnote")}},
		upd,
		del,
		{Op: sluice.OpTruncate, Table: eventtest.Orders},
		{Op: sluice.OpMessage, Message: &sluice.Message{Prefix: "audit", Content: []byte("x")}},
	}
	for i, ev := range events {
		ev.Pos = sluice.Position{LSN: 0x100 + uint64(i), TxLSN: 0x200}
		ev.TxOrder = int64(i + 1)
	}

	for _, pretty := range []bool{false, true} {
		t.Run(map[bool]string{false: "lines", true: "pretty"}[pretty], func(t *testing.T) {
			s, err := sink.Build(New, map[string]any{"pretty": pretty}, env)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			s.Writer = &out
			for i, ev := range events {
				var acks []error
				if err := s.Write(t.Context(), ev, func(err error) { acks = append(acks, err) }); err != nil {
					t.Fatalf("Write %d: %v", i, err)
				}
				if len(acks) != 1 || acks[0] != nil {
					t.Fatalf("event %d acks %v, want one nil", i, acks)
				}
			}
			if !pretty && strings.Count(out.String(), "\n") != len(events) {
				t.Fatalf("want %d lines, got:\n%s", len(events), out.String())
			}
			dec := json.NewDecoder(&out)
			for i, ev := range events {
				var l line
				if err := dec.Decode(&l); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				wantTopic := "shopserver.public.orders"
				if ev.Op == sluice.OpMessage {
					wantTopic = "shopserver.message"
				}
				if l.Topic != wantTopic {
					t.Errorf("event %d: topic %q, want %q", i, l.Topic, wantTopic)
				}
				wantKey, ok := enc.AppendKey(nil, ev)
				if !ok {
					wantKey = []byte("null")
				}
				if !jsonEqual(l.Key, wantKey) {
					t.Errorf("event %d: key %s, want %s", i, l.Key, wantKey)
				}
				if !json.Valid(l.Value) || string(l.Value) == "null" {
					t.Errorf("event %d: value %s", i, l.Value)
				}
				var id string
				if err := json.Unmarshal(l.Headers[codec.EventIDHeader], &id); err != nil || id != string(codec.AppendEventID(nil, ev)) {
					t.Errorf("event %d: event id header %s (%v)", i, l.Headers[codec.EventIDHeader], err)
				}
				wantUnch, hasUnch := codec.AppendUnchanged(nil, ev)
				if h, ok := l.Headers[codec.UnchangedHeader]; ok != hasUnch || (ok && !jsonEqual(h, wantUnch)) {
					t.Errorf("event %d: unchanged header %s, want %s", i, h, wantUnch)
				}
				h, ok := l.Headers[codec.NewKeyHeader]
				if ev == del {
					if want := enc.AppendKeyRow(nil, eventtest.Orders, del.OtherKey); !ok || !jsonEqual(h, want) {
						t.Errorf("delete: newkey header %s, want %s", h, want)
					}
				} else if ok {
					t.Errorf("event %d: unexpected newkey header %s", i, h)
				}
			}
		})
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y bytes.Buffer
	return json.Compact(&x, a) == nil && json.Compact(&y, b) == nil && bytes.Equal(x.Bytes(), y.Bytes())
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriteError(t *testing.T) {
	s, err := sink.Build(New, map[string]any{}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Writer = bufio.NewWriterSize(failWriter{}, 16) // fails once its 16 bytes are full
	var acks []error
	ev := &sluice.Event{Op: sluice.OpCreate, Table: eventtest.Orders, After: sluice.Row{eventtest.Int(1), eventtest.Text("a")}}
	err = s.Write(t.Context(), ev, func(err error) { acks = append(acks, err) })
	if err == nil || len(acks) != 1 || acks[0] == nil || !strings.Contains(acks[0].Error(), "broken pipe") {
		t.Fatalf("Write = %v, acks %v; want the write error once", err, acks)
	}
}

func BenchmarkWrite(b *testing.B) {
	s, err := sink.Build(New, map[string]any{}, testEnv(b))
	if err != nil {
		b.Fatal(err)
	}
	s.Writer = discard{}
	ev := &sluice.Event{Op: sluice.OpCreate, Table: eventtest.Orders, After: sluice.Row{eventtest.Int(1), eventtest.Text("some note")}}
	ack := func(error) {}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Write(b.Context(), ev, ack)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
