package kafka

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/codec"
)

// Unwrapped events are written as Debezium's ExtractNewRecordState
// leaves them (testdata/golden/debezium-smt): a delete is one record with
// the value null (tombstone mode) or the rewritten row, never followed by
// a tombstone; add_headers come after the connector's own headers; in
// drop mode a delete that reaches the sink writes nothing and is still
// acknowledged; delete-to-tombstone writes a Kafka tombstone instead of
// the delete, rewrite-with-tombstone the rewritten delete and then a
// tombstone (testdata/golden/debezium-smt/postgres/unwrap-*-tombstone).
func TestUnwrapRecords(t *testing.T) {
	brokers := kafkaBrokers(t)
	for _, c := range []struct {
		name   string
		u      *sluice.Unwrap
		values []string // per record, the start of its value
		heads  [][]string
	}{
		{"tombstone", &sluice.Unwrap{}, []string{"null", `{"id":104,`},
			[][]string{{codec.EventIDHeader, codec.NewKeyHeader}, {codec.EventIDHeader, codec.OldKeyHeader}}},
		{"rewrite", &sluice.Unwrap{Deletes: sluice.DeleteRewrite, Headers: []sluice.UnwrapField{{Struct: "source", Field: "db", Name: "__db"}, {Field: "op", Name: "__op"}}},
			[]string{`{"id":4,`, `{"id":104,`},
			[][]string{{codec.EventIDHeader, codec.NewKeyHeader, "__db", "__op"}, {codec.EventIDHeader, codec.OldKeyHeader, "__db", "__op"}}},
		{"drop", &sluice.Unwrap{Deletes: sluice.DeleteDrop}, []string{`{"id":104,`},
			[][]string{{codec.EventIDHeader, codec.OldKeyHeader}}},
		{"delete-to-tombstone", &sluice.Unwrap{Deletes: sluice.DeleteToTombstone}, []string{"", `{"id":104,`},
			[][]string{{codec.EventIDHeader, codec.NewKeyHeader}, {codec.EventIDHeader, codec.OldKeyHeader}}},
		{"rewrite-with-tombstone", &sluice.Unwrap{Deletes: sluice.DeleteRewriteWithTombstone}, []string{`{"id":4,`, "", `{"id":104,`},
			[][]string{{codec.EventIDHeader, codec.NewKeyHeader}, {codec.EventIDHeader, codec.NewKeyHeader}, {codec.EventIDHeader, codec.OldKeyHeader}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			del, cre := keyChange(4, 104, "moved")
			del.Unwrap, cre.Unwrap = c.u, c.u
			run := runSink(ctx, t, brokers, deletePolicy(), clock.Tx(del, cre))
			for i, err := range run.acks {
				if err != nil {
					t.Errorf("event %d acked with %v", i, err)
				}
			}
			recs := consumeAll(ctx, t, brokers, len(c.values), run.tableTopic)
			if len(recs) != len(c.values) {
				t.Fatalf("%d records, want %d", len(recs), len(c.values))
			}
			for i, r := range recs {
				if c.values[i] == "" { // a Kafka tombstone
					if r.Value != nil {
						t.Errorf("record %d: value %q, want a tombstone", i, r.Value)
					}
				} else if r.Value == nil || !bytes.HasPrefix(r.Value, []byte(c.values[i])) {
					t.Errorf("record %d: value %q, want %s…", i, r.Value, c.values[i])
				}
				var names []string
				for _, h := range r.Headers {
					names = append(names, h.Key)
				}
				if !slices.Equal(names, c.heads[i]) {
					t.Errorf("record %d: headers %v, want %v", i, names, c.heads[i])
				}
			}
			if c.name == "rewrite" {
				if h := header(recs[0], "__op"); string(h) != `{"schema":{"type":"string","optional":true},"payload":"d"}` {
					t.Errorf("__op header %s", h)
				}
			}
		})
	}
}
