package mysql

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Run implements sluice.Source: it checks the server, takes or resumes
// the initial snapshot when the mode asks for it, then streams the binlog
// from the stored position until ctx ends.
func (s *Source) Run(ctx context.Context, emit func(*sluice.Event) error) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	srv, err := s.checkServer(conn)
	if err != nil {
		return err
	}
	tables, err := s.resolveTables(conn)
	if err != nil {
		return err
	}
	store, err := s.openStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	off, err := store.Load(ctx)
	if err != nil {
		return fmt.Errorf("mysql source: %w", err)
	}
	if off != nil && off.ServerID != 0 && off.ServerID != srv.serverID {
		s.log.Warn("stored offset was written for another server_id; positions may not match", zap.Uint32("stored", off.ServerID), zap.Uint32("server", srv.serverID))
	}
	mode := s.cfg.Snapshot.Mode
	if mode == "initial_only" && off != nil && off.SnapshotDone && off.Snapshot == nil {
		s.log.Info("initial snapshot already done; nothing to do (snapshot.mode initial_only)")
		return sluice.ErrDone
	}
	snap := off != nil && off.Snapshot != nil // resume an interrupted snapshot
	if !snap {
		switch mode {
		case "initial", "initial_only":
			snap = off == nil || mode == "initial_only" && !off.SnapshotDone
		case "when_needed":
			snap = off == nil
		case "always":
			snap = true
		}
	}
	if off != nil && !snap {
		ok, err := positionAvailable(conn, off.File)
		if err != nil {
			return err
		}
		if !ok {
			if mode != "when_needed" {
				return sluice.Permanent(fmt.Errorf("mysql source: stored binlog file %s is no longer on the server (purged): "+
					"set snapshot.mode to when_needed to take a new snapshot, or delete the stored offset", off.File))
			}
			s.log.Warn("stored binlog position purged; taking a new snapshot (snapshot.mode when_needed)", zap.String("file", off.File))
			snap, off = true, nil
		}
	}

	w := &writer{src: s, srv: srv, emit: emit}
	if off != nil {
		w.snapshotDone.Store(off.SnapshotDone)
	}
	saverDone := make(chan struct{})
	saverCtx, stopSaver := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer close(saverDone)
		w.saveLoop(saverCtx, store)
	}()
	defer func() {
		stopSaver()
		<-saverDone
		// Whatever ended the run, what the sinks acknowledged is safe to
		// store (a kill -9 is the only exit that skips this).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := w.save(ctx, store); err != nil {
			s.log.Warn("final offset write failed; the next start replays from the previous one", zap.Error(err))
		} else if o, err := w.offsetOf(w.saved); err == nil {
			s.log.Info("stopped", zap.String("file", o.File), zap.Uint32("pos", o.Pos), zap.String("gtids", o.GTIDs))
		}
	}()

	var start position
	if snap {
		start, err = s.snapshot(ctx, srv, tables, off, w)
		if err != nil {
			if ctx.Err() != nil {
				w.drain()
				return nil
			}
			return err
		}
		if mode == "initial_only" {
			s.log.Info("initial snapshot done; stopping (snapshot.mode initial_only)")
			w.drain()
			return sluice.ErrDone
		}
	} else if off != nil {
		start, err = offsetPosition(srv, off)
		if err != nil {
			return err
		}
	} else {
		start, err = currentPosition(conn, srv)
		if err != nil {
			return err
		}
		// Store the starting point now: a crash before the first
		// acknowledgement must resume here, not at a later binlog end.
		o := &offset{Version: 1, ServerID: srv.serverID, File: start.file, Pos: start.pos, GTIDs: gtidString(start.gtids), SnapshotDone: w.snapshotDone.Load()}
		if err := store.Save(ctx, o); err != nil {
			return fmt.Errorf("mysql source: %w", err)
		}
	}
	sy, bs, err := s.syncer(srv, start)
	if err != nil {
		return err
	}
	defer closeSyncer(sy, s.log)
	s.log.Info("streaming", zap.String("file", start.file), zap.Uint32("pos", start.pos), zap.String("gtids", gtidString(start.gtids)))
	st := newStream(s, srv, conn, tables, start, w.emitEvent)
	st.lastMark = lsn(start.file, start.pos)
	s.streaming.Store(true)
	defer s.streaming.Store(false)
	if err := st.run(ctx, bs); err != nil {
		return err
	}
	w.drain()
	return nil
}

func gtidString(g mysql.GTIDSet) string {
	if g == nil {
		return ""
	}
	return g.String()
}

// writer forwards events to the pipeline, remembers the last mark, and
// writes confirmed marks to the offset store.
type writer struct {
	src          *Source
	srv          *server
	emit         func(*sluice.Event) error
	lastMark     atomic.Pointer[string]
	snapshotDone atomic.Bool
	saved        string
}

func (w *writer) emitEvent(ev *sluice.Event) error {
	if ev.Op == sluice.OpMark {
		r := ev.Pos.Resume
		w.lastMark.Store(&r)
	}
	return w.emit(ev)
}

// offsetOf turns a confirmed Resume token into the offset to store.
func (w *writer) offsetOf(token string) (*offset, error) {
	if strings.HasPrefix(token, "{") { // a snapshot chunk: the whole offset
		var o offset
		if err := json.Unmarshal([]byte(token), &o); err != nil {
			return nil, fmt.Errorf("mysql source: snapshot mark: %w", err)
		}
		return &o, nil
	}
	parts := strings.SplitN(token, "\x00", 3)
	if len(parts) != 3 {
		return nil, fmt.Errorf("mysql source: malformed mark %q", token)
	}
	pos, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return nil, fmt.Errorf("mysql source: malformed mark %q", token)
	}
	return &offset{Version: 1, ServerID: w.srv.serverID, File: parts[0], Pos: uint32(pos), GTIDs: parts[2], SnapshotDone: w.snapshotDone.Load()}, nil
}

// save writes the confirmed position when it moved.
func (w *writer) save(ctx context.Context, store offsetStore) error {
	p := w.src.confirmed.Load()
	if p == nil || *p == w.saved {
		return nil
	}
	o, err := w.offsetOf(*p)
	if err != nil {
		return err
	}
	if err := store.Save(ctx, o); err != nil {
		return fmt.Errorf("mysql source: %w", err)
	}
	w.saved = *p
	return nil
}

func (w *writer) saveLoop(ctx context.Context, store offsetStore) {
	t := time.NewTicker(w.src.cfg.Offsets.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.save(ctx, store); err != nil {
				w.src.log.Warn("storing the offset failed; retrying", zap.Error(err))
			}
		}
	}
}

// drain waits, after the stop request, until the sinks acknowledged the
// last mark read (or DrainTimeout passes); Run's deferred save then
// stores that position.
func (w *writer) drain() {
	deadline := time.Now().Add(w.src.cfg.DrainTimeout)
	for time.Now().Before(deadline) {
		last, conf := w.lastMark.Load(), w.src.confirmed.Load()
		if last == nil || conf != nil && *conf == *last {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// positionAvailable reports whether the server still has the binlog file.
func positionAvailable(c *client.Conn, file string) (bool, error) {
	r, err := c.Execute("SHOW BINARY LOGS")
	if err != nil {
		return false, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
	}
	for i := 0; i < r.RowNumber(); i++ {
		if n, _ := r.GetString(i, 0); n == file {
			return true, nil
		}
	}
	return false, nil
}

// offsetPosition is where a stored offset resumes.
func offsetPosition(srv *server, o *offset) (position, error) {
	p := position{file: o.File, pos: o.Pos}
	if srv.gtid {
		g, err := mysql.ParseGTIDSet(srv.flavor, o.GTIDs)
		if err != nil {
			return p, sluice.Permanent(fmt.Errorf("mysql source: stored GTID set %q: %w", o.GTIDs, err))
		}
		p.gtids = g
	}
	return p, nil
}

// currentPosition is the server's binlog end, where a start without
// snapshot and offset begins.
func currentPosition(c *client.Conn, srv *server) (position, error) {
	r, err := c.Execute("SHOW MASTER STATUS")
	if err != nil {
		return position{}, fmt.Errorf("mysql source: SHOW MASTER STATUS: %w", err)
	}
	if r.RowNumber() == 0 {
		return position{}, sluice.Permanent(fmt.Errorf("mysql source: SHOW MASTER STATUS is empty: the binary log is off"))
	}
	var p position
	p.file, _ = r.GetString(0, 0)
	pos, _ := r.GetUint(0, 1)
	p.pos = uint32(pos)
	if srv.gtid {
		q := "SELECT @@GLOBAL.gtid_executed"
		if srv.flavor == mysql.MariaDBFlavor {
			q = "SELECT @@GLOBAL.gtid_binlog_pos"
		}
		g, err := queryString(c, q)
		if err != nil {
			return p, err
		}
		if p.gtids, err = mysql.ParseGTIDSet(srv.flavor, g); err != nil {
			return p, fmt.Errorf("mysql source: GTID set %q: %w", g, err)
		}
	}
	return p, nil
}

func queryString(c *client.Conn, q string, args ...any) (string, error) {
	r, err := c.Execute(q, args...)
	if err != nil {
		return "", fmt.Errorf("mysql source: %s: %w", q, err)
	}
	if r.RowNumber() == 0 {
		return "", nil
	}
	return r.GetString(0, 0)
}
