package mysql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/source"
)

// The server purges binlogs by age or size whether or not sluice has read
// them; once the file holding the stored position is gone, the pipeline
// cannot resume (a permanent error, or a new snapshot under when_needed).
// The watcher reads, every binlog_check_interval on a connection of its
// own, how far the needed position is behind the server's head and
// whether its file is still there, for the metrics and a warning above
// binlog_warn_bytes: the alert comes while the sinks can still catch up.

// binlogRetention is the last reading, shared with the metrics.
type binlogRetention struct {
	mu sync.Mutex
	r  sluice.BinlogRetention
}

// BinlogRetention implements sluice.BinlogRetentionReporter.
func (s *Source) BinlogRetention() sluice.BinlogRetention {
	s.binlogRet.mu.Lock()
	defer s.binlogRet.mu.Unlock()
	return s.binlogRet.r
}

// binlogStatusStatement is the statement that reads the server's current
// binlog file and position: MySQL 8.2 renamed SHOW MASTER STATUS to SHOW
// BINARY LOG STATUS and 8.4 removed the old name; MariaDB keeps it.
func binlogStatusStatement(flavor, version string) string {
	if flavor == mysql.MariaDBFlavor || strings.Contains(strings.ToLower(version), "mariadb") {
		return "SHOW MASTER STATUS"
	}
	major, rest, _ := strings.Cut(version, ".")
	minor, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(strings.TrimRightFunc(minor, func(r rune) bool { return r < '0' || r > '9' }))
	if err1 == nil && err2 == nil && (ma > 8 || ma == 8 && mi >= 2) {
		return "SHOW BINARY LOG STATUS"
	}
	return "SHOW MASTER STATUS"
}

// binlogFile is one row of SHOW BINARY LOGS.
type binlogFile struct {
	name string
	size int64
}

// binaryLogs lists the server's binlog files, oldest first (the
// statement's own order, the same under both flavors and every version).
func binaryLogs(c *client.Conn) ([]binlogFile, error) {
	r, err := c.Execute("SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
	}
	files := make([]binlogFile, 0, r.RowNumber())
	for i := 0; i < r.RowNumber(); i++ {
		n, err := r.GetString(i, 0)
		if err != nil {
			return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
		}
		sz, err := r.GetInt(i, 1)
		if err != nil {
			return nil, fmt.Errorf("mysql source: SHOW BINARY LOGS: %w", err)
		}
		files = append(files, binlogFile{name: n, size: sz})
	}
	return files, nil
}

// binlogHead reads the server's current binlog file and position; with
// the binary log off, a permanent error.
func binlogHead(c *client.Conn, srv *server) (string, uint64, error) {
	q := binlogStatusStatement(srv.flavor, srv.version)
	r, err := c.Execute(q)
	if err != nil {
		return "", 0, fmt.Errorf("mysql source: %s: %w", q, err)
	}
	if r.RowNumber() == 0 {
		return "", 0, sluice.Permanent(fmt.Errorf("mysql source: %s is empty: the binary log is off", q))
	}
	file, err := r.GetString(0, 0)
	if err != nil {
		return "", 0, fmt.Errorf("mysql source: %s: %w", q, err)
	}
	pos, err := r.GetUint(0, 1)
	if err != nil {
		return "", 0, fmt.Errorf("mysql source: %s: %w", q, err)
	}
	return file, pos, nil
}

// computeBinlogRetention compares the needed position with the server's
// files and head. Files are ordered by their sequence number (fileSeq),
// as the server numbers them; the head file counts up to the head
// position, whatever size SHOW BINARY LOGS gave it a moment before.
func computeBinlogRetention(files []binlogFile, headFile string, headPos uint64, neededFile string, neededPos uint64) sluice.BinlogRetention {
	r := sluice.BinlogRetention{Known: true, HeadFile: headFile, HeadPos: headPos, NeededFile: neededFile, NeededPos: neededPos, Files: len(files)}
	if len(files) > 0 {
		r.OldestFile = files[0].name
	}
	headSeq, needSeq := fileSeq(headFile), fileSeq(neededFile)
	for _, f := range files {
		r.ServerBytes += f.size
		if neededFile == "" {
			continue
		}
		seq := fileSeq(f.name)
		if f.name == neededFile {
			r.NeededPresent = true
		}
		switch {
		case seq < needSeq || seq > headSeq:
		case seq == headSeq:
			// counted below, from the head position
		default:
			r.BehindBytes += f.size
		}
	}
	if neededFile == "" {
		return r
	}
	if needSeq <= headSeq {
		r.BehindBytes += int64(headPos)
	}
	if r.NeededPresent || needSeq == headSeq {
		r.BehindBytes -= int64(neededPos)
	}
	if r.BehindBytes < 0 {
		r.BehindBytes = 0 // the head moved back (RESET MASTER): nothing to read
	}
	return r
}

// neededPosition is the binlog file and position a Resume token (a
// stream mark's, or a snapshot chunk's JSON offset) resumes from.
func neededPosition(token string) (string, uint64, bool) {
	o, _, err := tokenOffset(token)
	if err != nil || o.File == "" {
		return "", 0, false
	}
	return o.File, uint64(o.Pos), true
}

// needed is the position a restart would resume from: the last one the
// pipeline confirmed, else where this run started (the stored offset).
func (s *Source) needed() (string, uint64) {
	for _, p := range []*string{s.confirmed(), s.runStart.Load()} {
		if p == nil {
			continue
		}
		if f, pos, ok := neededPosition(*p); ok {
			return f, pos
		}
	}
	return "", 0
}

// watchBinlog reads the binlog retention every binlog_check_interval
// until ctx ends, on a connection of its own (reopened after a failure):
// the stream's query connection belongs to the stream's goroutine.
func (s *Source) watchBinlog(ctx context.Context, srv *server) {
	source.Poll(ctx, s.cfg.BinlogCheckInterval, s.log, "binlog watcher", s.connect,
		func(c *client.Conn) error { return s.readBinlogRetention(c, srv) },
		func(c *client.Conn) { c.Close() })
}

// readBinlogRetention takes one reading and logs crossings of the
// threshold and the loss of the needed file.
func (s *Source) readBinlogRetention(c *client.Conn, srv *server) error {
	files, err := binaryLogs(c)
	if err != nil {
		return err
	}
	headFile, headPos, err := binlogHead(c, srv)
	if err != nil {
		return err
	}
	neededFile, neededPos := s.needed()
	r := computeBinlogRetention(files, headFile, headPos, neededFile, neededPos)
	r.OverThreshold = s.cfg.BinlogWarnBytes > 0 && r.BehindBytes > s.cfg.BinlogWarnBytes
	s.binlogRet.mu.Lock()
	was := s.binlogRet.r
	s.binlogRet.r = r
	s.binlogRet.mu.Unlock()
	switch {
	case r.OverThreshold && !was.OverThreshold:
		s.log.Warn("the position sluice needs is more than binlog_warn_bytes behind the server's binlog head: the sinks are behind; "+
			"if the server purges the needed file first (binlog_expire_logs_seconds, expire_logs_days), the pipeline cannot resume",
			zap.Int64("behind_bytes", r.BehindBytes), zap.Int64("binlog_warn_bytes", s.cfg.BinlogWarnBytes),
			zap.String("needed_file", r.NeededFile), zap.String("oldest_file", r.OldestFile), zap.String("head_file", r.HeadFile))
	case !r.OverThreshold && was.OverThreshold:
		s.log.Info("the needed binlog position is back below binlog_warn_bytes", zap.Int64("behind_bytes", r.BehindBytes))
	}
	if r.NeededFile != "" && !r.NeededPresent && (!was.Known || was.NeededPresent || was.NeededFile != r.NeededFile) {
		s.log.Error("the binlog file sluice needs is no longer on the server (purged): the next restart fails, "+
			"or takes a new snapshot under snapshot.mode when_needed",
			zap.String("needed_file", r.NeededFile), zap.String("oldest_file", r.OldestFile))
	}
	return nil
}
