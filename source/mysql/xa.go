package mysql

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/replication"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// XA transactions. MariaDB (10.5+) and MySQL (5.7.7+) write an XA
// transaction to the binlog when it is prepared, before its outcome is
// known, as a group of its own:
//
//	GTID (MariaDB: flag FL_PREPARED_XA) [MySQL: XA START xid]
//	table maps and rows
//	XA END xid
//	XA_PREPARE_LOG_EVENT (one_phase 0)
//
// and its outcome later, in another group: XA COMMIT xid or XA ROLLBACK
// xid (MariaDB flags that GTID FL_COMPLETED_XA). XA COMMIT … ONE PHASE is
// an ordinary transaction in MariaDB's binlog; MySQL ends its group with
// an XA_PREPARE_LOG_EVENT whose one_phase flag is set.
//
// So the rows of a prepared group are held back (in memory, at most
// xa_max_rows of them over all pending transactions) and emitted at XA
// COMMIT, dropped at XA ROLLBACK: a rolled back row is never published.
// They are emitted just before the commit's mark, so in commit order: no
// other transaction can change their rows in between, as the prepared
// transaction holds their locks. They keep the coordinates where the
// binlog holds them (source file, position, GTID, event id); the commit
// time is that of XA COMMIT.
//
// While a prepared transaction is pending, every mark carries the resume
// position of the oldest pending group's start instead of its own: an
// offset stored then resumes before that group, so a restart reads the
// held rows again (and repeats what came after them, as at-least-once
// allows) rather than finding an XA COMMIT whose rows it never saw. A
// transaction left prepared for a long time keeps the stored offset
// there: it is logged every xaWarnEvery. An XA COMMIT whose prepared group
// lies before where the stream started (prepared before an initial start
// or snapshot) cannot be emitted; it is logged.

// xaWarnEvery is how often a long-pending prepared XA transaction that
// holds back the stored offset is logged.
const xaWarnEvery = 10 * time.Minute

// MariaDB's GTID event flags for XA groups (log_event.h); go-mysql does
// not name them.
const (
	mariaFlagPreparedXA  = 64
	mariaFlagCompletedXA = 128
)

// xaTx is a prepared XA transaction whose outcome the stream has not read.
type xaTx struct {
	xid    string
	events []*sluice.Event
	resume string    // resume token of the position before its group
	since  time.Time // when its group was read
}

// xaState is what the stream holds of prepared XA transactions.
type xaState struct {
	pending []*xaTx // in binlog order: the first holds the stored offset back
	rows    int     // events held in pending and in the open group
	warned  time.Time
}

// xidOf is the canonical text of an XID from the statements the server
// writes (X'7031',X'6271',1 in XA END X'7031',X'6271',1): lower case,
// without a trailing ONE PHASE.
func xidOf(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimSpace(strings.TrimSuffix(s, "one phase"))
	return s
}

// parseXAPrepare decodes an XA_PREPARE_LOG_EVENT body: one_phase (1 byte),
// format id, gtrid and bqual lengths (4 bytes each, little-endian), then
// gtrid and bqual.
func parseXAPrepare(b []byte) (xid string, onePhase bool, err error) {
	if len(b) < 13 {
		return "", false, fmt.Errorf("XA_PREPARE event of %d bytes", len(b))
	}
	format := binary.LittleEndian.Uint32(b[1:])
	gl, bl := binary.LittleEndian.Uint32(b[5:]), binary.LittleEndian.Uint32(b[9:])
	if uint64(gl)+uint64(bl) > uint64(len(b)-13) {
		return "", false, fmt.Errorf("XA_PREPARE event of %d bytes holds no XID of %d+%d bytes", len(b), gl, bl)
	}
	d := b[13:]
	xid = "x'" + hex.EncodeToString(d[:gl]) + "',x'" + hex.EncodeToString(d[gl:gl+bl]) + "'," + strconv.FormatUint(uint64(format), 10)
	return xid, b[0] != 0, nil
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII case,
// without allocating.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// xaStatement handles the XA statements of query events; it reports
// whether q was one.
func (st *stream) xaStatement(h *replication.EventHeader, q string, thread uint64) (bool, error) {
	switch {
	case hasPrefixFold(q, "XA START"), hasPrefixFold(q, "XA BEGIN"): // MySQL
		if !st.tx.open || st.tx.order > 0 {
			st.begin(h, "", thread)
		} else {
			st.tx.thread = thread
		}
		st.tx.explicit = true
		st.startXA()
		st.tx.xid = xidOf(q[len("XA START"):])
		return true, nil
	case hasPrefixFold(q, "XA END"):
		if st.tx.xid == "" {
			st.tx.xid = xidOf(q[len("XA END"):])
		}
		return true, nil
	case hasPrefixFold(q, "XA COMMIT"):
		return true, st.xaOutcome(h, xidOf(q[len("XA COMMIT"):]), true)
	case hasPrefixFold(q, "XA ROLLBACK"):
		return true, st.xaOutcome(h, xidOf(q[len("XA ROLLBACK"):]), false)
	case hasPrefixFold(q, "XA "):
		return true, nil // XA PREPARE, XA RECOVER: nothing to emit
	}
	return false, nil
}

// startXA makes the open group an XA group: its rows are held, and its
// start is where an offset resumes while it is pending. Its group starts
// at the transaction's first event, with the GTID set before it.
func (st *stream) startXA() {
	if st.tx.xa {
		return
	}
	st.tx.xa = true
	st.tx.resume = position{file: st.file, pos: uint32(st.tx.start & 0xffffffff), gtids: st.gtids}.resume()
}

// hold keeps an event of the open XA group.
func (st *stream) hold(ev *sluice.Event) error {
	if st.xa.rows >= st.src.cfg.XAMaxRows {
		return sluice.Permanent(fmt.Errorf("mysql source: the rows of prepared XA transactions, held until their XA COMMIT or XA ROLLBACK, exceed xa_max_rows (%d) at the XA transaction at %s:%d: raise source.xa_max_rows",
			st.src.cfg.XAMaxRows, st.file, st.tx.start&0xffffffff))
	}
	st.xa.rows++
	st.tx.held = append(st.tx.held, ev)
	return nil
}

// xaPrepare ends an XA group at its XA_PREPARE_LOG_EVENT: a one-phase
// commit emits its rows, a prepare makes it pending.
func (st *stream) xaPrepare(h *replication.EventHeader, body []byte) error {
	xid, onePhase, err := parseXAPrepare(body)
	if err != nil {
		return fmt.Errorf("mysql source: %w", err)
	}
	if !st.tx.xa { // a group whose start was not read as XA: its rows went out
		st.startXA()
	}
	held := st.tx.held
	st.tx.held = nil
	if onePhase {
		st.xa.rows -= len(held)
		if err := st.release(held, h); err != nil {
			return err
		}
		return st.commit(h)
	}
	st.xa.pending = append(st.xa.pending, &xaTx{xid: xid, events: held, resume: st.tx.resume, since: time.Now()})
	st.log.Debug("XA transaction prepared; its rows wait for its outcome", zap.String("xid", xid), zap.Int("rows", len(held)))
	return st.commit(h)
}

// xaOutcome handles XA COMMIT (commit true) or XA ROLLBACK of xid: the
// rows of the transaction are emitted or dropped, then its group ends.
func (st *stream) xaOutcome(h *replication.EventHeader, xid string, commit bool) error {
	var held []*sluice.Event
	found := false
	switch {
	case st.tx.xa && st.tx.xid == xid: // MySQL's XA COMMIT … ONE PHASE in its own group
		held, st.tx.held, found = st.tx.held, nil, true
		st.tx.xa = false
	default:
		for i, p := range st.xa.pending {
			if p.xid == xid {
				held, found = p.events, true
				st.xa.pending = append(st.xa.pending[:i], st.xa.pending[i+1:]...)
				break
			}
		}
	}
	st.xa.rows -= len(held)
	switch {
	case !found && commit:
		st.log.Warn("XA COMMIT of a transaction prepared before the position the stream started from: its rows are not captured",
			zap.String("xid", xid), zap.String("file", st.file), zap.Uint32("pos", h.LogPos))
	case commit:
		if err := st.release(held, h); err != nil {
			return err
		}
	default:
		st.log.Debug("XA transaction rolled back; its rows are dropped", zap.String("xid", xid), zap.Int("rows", len(held)))
	}
	return st.commit(h)
}

// release emits the held events of a committed XA transaction at the
// commit whose header is h. An open snapshot window records their keys
// at the commit, where they enter the stream, not at the prepare, where
// they are in the binlog: a chunk read in between does not see them
// (the transaction was not committed), and must not overtake them
// (window.go).
func (st *stream) release(held []*sluice.Event, h *replication.EventHeader) error {
	if st.inc != nil && len(held) > 0 && st.inc.active.Load() {
		st.inc.released(st.at(h), held)
	}
	at := time.Unix(int64(h.Timestamp), 0)
	for _, ev := range held {
		ev.CommitTime = at
		if err := st.emit(ev); err != nil {
			return err
		}
	}
	return nil
}

// resumeHeld is the resume token marks carry while an XA transaction is
// pending ("" when none is): the start of the oldest pending group.
func (st *stream) resumeHeld() string {
	if len(st.xa.pending) == 0 {
		return ""
	}
	p := st.xa.pending[0]
	if now := time.Now(); now.Sub(p.since) > xaWarnEvery && now.Sub(st.xa.warned) > xaWarnEvery {
		st.xa.warned = now
		st.log.Warn("a prepared XA transaction is still pending: the stored offset stays before it until XA COMMIT or XA ROLLBACK (see XA RECOVER)",
			zap.String("xid", p.xid), zap.Duration("pending", now.Sub(p.since)), zap.Int("held_rows", st.xa.rows))
	}
	return p.resume
}
