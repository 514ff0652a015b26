package sink

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
)

func TestParseTopic(t *testing.T) {
	tests := []struct {
		tmpl    string
		wantErr string
	}{
		{tmpl: DefaultTopic},
		{tmpl: DefaultMessageTopic},
		{tmpl: "cdc-{db}_{table}.v1"},
		{tmpl: "fixed"},
		{tmpl: "", wantErr: "empty"},
		{tmpl: "{prefix}.{schema", wantErr: "unclosed"},
		{tmpl: "{prefix}.{Table}", wantErr: "unknown placeholder {Table}"},
		{tmpl: "{}", wantErr: "unknown placeholder {}"},
		{tmpl: "a b", wantErr: `' '`},
		{tmpl: "{table}}", wantErr: `'}'`},
		{tmpl: "é{table}", wantErr: `'é'`},
	}
	for _, tt := range tests {
		t.Run(tt.tmpl, func(t *testing.T) {
			got, err := ParseTopic(tt.tmpl)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			case err == nil && got.String() != tt.tmpl:
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}

func TestTopicExpand(t *testing.T) {
	tests := []struct {
		tmpl                      string
		prefix, db, schema, table string
		want                      string
	}{
		{DefaultTopic, "shop", "shopdb", "public", "orders", "shop.public.orders"},
		{DefaultTopic, "shop", "inventory", "", "orders", "shop.inventory.orders"}, // MySQL: no schema
		{"{db}-{table}", "shop", "shopdb", "public", "orders", "shopdb-orders"},
		{"x.{table}", "p", "d", "s", "Order Lines/2024", "x.Order_Lines_2024"},
		{"x.{schema}.{table}", "p", "d", "Ünïcode", "t", "x._n_code.t"},
		{"fixed", "p", "d", "s", "t", "fixed"},
		{DefaultMessageTopic, "shop", "", "", "", "shop.message"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			tp, err := ParseTopic(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			if got := tp.Expand(tt.prefix, tt.db, tt.schema, tt.table); got != tt.want {
				t.Errorf("Expand = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRouter(t *testing.T) {
	opt := codec.Options{Name: "shopserver", DB: "shop"}
	mysqlTable := &sluice.Table{DB: "inventory", Name: "customers"}
	noDBTable := &sluice.Table{Schema: "public", Name: "t"}
	tests := []struct {
		name           string
		table, message string
		ev             *sluice.Event
		want           string
	}{
		{"insert", DefaultTopic, DefaultMessageTopic, insertEvent(1, "a"), "shopserver.public.orders"},
		{"truncate goes to the table topic", DefaultTopic, DefaultMessageTopic, truncateEvent(), "shopserver.public.orders"},
		{"mysql table", DefaultTopic, DefaultMessageTopic, &sluice.Event{Op: sluice.OpCreate, Table: mysqlTable}, "shopserver.inventory.customers"},
		{"db from encoder", "{db}.{table}", DefaultMessageTopic, &sluice.Event{Op: sluice.OpCreate, Table: noDBTable}, "shop.t"},
		{"message", DefaultTopic, DefaultMessageTopic, messageEvent("audit", "x"), "shopserver.message"},
		{"message with db", DefaultTopic, "{prefix}.{db}.messages", messageEvent("audit", "x"), "shopserver.shop.messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRouter("p", tt.table, tt.message, opt)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // second time from the cache
				if got := r.Topic(tt.ev); got != tt.want {
					t.Fatalf("Topic = %q, want %q", got, tt.want)
				}
			}
		})
	}
}

func TestRouterErrors(t *testing.T) {
	tests := []struct {
		name           string
		table, message string
		opt            codec.Options
		want           []string
	}{
		{"bad table template", "{x}", DefaultMessageTopic, codec.Options{Name: "s"}, []string{"p.topic: "}},
		{"message uses schema", DefaultTopic, "{prefix}.{schema}", codec.Options{Name: "s"}, []string{"p.message_topic: logical messages have no table"}},
		{"no prefix", DefaultTopic, DefaultMessageTopic, codec.Options{}, []string{"p.topic: template uses {prefix}", "p.message_topic: template uses {prefix}"}},
		{"message expands empty", DefaultTopic, "{db}", codec.Options{Name: "s"}, []string{"p.message_topic: topic name expands to the empty string"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRouter("p", tt.table, tt.message, tt.opt)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

var ordersTable = &sluice.Table{DB: "shop", Schema: "public", Name: "orders"}

func insertEvent(int64, string) *sluice.Event {
	return &sluice.Event{Op: sluice.OpCreate, Table: ordersTable}
}

func truncateEvent() *sluice.Event { return &sluice.Event{Op: sluice.OpTruncate, Table: ordersTable} }

func messageEvent(prefix, content string) *sluice.Event {
	return &sluice.Event{Op: sluice.OpMessage, Message: &sluice.Message{Prefix: prefix, Content: []byte(content)}}
}
