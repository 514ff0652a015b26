package transform

import (
	"reflect"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

func outboxEvent(op sluice.Op, aggType string) *sluice.Event {
	ev := eventtest.Insert(eventtest.Outbox, eventtest.Text("00000000-0000-4000-8000-000000000001"), eventtest.Text(aggType),
		eventtest.Text("1"), eventtest.Text("OrderCreated"), eventtest.Text(`{"id": 1}`), eventtest.Text("acme"))
	ev.Op = op
	if op == sluice.OpDelete {
		ev.Before, ev.After = ev.After, nil
	}
	return ev
}

func buildOutbox(t *testing.T, raw map[string]any, log *zap.Logger) sluice.Transform {
	t.Helper()
	all := map[string]any{"type": "outbox"}
	for k, v := range raw {
		all[k] = v
	}
	tr, err := New(all, Env{Pipeline: "shop", Path: "pipelines.shop.transforms[0]", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestOutboxMark: Debezium's options (and defaults) become the mark and
// the topic of inserts and snapshot reads.
func TestOutboxMark(t *testing.T) {
	for _, c := range []struct {
		name      string
		raw       map[string]any
		aggType   string
		want      sluice.Outbox
		wantTopic string
	}{
		{"defaults", nil, "order", sluice.Outbox{ID: 0, Key: 2, Payload: 4}, "outbox.event.order"},
		{"placed header, lower-cased route", map[string]any{"fields_additional_placement": []any{"tenant:header:tenantId", "type:header"}},
			"Order", sluice.Outbox{ID: 0, Key: 2, Payload: 4, Headers: []sluice.OutboxHeader{{Column: 5, Name: "tenantId"}, {Column: 3, Name: "type"}}},
			"outbox.event.order"},
		{"renamed columns, expand, replacement", map[string]any{"field_event_id": "aggregateid", "field_event_key": "id",
			"field_payload": "tenant", "route_by_field": "type", "route_topic_replacement": "${routedByValue}.events", "expand_json_payload": true},
			"order", sluice.Outbox{ID: 2, Key: 0, Payload: 5, ExpandJSON: true}, "ordercreated.events"},
		{"fixed topic", map[string]any{"route_topic_replacement": "all-events"}, "order", sluice.Outbox{ID: 0, Key: 2, Payload: 4}, "all-events"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := buildOutbox(t, c.raw, nil)
			for _, op := range []sluice.Op{sluice.OpCreate, sluice.OpRead} {
				ev := outboxEvent(op, c.aggType)
				if keep, err := tr.Apply(ev); err != nil || !keep {
					t.Fatalf("%c: Apply: %v %v", op, keep, err)
				}
				if ev.Outbox == nil || !reflect.DeepEqual(*ev.Outbox, c.want) {
					t.Fatalf("%c: mark %+v, want %+v", op, ev.Outbox, c.want)
				}
				if ev.Topic != c.wantTopic {
					t.Fatalf("%c: topic %q, want %q", op, ev.Topic, c.wantTopic)
				}
			}
		})
	}
}

// TestOutboxOps: updates by on_invalid_op (warn logs Debezium's warning),
// deletes and truncates dropped silently, messages untouched.
func TestOutboxOps(t *testing.T) {
	for _, c := range []struct {
		mode    string
		op      sluice.Op
		keep    bool
		err     string
		warning bool
	}{
		{"warn", sluice.OpUpdate, false, "", true},
		{"skip-silently", sluice.OpUpdate, false, "", false},
		{"error", sluice.OpUpdate, false, "on_invalid_op: error", false},
		{"warn", sluice.OpDelete, false, "", false},
		{"error", sluice.OpDelete, false, "", false},
		{"warn", sluice.OpTruncate, false, "", false},
		{"error", sluice.OpMessage, true, "", false},
	} {
		t.Run(c.mode+"/"+c.op.String(), func(t *testing.T) {
			core, logs := observer.New(zap.WarnLevel)
			tr := buildOutbox(t, map[string]any{"on_invalid_op": c.mode}, zap.New(core))
			ev := outboxEvent(c.op, "order")
			if c.op == sluice.OpMessage {
				ev = eventtest.Message("p", "x")
			}
			keep, err := tr.Apply(ev)
			if keep != c.keep || (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Fatalf("Apply = %v, %v; want %v, %q", keep, err, c.keep, c.err)
			}
			if got := logs.FilterMessageSnippet("unexpected update").Len() == 1; got != c.warning {
				t.Fatalf("warning logged: %v, want %v", got, c.warning)
			}
			if ev.Outbox != nil || ev.Topic != "" {
				t.Fatal("marked")
			}
		})
	}
}

// TestOutboxInvalid: bad entries are refused when built, naming the key;
// a table without a configured column fails at its first event.
func TestOutboxInvalid(t *testing.T) {
	for _, c := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"on_invalid_op": "fail"}, `on_invalid_op: "fail" is not one of warn, error, skip-silently`},
		{map[string]any{"fields_additional_placement": []any{"type:envelope:eventType"}}, `fields_additional_placement[0]: "type:envelope:eventType": placement envelope is not supported`},
		{map[string]any{"fields_additional_placement": []any{"type"}}, `fields_additional_placement[0]: "type" is not column:header[:alias]`},
		{map[string]any{"fields_additional_placement": []any{"type:header:id"}}, `fields_additional_placement[0]: header "id" is written twice`},
		{map[string]any{"route_topic_replacement": "outbox/${routedByValue}"}, `route_topic_replacement: "outbox/${routedByValue}": Kafka topic names`},
		{map[string]any{"route_topic_replacement": "${x}"}, `route_topic_replacement: "${x}": only one ${routedByValue}`},
		{map[string]any{"field_payload": ""}, `field_payload: must name a column`},
		{map[string]any{"route_topic_regex": "x"}, `route_topic_regex`},
	} {
		raw := map[string]any{"type": "outbox"}
		for k, v := range c.raw {
			raw[k] = v
		}
		_, err := New(raw, Env{Pipeline: "shop", Path: "pipelines.shop.transforms[0]"})
		if err == nil || !strings.Contains(err.Error(), "pipelines.shop.transforms[0]") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.raw, err, c.want)
		}
	}
	for _, c := range []struct {
		raw  map[string]any
		ev   *sluice.Event
		want string
	}{
		{map[string]any{"field_event_key": "order_id"}, outboxEvent(sluice.OpCreate, "order"),
			`pipelines.shop.transforms[0].field_event_key: table public.outbox has no column "order_id"`},
		{map[string]any{"fields_additional_placement": []any{"tenant_id:header"}}, outboxEvent(sluice.OpRead, "order"),
			`pipelines.shop.transforms[0].fields_additional_placement[0]: table public.outbox has no column "tenant_id"`},
		{map[string]any{"route_by_field": "id", "field_payload": "aggregateid"}, eventtest.Insert(customers, eventtest.Int(7)),
			`table Sales.Customers has no column "aggregateid"`},
		{nil, func() *sluice.Event {
			ev := outboxEvent(sluice.OpCreate, "order")
			ev.After[1] = sluice.Value{Kind: sluice.KindNull}
			return ev
		}(), `route_by_field: column "aggregatetype" of public.outbox is NULL`},
	} {
		_, err := buildOutbox(t, c.raw, nil).Apply(c.ev)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.raw, err, c.want)
		}
	}
}
