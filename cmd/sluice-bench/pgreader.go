package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// sessionParams are the settings sluice's replication session fixes; the
// ceiling reader uses the same, so the walsender formats values the same
// way for both.
var sessionParams = map[string]string{
	"application_name":   "sluice-bench-ceiling",
	"timezone":           "UTC",
	"datestyle":          "ISO, MDY",
	"intervalstyle":      "postgres",
	"extra_float_digits": "3",
	"bytea_output":       "hex",
	"lc_monetary":        "C",
}

// readerResult is what the ceiling reader measured.
type readerResult struct {
	Rows      int           // Insert, Update and Delete messages
	Bytes     int64         // XLogData payload bytes
	First     time.Time     // first XLogData received
	Last      time.Time     // the commit after the last expected row
	Started   time.Time     // before connecting
	CPU       time.Duration // the reader's own CPU (this process, user+sys)
	Walsender procSample    // the walsender backend serving it
}

// readBuffer is how much the ceiling reader asks the socket for at once.
const readBuffer = 256 << 10

// bigReadConn serves pgconn's small reads from a large buffer.
type bigReadConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bigReadConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// ceilingReaders are the PostgreSQL ceiling's readers, each on a slot of
// its own (kind names the slot; sluice's kinds are s, b and d): the eager
// reader (no pause), then the lazy reader with each pause. The fastest
// lazy run is the repeat's lazy reader. How fast a pause lets the
// walsender go varies from run to run: on single-row transactions
// (2026-12-03) 0.5 ms gave 76,000–183,000 rows/s in four runs, 5 ms
// 57,000–168,000, and every pause was the best in some repeat, so one
// fixed pause let sluice beat its ceiling.
var ceilingReaders = []struct {
	kind  string
	pause time.Duration
}{
	{"c", 0}, {"l", 100 * time.Microsecond}, {"m", 500 * time.Microsecond}, {"n", 2 * time.Millisecond}, {"o", 5 * time.Millisecond},
}

// lazyConn delays a read that follows a short one, so data accumulates
// in the socket between reads.
type lazyConn struct {
	net.Conn
	pause time.Duration
	short bool
}

func (c *lazyConn) Read(b []byte) (int, error) {
	if c.short {
		time.Sleep(c.pause)
	}
	n, err := c.Conn.Read(b)
	c.short = n < len(b)/2
	return n, err
}

// readPgoutput is the PostgreSQL ceiling: a minimal pglogrepl reader that
// streams slot with the same pgoutput options sluice uses (protocol 2 with
// in-progress transactions streamed, from PostgreSQL 14 on, as sluice's
// default source.streaming), counts row messages and acknowledges
// (standby status updates with the received position, every second and
// at the end) without decoding anything. It stops at the commit (or
// stream commit) that follows the rows-th row message.
//
// It reads the socket in pieces of up to readBuffer bytes: pgconn's own
// buffer asks the socket for at most 8 KiB at a time, which costs a
// reader that does nothing else more in system calls than in its work.
//
// With pause 0 it is eager: it blocks on the socket whenever no message is
// buffered. For small transactions that is not the fastest way to drain a
// walsender: every message the walsender writes then wakes the reader, and
// on this machine the wake-ups cost the walsender (which pays for waking a
// blocked reader in its send()) about twice its CPU per message, so an
// eager reader gets fewer rows per second than a busy client such as
// sluice. With pause > 0 the reader sleeps that long before a read that
// follows a short one, letting messages accumulate; the walsender then
// writes in larger pieces. The benchmark runs both and takes the better
// as the ceiling.
func readPgoutput(ctx context.Context, dsn, slot, publication string, rows int, pause time.Duration) (readerResult, error) {
	res := readerResult{Started: time.Now()}
	cpu0 := selfCPU()
	cc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return res, err
	}
	for k, v := range sessionParams {
		cc.RuntimeParams[k] = v
	}
	cc.RuntimeParams["replication"] = "database"
	dial := cc.DialFunc
	cc.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		under := c
		if pause > 0 {
			under = &lazyConn{Conn: c, pause: pause}
		}
		return &bigReadConn{Conn: c, r: bufio.NewReaderSize(under, readBuffer)}, nil
	}
	conn, err := pgconn.ConnectConfig(ctx, cc)
	if err != nil {
		return res, fmt.Errorf("ceiling reader: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	wsPID := conn.PID()

	args := []string{"proto_version '1'"}
	if serverMajor(conn) >= 14 {
		args = []string{"proto_version '2'", "streaming 'on'"}
	}
	args = append(args, fmt.Sprintf("publication_names '%s'", publication), "messages 'true'")
	err = pglogrepl.StartReplication(ctx, conn, slot, 0, pglogrepl.StartReplicationOptions{PluginArgs: args})
	if err != nil {
		return res, fmt.Errorf("ceiling reader: start replication: %w", err)
	}
	// Receive with context.Background(), which pgconn does not watch: a
	// watched context costs allocations and a timer per message, more
	// than the reader's own work. ctx ends the read through a deadline.
	nc := conn.Conn()
	stop := context.AfterFunc(ctx, func() { nc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var received pglogrepl.LSN
	ack := func() error {
		return pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{
			WALWritePosition: received, WALFlushPosition: received, WALApplyPosition: received})
	}
	lastAck := time.Now()
	for n := 0; ; n++ {
		if n%4096 == 0 && time.Since(lastAck) > time.Second {
			if err := ack(); err != nil {
				return res, fmt.Errorf("ceiling reader: status update: %w", err)
			}
			lastAck = time.Now()
		}
		msg, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			return res, fmt.Errorf("ceiling reader: receive after %d rows: %w", res.Rows, err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok {
			if e, ok := msg.(*pgproto3.ErrorResponse); ok {
				return res, fmt.Errorf("ceiling reader: %w", pgconn.ErrorResponseToPgError(e))
			}
			continue
		}
		d := cd.Data
		if len(d) == 0 {
			continue
		}
		switch d[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			if len(d) >= 18 && d[17] != 0 { // reply requested
				if err := ack(); err != nil {
					return res, fmt.Errorf("ceiling reader: status update: %w", err)
				}
				lastAck = time.Now()
			}
		case pglogrepl.XLogDataByteID:
			// 'w', WALStart, ServerWALEnd, ServerTime, then the pgoutput message.
			if len(d) < 26 {
				return res, fmt.Errorf("ceiling reader: short XLogData")
			}
			if res.First.IsZero() {
				res.First = time.Now()
			}
			start := binary.BigEndian.Uint64(d[1:])
			wal := d[25:]
			res.Bytes += int64(len(wal))
			received = pglogrepl.LSN(start + uint64(len(wal)))
			if len(wal) == 0 {
				continue
			}
			switch wal[0] {
			case 'I', 'U', 'D':
				res.Rows++
			case 'C', 'c': // commit, stream commit
				if res.Rows >= rows {
					res.Last = time.Now()
					res.CPU = selfCPU() - cpu0
					res.Walsender = sampleProc(int(wsPID))
					return res, ack()
				}
			}
		}
	}
}

// copyCeiling is the PostgreSQL ceiling of the snapshot workload: the
// rate at which the server hands out the whole table in key order as
// text, to a client that only counts the rows (COPY, one statement, no
// chunking, no decoding). sluice's snapshot reads the same rows in keyset
// chunks and decodes every value, so it cannot beat this.
func copyCeiling(ctx context.Context, dsn, table string, want int) (float64, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return 0, err
	}
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("copy ceiling: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var lines lineCounter
	start := time.Now()
	if _, err := conn.CopyTo(ctx, &lines, "COPY (SELECT * FROM "+table+" ORDER BY id) TO STDOUT"); err != nil {
		return 0, fmt.Errorf("copy ceiling: %w", err)
	}
	d := time.Since(start)
	if int(lines) != want {
		return 0, fmt.Errorf("copy ceiling: %d rows, want %d", lines, want)
	}
	return rate(want, d), nil
}

// lineCounter counts the rows of COPY's text output and discards them.
type lineCounter int

func (c *lineCounter) Write(p []byte) (int, error) {
	*c += lineCounter(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// serverMajor is the server's major version (0 when unknown).
func serverMajor(conn *pgconn.PgConn) int {
	v := conn.ParameterStatus("server_version")
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
