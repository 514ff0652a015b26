package postgres

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pglogrepl"
	"go.uber.org/zap"
)

// Streaming of in-progress transactions (pgoutput protocol 2, PostgreSQL
// 14+). Without it the server holds a transaction until its commit,
// spilling what exceeds logical_decoding_work_mem to its own disk, and
// sends it all at once afterwards. With it the server sends a large
// transaction in blocks while it runs (Stream Start … Stream Stop, each
// change carrying its (sub)transaction id), blocks of several
// transactions interleaving, and then Stream Commit or Stream Abort.
//
// sluice must still emit a transaction's events only after its commit,
// in commit order, and not hold a transaction of any size in memory: the
// blocks go to a spool file per transaction, written through a small
// buffer, and are replayed through the ordinary decoder at Stream
// Commit, as one transaction; Stream Abort drops the file, or marks a
// subtransaction whose changes the replay skips. This is what
// PostgreSQL's own subscriber does with streamed transactions. Relation
// and type messages are spooled too, so the relation cache changes at the
// point of the commit order where the subscriber would see them. The
// files are unlinked as soon as they are created: a crash leaves nothing,
// and the server streams the transaction again from the slot.

// Protocol 2 message types.
const (
	msgStreamStart  = 'S'
	msgStreamStop   = 'E'
	msgStreamCommit = 'c'
	msgStreamAbort  = 'A'
)

// spoolBuffer is each open transaction's write buffer, and the replay's
// read buffer: what the spool holds in memory per transaction.
const spoolBuffer = 64 << 10

// spool holds the streamed transactions that have not ended.
type spool struct {
	dir string
	txs map[uint32]*spoolTx
	cur *spoolTx // the transaction of the open stream block
}

// spoolTx is one streamed transaction's file: records of a header
// (WAL position, server time, subtransaction id, length) and the message
// without its transaction id.
type spoolTx struct {
	xid     uint32
	f       *os.File
	w       *bufio.Writer
	aborted map[uint32]bool // subtransactions rolled back
	records int64
	bytes   int64
}

const spoolHeader = 8 + 8 + 4 + 4

func newSpool(dir string) *spool { return &spool{dir: dir, txs: map[uint32]*spoolTx{}} }

// start begins a stream block of xid, creating its file at its first.
func (sp *spool) start(xid uint32) error {
	tx := sp.txs[xid]
	if tx == nil {
		if err := os.MkdirAll(sp.dir, 0o700); err != nil {
			return fmt.Errorf("postgres source: streamed transaction spool: %w", err)
		}
		f, err := os.CreateTemp(sp.dir, "sluice-stream-*.spool")
		if err != nil {
			return fmt.Errorf("postgres source: streamed transaction spool: %w", err)
		}
		os.Remove(f.Name()) // unlinked: gone when closed, also after a crash
		tx = &spoolTx{xid: xid, f: f, w: bufio.NewWriterSize(f, spoolBuffer)}
		sp.txs[xid] = tx
	}
	sp.cur = tx
	return nil
}

func (sp *spool) stop() { sp.cur = nil }

// append writes one message of the open block: typ and the rest of the
// message after its transaction id.
func (sp *spool) append(lsn uint64, at time.Time, subxid uint32, typ byte, rest []byte) error {
	tx := sp.cur
	var h [spoolHeader]byte
	binary.BigEndian.PutUint64(h[0:], lsn)
	binary.BigEndian.PutUint64(h[8:], uint64(at.UnixMicro()))
	binary.BigEndian.PutUint32(h[16:], subxid)
	binary.BigEndian.PutUint32(h[20:], uint32(len(rest)+1))
	tx.w.Write(h[:])
	tx.w.WriteByte(typ)
	if _, err := tx.w.Write(rest); err != nil {
		return fmt.Errorf("postgres source: streamed transaction %d: spool: %w", tx.xid, err)
	}
	tx.records++
	tx.bytes += int64(spoolHeader + 1 + len(rest))
	return nil
}

// abort drops the transaction (subxid == xid) or marks a subtransaction.
func (sp *spool) abort(xid, subxid uint32) {
	tx := sp.txs[xid]
	if tx == nil {
		return
	}
	if subxid != xid {
		if tx.aborted == nil {
			tx.aborted = map[uint32]bool{}
		}
		tx.aborted[subxid] = true
		return
	}
	delete(sp.txs, xid)
	if sp.cur == tx {
		sp.cur = nil
	}
	tx.f.Close()
}

// take removes the committed transaction xid from the spool; the caller
// replays and closes it. A transaction the server never streamed a
// block of (an empty one) is nil.
func (sp *spool) take(xid uint32) *spoolTx {
	tx := sp.txs[xid]
	delete(sp.txs, xid)
	if sp.cur == tx {
		sp.cur = nil
	}
	return tx
}

// close drops every open transaction: the server streams them again
// after a restart.
func (sp *spool) close() {
	for xid, tx := range sp.txs {
		tx.f.Close()
		delete(sp.txs, xid)
	}
	sp.cur = nil
}

// replay calls fn with each record in order, skipping the changes of
// rolled-back subtransactions (their relation and type messages still
// count: the server does not send them again).
func (tx *spoolTx) replay(fn func(msg []byte, lsn uint64, at time.Time) error) error {
	if err := tx.w.Flush(); err != nil {
		return fmt.Errorf("postgres source: streamed transaction %d: spool: %w", tx.xid, err)
	}
	if _, err := tx.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("postgres source: streamed transaction %d: spool: %w", tx.xid, err)
	}
	r := bufio.NewReaderSize(tx.f, spoolBuffer)
	var h [spoolHeader]byte
	var buf []byte
	for n := int64(0); n < tx.records; n++ {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("postgres source: streamed transaction %d: read spool: %w", tx.xid, err)
		}
		size := int(binary.BigEndian.Uint32(h[20:]))
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		msg := buf[:size]
		if _, err := io.ReadFull(r, msg); err != nil {
			return fmt.Errorf("postgres source: streamed transaction %d: read spool: %w", tx.xid, err)
		}
		if tx.aborted[binary.BigEndian.Uint32(h[16:])] && msg[0] != byte(pglogrepl.MessageTypeRelation) && msg[0] != byte(pglogrepl.MessageTypeType) {
			continue
		}
		if err := fn(msg, binary.BigEndian.Uint64(h[0:]), time.UnixMicro(int64(binary.BigEndian.Uint64(h[8:])))); err != nil {
			return err
		}
	}
	return nil
}

func (tx *spoolTx) close() { tx.f.Close() }

// streamControl reports whether a message type is one of protocol 2's
// Stream Start, Stop, Commit or Abort.
func streamControl(t byte) bool {
	switch t {
	case msgStreamStart, msgStreamStop, msgStreamCommit, msgStreamAbort:
		return true
	}
	return false
}

// streamed handles the messages of protocol 2's streaming: it reports
// false for a message of a transaction that is not streamed, which the
// caller decodes as usual.
func (st *stream) streamed(ctx context.Context, d []byte, lsn uint64, at time.Time) (bool, error) {
	sp := st.spool
	switch d[0] {
	case msgStreamStart:
		if len(d) < 6 {
			return true, fmt.Errorf("postgres source: Stream Start message of %d bytes at %s", len(d), pglogrepl.LSN(lsn))
		}
		if st.sock != nil {
			st.sock.pace(true)
		}
		return true, sp.start(binary.BigEndian.Uint32(d[1:]))
	case msgStreamStop:
		if st.sock != nil {
			st.sock.pace(false)
		}
		sp.stop()
		return true, nil
	case msgStreamAbort:
		if len(d) < 9 {
			return true, fmt.Errorf("postgres source: Stream Abort message of %d bytes at %s", len(d), pglogrepl.LSN(lsn))
		}
		sp.abort(binary.BigEndian.Uint32(d[1:]), binary.BigEndian.Uint32(d[5:]))
		return true, nil
	case msgStreamCommit:
		return true, st.streamCommit(ctx, d, lsn)
	}
	if sp.cur == nil {
		return false, nil
	}
	// Inside a block every message carries its (sub)transaction id
	// after its type.
	if len(d) < 5 {
		return true, fmt.Errorf("postgres source: streamed %q message of %d bytes at %s", d[0], len(d), pglogrepl.LSN(lsn))
	}
	return true, sp.append(lsn, at, binary.BigEndian.Uint32(d[1:]), d[0], d[5:])
}

// streamCommit replays a committed streamed transaction as the ordinary
// decoder sees a transaction: its Begin, its messages, its Commit.
func (st *stream) streamCommit(ctx context.Context, d []byte, lsn uint64) error {
	if len(d) < 30 {
		return fmt.Errorf("postgres source: Stream Commit message of %d bytes at %s", len(d), pglogrepl.LSN(lsn))
	}
	xid := binary.BigEndian.Uint32(d[1:])
	commitLSN := binary.BigEndian.Uint64(d[6:])
	end := binary.BigEndian.Uint64(d[14:])
	st.begin(commitLSN, pgTime(int64(binary.BigEndian.Uint64(d[22:]))), xid)
	if tx := st.spool.take(xid); tx != nil {
		defer tx.close()
		began := time.Now()
		err := tx.replay(func(msg []byte, lsn uint64, at time.Time) error {
			// The replay takes as long as the sinks take: keep answering
			// the server meanwhile, or it ends the session after
			// wal_sender_timeout.
			if err := st.maybeSendStatus(ctx, false); err != nil {
				return err
			}
			return st.handleMessage(ctx, msg, lsn, at)
		})
		if err != nil {
			return err
		}
		st.log.Debug("streamed transaction replayed", zap.Uint32("xid", xid), zap.Int64("messages", tx.records),
			zap.Int64("spooled_bytes", tx.bytes), zap.Duration("took", time.Since(began)))
	}
	return st.commit(commitLSN, end, lsn)
}
