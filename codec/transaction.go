package codec

import (
	"slices"
	"strconv"
	"time"

	"github.com/sluice-cdc/sluice"
)

// The transaction topic (provide_transaction_metadata): a BEGIN record
// before the first event of each transaction and an END record after its
// last, keyed by the transaction id, as Debezium's TransactionMonitor
// writes them to "<topic.prefix>.transaction":
//
//	key   {"id":"<id>"}
//	value {"status":"BEGIN","id":"<id>","event_count":null,"data_collections":null,"ts_ms":…}
//	value {"status":"END","id":"<id>","event_count":5,"data_collections":[{"data_collection":"public.t","event_count":5}],"ts_ms":…}
//
// The id is the transaction block's id. TxTracker finds the boundaries in
// the event stream; the sink writes the records the Encoder encodes.

// TxBoundary is one BEGIN or END record of the transaction topic.
type TxBoundary struct {
	End bool
	ID  string
	// Events and Collections are the END record's counts: the events of
	// the transaction, and per data collection ("schema.table" for
	// PostgreSQL, "db.table" for MySQL).
	Events      int64
	Collections []TxCollection
}

// TxCollection is the event count of one data collection in an END record.
type TxCollection struct {
	Name   string
	Events int64
}

// AppendTxKey appends the key of a transaction topic record.
func (e *Encoder) AppendTxKey(dst []byte, b *TxBoundary) []byte {
	if e.opt.Schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, txKeySchema...)
		dst = append(dst, `,"payload":`...)
	}
	dst = append(dst, `{"id":`...)
	dst = appendStr(dst, b.ID)
	dst = append(dst, '}')
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}

// AppendTxValue appends the value of a transaction topic record; now is
// its ts_ms (the processing time).
func (e *Encoder) AppendTxValue(dst []byte, b *TxBoundary, now time.Time) []byte {
	if e.opt.Clock != nil {
		now = e.opt.Clock()
	}
	if e.opt.Schemas {
		dst = append(dst, `{"schema":`...)
		dst = append(dst, txValueSchema...)
		dst = append(dst, `,"payload":`...)
	}
	if b.End {
		dst = append(dst, `{"status":"END","id":`...)
		dst = appendStr(dst, b.ID)
		dst = append(dst, `,"event_count":`...)
		dst = appendInt(dst, b.Events)
		dst = append(dst, `,"data_collections":[`...)
		pairs := make([]hstorePair, len(b.Collections))
		for i, c := range b.Collections {
			pairs[i].key = []byte(c.Name)
		}
		// Debezium counts per collection in a java.util.HashMap.
		for i, idx := range javaHashMapOrder(pairs) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"data_collection":`...)
			dst = appendStr(dst, b.Collections[idx].Name)
			dst = append(dst, `,"event_count":`...)
			dst = appendInt(dst, b.Collections[idx].Events)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	} else {
		dst = append(dst, `{"status":"BEGIN","id":`...)
		dst = appendStr(dst, b.ID)
		dst = append(dst, `,"event_count":null,"data_collections":null`...)
	}
	dst = append(dst, `,"ts_ms":`...)
	dst = appendInt(dst, now.UnixMilli())
	dst = append(dst, '}')
	if e.opt.Schemas {
		dst = append(dst, '}')
	}
	return dst
}

// TxTracker follows the transactions of an event stream for the
// transaction topic. It is not safe for concurrent use: a sink calls it
// from Write, in event order.
type TxTracker struct {
	open   bool
	id     string
	events int64
	counts []TxCollection
	// The open transaction as its events identify it, so that they are
	// recognised without formatting id: binlog, and then id is the
	// binlog's TxID, or PostgreSQL's xid and commit LSN.
	binlog     bool
	xid, txLSN uint64
	// tables holds, indexed like counts, a table counted there (nil for
	// messages): the events of a table seen in the transaction find
	// their collection without building its name.
	tables []*sluice.Table
	// noEnd: the open transaction gets no END record. Debezium's MySQL
	// and MariaDB connectors write END at the XID event that commits a
	// transaction of row changes; DDL and TRUNCATE commit implicitly
	// without one, so their transactions have a BEGIN and no END.
	noEnd bool
}

// Observe is called with every event in order. It returns the END record
// of the transaction that ended before ev (when ev is outside it) and the
// BEGIN record of ev's transaction (when ev starts one); either may be
// nil. Events outside transactions (snapshot reads, non-transactional
// messages) begin none. A sink writes end, then begin, then ev's records.
//
// Events the encoder skips (skipped_operations) are observed too but not
// counted: Debezium writes BEGIN and END around a skipped truncate, with
// event_count 0.
func (tr *TxTracker) Observe(e *Encoder, ev *sluice.Event) (end, begin *TxBoundary) {
	ok := inTx(ev)
	if tr.open && (!ok || !tr.inOpen(ev)) {
		end = tr.End()
	}
	if !ok {
		return end, nil
	}
	if !tr.open {
		id, _ := txID(ev)
		tr.open, tr.id, tr.events, tr.counts = true, id, 0, tr.counts[:0]
		tr.binlog, tr.xid, tr.txLSN, tr.tables = ev.Binlog != nil, ev.TxID, ev.Pos.TxLSN, tr.tables[:0]
		tr.noEnd = e.mysql
		begin = &TxBoundary{ID: id}
	}
	if ev.Op != sluice.OpSchemaChange && ev.Op != sluice.OpTruncate {
		tr.noEnd = false // row changes: the transaction ends with an XID
	}
	if e.Skips(ev.Op) {
		return end, begin
	}
	tr.events++
	if ev.Table != nil {
		if i := slices.Index(tr.tables, ev.Table); i >= 0 {
			tr.counts[i].Events++
			return end, begin
		}
	}
	name := collectionName(e, ev)
	i := 0
	for i < len(tr.counts) && tr.counts[i].Name != name {
		i++
	}
	if i == len(tr.counts) {
		tr.counts = append(tr.counts, TxCollection{Name: name})
		tr.tables = append(tr.tables, nil)
	}
	tr.counts[i].Events++
	if ev.Table != nil {
		tr.tables[i] = ev.Table // the newest version of the table counted there
	}
	return end, begin
}

// inOpen reports whether ev, in a transaction (inTx), is in the open one:
// whether txID(ev) is tr.id.
func (tr *TxTracker) inOpen(ev *sluice.Event) bool {
	if ev.Binlog != nil {
		return tr.binlog && ev.Binlog.TxID == tr.id
	}
	return !tr.binlog && ev.TxID == tr.xid && ev.Pos.TxLSN == tr.txLSN
}

// End returns the END record of the open transaction, or nil; a sink
// calls it when it learns that the transaction is complete (the source's
// commit mark) so that END does not wait for the next transaction. A
// MySQL or MariaDB transaction of DDL or TRUNCATE only ends without a
// record, as in Debezium (see noEnd).
func (tr *TxTracker) End() *TxBoundary {
	if !tr.open {
		return nil
	}
	tr.open = false
	if tr.noEnd {
		return nil
	}
	return &TxBoundary{End: true, ID: tr.id, Events: tr.events, Collections: append([]TxCollection(nil), tr.counts...)}
}

// inTx reports whether ev belongs to a transaction as Debezium's
// transaction metadata sees it. Snapshot events do not (Debezium writes
// neither BEGIN/END nor a transaction block for them), even where the
// source gives them the snapshot's transaction id and an order; nor do
// non-transactional messages (TxOrder 0).
func inTx(ev *sluice.Event) bool {
	if ev.TxOrder == 0 || ev.Op == sluice.OpRead || ev.Snapshot != sluice.SnapshotFalse {
		return false
	}
	if ev.Binlog != nil {
		return ev.Binlog.TxID != ""
	}
	return ev.TxID != 0
}

// txID is the transaction id of ev as the transaction block writes it;
// ok is false for events outside transactions (inTx).
func txID(ev *sluice.Event) (string, bool) {
	if !inTx(ev) {
		return "", false
	}
	if ev.Binlog != nil {
		return ev.Binlog.TxID, true
	}
	return strconv.FormatUint(ev.TxID, 10) + ":" + strconv.FormatUint(ev.Pos.TxLSN, 10), true
}

// collectionName is Debezium's data collection of ev: "schema.table"
// (PostgreSQL), "db.table" (MySQL); a logical message is counted under
// the name Debezium 3.6.1 gives it, with the Java hash of its prefix
// where Debezium prints an identity hash.
func collectionName(e *Encoder, ev *sluice.Event) string {
	switch {
	case ev.Table != nil && e.mysql:
		return ev.Table.DB + "." + ev.Table.Name
	case ev.Table != nil:
		return ev.Table.Schema + "." + ev.Table.Name
	case ev.Message != nil:
		return "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@" +
			strconv.FormatUint(uint64(uint32(javaStringHash([]byte(ev.Message.Prefix)))), 16)
	}
	return ""
}
