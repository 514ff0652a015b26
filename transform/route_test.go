package transform

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/eventtest"
)

func shard(n string) *sluice.Table {
	return &sluice.Table{DB: "shop", Schema: "public", Name: "orders_" + n, Columns: eventtest.Orders.Columns, Key: eventtest.Orders.Key}
}

// TestRoute: events whose default topic matches the whole regex go to the
// replacement; others, messages and events another transform routed keep
// their destination.
func TestRoute(t *testing.T) {
	env := Env{Path: "pipelines.shop.transforms[0]", TopicPrefix: "shop", Database: "shop"}
	tr, err := New(map[string]any{"type": "route", "topic_regex": `(.*)\.orders_[0-9]+`, "topic_replacement": "${1}.orders"}, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ev   *sluice.Event
		want string
	}{
		{"shard 1", eventtest.Insert(shard("1"), eventtest.Int(1), eventtest.Text("a")), "shop.public.orders"},
		{"shard 64", eventtest.Insert(shard("64"), eventtest.Int(1), eventtest.Text("a")), "shop.public.orders"},
		{"not a shard", eventtest.Insert(shard("x"), eventtest.Int(1), eventtest.Text("a")), ""},
		{"a partial match is none", eventtest.Insert(&sluice.Table{Schema: "public", Name: "orders_1_old", Columns: eventtest.Orders.Columns}, eventtest.Int(1), eventtest.Text("a")), ""},
		{"message", eventtest.Message("p", "c"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for range 2 { // from the cache the second time
				ev := *c.ev
				if keep, err := tr.Apply(&ev); !keep || err != nil {
					t.Fatalf("Apply = %v, %v", keep, err)
				}
				if ev.Topic != c.want {
					t.Fatalf("topic %q, want %q", ev.Topic, c.want)
				}
			}
		})
	}
	ev := eventtest.Insert(shard("7"), eventtest.Int(1), eventtest.Text("a"))
	if _, err := tr.Apply(ev); err != nil || *ev.Route != (sluice.Route{Topic: "shop.public.orders", KeyField: "__dbz__physicalTableIdentifier", KeyValue: "shop.public.orders_7"}) {
		t.Errorf("route %+v, %v", ev.Route, err)
	}
	routed := eventtest.Insert(shard("1"), eventtest.Int(1), eventtest.Text("a"))
	routed.Topic = "outbox.event.x"
	if _, err := tr.Apply(routed); err != nil || routed.Topic != "outbox.event.x" {
		t.Errorf("an event routed before: %q, %v", routed.Topic, err)
	}
}

// TestRouteKeyField: the key field's name and value follow Debezium's
// key.field.* options; a keyless table's key stays null (no field).
func TestRouteKeyField(t *testing.T) {
	keyless := &sluice.Table{Schema: "public", Name: "orders_9", Columns: eventtest.Orders.Columns}
	for _, c := range []struct {
		name string
		raw  map[string]any
		t    *sluice.Table
		want sluice.Route
	}{
		{"default", nil, shard("3"), sluice.Route{Topic: "shop.orders", KeyField: "__dbz__physicalTableIdentifier", KeyValue: "shop.public.orders_3"}},
		{"named, from a regex", map[string]any{"key_field_name": "shard", "key_field_regex": `.*_([0-9]+)`, "key_field_replacement": "s${1}"},
			shard("3"), sluice.Route{Topic: "shop.orders", KeyField: "shard", KeyValue: "s3"}},
		{"regex not matching: the topic", map[string]any{"key_field_regex": `nothing`, "key_field_replacement": "x"},
			shard("3"), sluice.Route{Topic: "shop.orders", KeyField: "__dbz__physicalTableIdentifier", KeyValue: "shop.public.orders_3"}},
		{"uniqueness off", map[string]any{"key_enforce_uniqueness": false}, shard("3"), sluice.Route{Topic: "shop.orders"}},
		{"keyless", nil, keyless, sluice.Route{Topic: "shop.orders"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw := map[string]any{"type": "route", "topic_regex": `shop\.public\.orders_.*`, "topic_replacement": "shop.orders"}
			for k, v := range c.raw {
				raw[k] = v
			}
			tr, err := New(raw, Env{Path: "p", TopicPrefix: "shop"})
			if err != nil {
				t.Fatal(err)
			}
			ev := eventtest.Insert(c.t, eventtest.Int(1), eventtest.Text("a"))
			if _, err := tr.Apply(ev); err != nil || ev.Route == nil || *ev.Route != c.want || ev.Topic != c.want.Topic {
				t.Fatalf("route %+v topic %q, %v; want %+v", ev.Route, ev.Topic, err, c.want)
			}
		})
	}
}

// TestRouteErrors: missing keys and a bad regex are validate errors; a
// replacement that is no topic name fails the table's first event.
func TestRouteErrors(t *testing.T) {
	env := Env{Path: "p", TopicPrefix: "shop"}
	for _, c := range []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"type": "route", "topic_replacement": "x"}, "p.topic_regex: required"},
		{map[string]any{"type": "route", "topic_regex": "x"}, "p.topic_replacement: required"},
		{map[string]any{"type": "route", "topic_regex": "(", "topic_replacement": "x"}, "p.topic_regex: error parsing regexp"},
		{map[string]any{"type": "route", "topic_regex": "x", "topic_replacement": "x", "key_field_regex": "("}, "p.key_field_regex: key_field_regex and key_field_replacement go together"},
		{map[string]any{"type": "route", "topic_regex": "x", "topic_replacement": "x", "key_field_regex": "(", "key_field_replacement": "y"}, "p.key_field_regex: error parsing regexp"},
		{map[string]any{"type": "route", "topic_regex": "x", "topic_replacement": "x", "key_field_name": ""}, "p.key_field_name: empty"},
		{map[string]any{"type": "route", "topic_regex": "x", "topic_replacement": "x", "key_enforce_uniqueness": false, "key_field_regex": "a", "key_field_replacement": "b"}, "p.key_field_regex: only with key_enforce_uniqueness"},
	} {
		if _, err := New(c.raw, env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.raw, err, c.want)
		}
	}
	tr, err := New(map[string]any{"type": "route", "topic_regex": `.*`, "topic_replacement": "all orders"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Apply(eventtest.Insert(shard("1"), eventtest.Int(1), eventtest.Text("a"))); err == nil ||
		!strings.Contains(err.Error(), `topic_replacement: "all orders" (from shop.public.orders_1) is not a Kafka topic name`) {
		t.Errorf("bad topic: %v", err)
	}
}
