package codec

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// The transaction topic's records, as Debezium's TransactionMonitor
// writes them (testdata/golden/debezium/*/transaction-metadata): the
// collections in java.util.HashMap order, a message under Debezium's name
// with the Java hash of its prefix ("sluice-tx".hashCode() is 0x53c47142).
func TestTransactionRecords(t *testing.T) {
	enc, _ := New(Options{Name: "dbzpg", Connector: ConnectorPostgres, TransactionMetadata: true})
	at := time.UnixMilli(1796017287458)
	tbl := func(name string) *sluice.Table { return &sluice.Table{DB: "dbz", Schema: "public", Name: name} }
	ev := func(t *sluice.Table, order int64, msg bool) *sluice.Event {
		e := &sluice.Event{Op: sluice.OpCreate, Table: t, TxID: 656966, TxOrder: order, Pos: sluice.Position{TxLSN: 1359847328}}
		if msg {
			e.Op, e.Table, e.Message = sluice.OpMessage, nil, &sluice.Message{Prefix: "sluice-tx", Transactional: true}
		}
		return e
	}
	rd, comp, full := tbl("rid_default"), tbl("composite"), tbl("rid_full")
	stream := []*sluice.Event{ev(rd, 1, false), ev(comp, 2, false), ev(nil, 3, true), ev(full, 4, false), ev(rd, 5, false),
		{Op: sluice.OpMessage, Message: &sluice.Message{Prefix: "ntx"}}}
	var tr TxTracker
	var got []string
	for _, e := range stream {
		end, begin := tr.Observe(enc, e)
		for _, b := range []*TxBoundary{end, begin} {
			if b != nil {
				got = append(got, string(enc.AppendTxKey(nil, b))+" "+string(enc.AppendTxValue(nil, b, at)))
			}
		}
	}
	if b := tr.End(); b != nil {
		t.Errorf("a transaction is still open: %+v", b)
	}
	want := []string{
		`{"id":"656966:1359847328"} {"status":"BEGIN","id":"656966:1359847328","event_count":null,"data_collections":null,"ts_ms":1796017287458}`,
		`{"id":"656966:1359847328"} {"status":"END","id":"656966:1359847328","event_count":5,"data_collections":[` +
			`{"data_collection":"io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@53c47142","event_count":1},` +
			`{"data_collection":"public.composite","event_count":1},{"data_collection":"public.rid_default","event_count":2},` +
			`{"data_collection":"public.rid_full","event_count":1}],"ts_ms":1796017287458}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The transaction block is null unless metadata is on.
	off, _ := New(Options{Name: "dbzpg", Connector: ConnectorPostgres})
	if v := string(off.AppendValue(nil, ev(rd, 1, false))); !strings.Contains(v, `"transaction":null`) {
		t.Errorf("metadata off: %s", v)
	}
	if v := string(enc.AppendValue(nil, ev(nil, 3, true))); !strings.Contains(v, `"transaction":{"id":"656966:1359847328","total_order":3,"data_collection_order":1}`) {
		t.Errorf("message in a transaction: %s", v)
	}
}

func TestSkippedOperations(t *testing.T) {
	for ops, want := range map[string]string{"": "t", "none": "", "c,d": "cd", " u , t ": "tu"} {
		enc, err := New(Options{SkippedOperations: ops})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, op := range []sluice.Op{sluice.OpTruncate, sluice.OpCreate, sluice.OpDelete, sluice.OpUpdate, sluice.OpRead, sluice.OpMessage} {
			if enc.Skips(op) {
				got += string(op)
			}
		}
		if sortString(got) != sortString(want) {
			t.Errorf("%q skips %q, want %q", ops, got, want)
		}
	}
}

func sortString(s string) string {
	b := []byte(s)
	for i := range b {
		for j := i + 1; j < len(b); j++ {
			if b[j] < b[i] {
				b[i], b[j] = b[j], b[i]
			}
		}
	}
	return string(b)
}

// Observe runs for every event the Kafka sink writes with transaction
// metadata on: inside a transaction it allocates nothing, for
// PostgreSQL's numeric ids and MySQL's GTIDs alike.
func TestTxTrackerObserveAllocs(t *testing.T) {
	for _, c := range []struct {
		connector string
		ev        sluice.Event
	}{
		{ConnectorPostgres, sluice.Event{Op: sluice.OpCreate, TxID: 656966, TxOrder: 1, Pos: sluice.Position{TxLSN: 1359847328},
			Table: &sluice.Table{DB: "dbz", Schema: "public", Name: "orders"}}},
		{ConnectorMySQL, sluice.Event{Op: sluice.OpCreate, TxOrder: 1, Binlog: &sluice.Binlog{TxID: "3e11fa47-71ca-11e1-9e33-c80aa9429562:23"},
			Table: &sluice.Table{DB: "shop", Name: "orders"}}},
	} {
		enc, err := New(Options{Name: "x", Connector: c.connector, TransactionMetadata: true})
		if err != nil {
			t.Fatal(err)
		}
		other := c.ev
		other.Table = &sluice.Table{DB: "dbz", Schema: "public", Name: "lines"}
		var tr TxTracker
		tr.Observe(enc, &c.ev)
		tr.Observe(enc, &other)
		if n := testing.AllocsPerRun(100, func() {
			if end, begin := tr.Observe(enc, &c.ev); end != nil || begin != nil {
				t.Fatal("a boundary inside the transaction")
			}
			tr.Observe(enc, &other)
		}); n != 0 {
			t.Errorf("%s: %v allocations per event", c.connector, n/2)
		}
		// 2 + 2 per run, and AllocsPerRun runs once more to warm up.
		if b := tr.End(); b == nil || b.Events != 204 || len(b.Collections) != 2 || b.Collections[0].Events != 102 {
			t.Errorf("%s: END %+v", c.connector, b)
		}
	}
}
