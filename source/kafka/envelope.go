package kafka

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice"
)

// envelope is one Debezium change event as a format decoder (JSON or
// Avro) reads it, before it becomes a sluice.Event.
type envelope struct {
	op            sluice.Op
	table         *sluice.Table // nil for messages
	before, after sluice.Row    // nil when the event has none
	src           sourceInfo
	// txOrder and tableOrder are the transaction block's total_order and
	// data_collection_order; 0 without transaction metadata.
	txOrder, tableOrder int64
	message             *sluice.Message // op m
}

// sourceInfo is the part of Debezium's source block sluice reads back.
type sourceInfo struct {
	connector, name, db, schema, table string
	snapshot                           string
	// epoch is connector/name, when the reader made it already.
	epoch      string
	tsMs, tsUs int64
	// PostgreSQL
	lsn, seq0, txID uint64
	// MySQL and MariaDB
	file     string
	pos      uint64
	row      int64
	gtid     string
	serverID uint32
	thread   uint64
}

var snapshotByName = map[string]sluice.Snapshot{
	"": sluice.SnapshotFalse, "false": sluice.SnapshotFalse, "true": sluice.SnapshotTrue, "first": sluice.SnapshotFirst,
	"first_in_data_collection": sluice.SnapshotFirstInData, "last_in_data_collection": sluice.SnapshotLastInData,
	"last": sluice.SnapshotLast, "incremental": sluice.SnapshotIncremental,
}

// version is the external version a change is ordered by: a position in
// the source's log that grows, for each row, in commit order.
//
//   - PostgreSQL: the change's own LSN, or the previous commit's LSN
//     (source.sequence[0]) when larger. Two transactions that change one
//     row are serialised by the row's lock, so the later one writes its
//     change after the earlier one's commit: the change LSN grows per row
//     in commit order, and a TRUNCATE (an exclusive lock) sits between the
//     changes before and after it. Snapshot rows carry the snapshot's LSN.
//   - MySQL and MariaDB: the binlog, written in commit order: the file's
//     number in the high 32 bits, source.pos in the low 32.
func (s *sourceInfo) version() (uint64, error) {
	switch s.connector {
	case "postgresql":
		if s.lsn == 0 {
			return 0, fmt.Errorf("source.lsn missing")
		}
		return max(s.lsn, s.seq0), nil
	case "mysql", "mariadb":
		dot := strings.LastIndexByte(s.file, '.')
		n, err := strconv.ParseUint(s.file[dot+1:], 10, 32)
		if err != nil || s.file == "" {
			return 0, fmt.Errorf("source.file %q has no binlog number", s.file)
		}
		if s.pos >= 1<<32 {
			return 0, fmt.Errorf("source.pos %d is beyond 4 GiB", s.pos)
		}
		return n<<32 | s.pos, nil
	}
	return 0, fmt.Errorf("source.connector %q: only postgresql, mysql and mariadb events carry a position sluice can order by", s.connector)
}

// commitTime is the source's ts_us (or ts_ms) as a time.
func (s *sourceInfo) commitTime() time.Time {
	switch {
	case s.tsUs != 0:
		return time.UnixMicro(s.tsUs)
	case s.tsMs != 0:
		return time.UnixMilli(s.tsMs)
	}
	return time.Time{}
}

// event turns the envelope into the sluice.Event the pipeline gets.
// epoch is the configured epoch ("" derives one from the source block).
func (e *envelope) event(epoch string) (*sluice.Event, error) {
	v, err := e.src.version()
	if err != nil {
		return nil, err
	}
	if epoch == "" {
		epoch = e.src.epoch
	}
	if epoch == "" {
		epoch = e.src.connector + "/" + e.src.name
	}
	ev := &sluice.Event{
		Op: e.op, Table: e.table, Before: e.before, After: e.after,
		Pos:        sluice.Position{LSN: v, TxLSN: v, Epoch: epoch},
		CommitTime: e.src.commitTime(),
		TxID:       e.src.txID,
		TxOrder:    e.txOrder, TableOrder: e.tableOrder,
		Snapshot: snapshotByName[e.src.snapshot],
		Message:  e.message,
	}
	if e.src.connector != "postgresql" {
		ev.Binlog = &sluice.Binlog{ServerID: e.src.serverID, File: e.src.file, GTID: e.src.gtid, Thread: e.src.thread, TxID: e.src.gtid}
		ev.Row = int32(e.src.row)
	}
	switch e.op {
	case sluice.OpCreate, sluice.OpRead, sluice.OpUpdate:
		if e.after == nil {
			return nil, fmt.Errorf("op %s without after", e.op)
		}
	case sluice.OpDelete:
		if e.before == nil {
			return nil, fmt.Errorf("op d without before")
		}
	case sluice.OpTruncate:
	case sluice.OpMessage:
		if e.message == nil {
			return nil, fmt.Errorf("op m without message")
		}
	default:
		return nil, fmt.Errorf("op %q is not a change", e.op)
	}
	if e.op != sluice.OpMessage && e.table == nil {
		return nil, fmt.Errorf("op %s without a table", e.op)
	}
	return ev, nil
}

// tableKey fills t.Key and the columns' Key marks from the names of the
// record key's fields; names the table does not have (a route's
// __dbz__physicalTableIdentifier) are skipped.
func tableKey(t *sluice.Table, names []string) {
	t.Key = t.Key[:0]
	for i := range t.Columns {
		t.Columns[i].Key = false
	}
	for _, n := range names {
		if i := t.Index(n); i >= 0 {
			t.Key = append(t.Key, i)
			t.Columns[i].Key = true
		}
	}
}
