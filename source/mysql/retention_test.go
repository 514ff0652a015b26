package mysql

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
)

func TestBinlogStatusStatement(t *testing.T) {
	for _, tc := range []struct{ flavor, version, want string }{
		{"mariadb", "10.11.19-MariaDB-log", "SHOW MASTER STATUS"},
		{"mysql", "11.4.2-MariaDB", "SHOW MASTER STATUS"}, // flavor forced, server says otherwise
		{"mysql", "5.7.44-log", "SHOW MASTER STATUS"},
		{"mysql", "8.0.36", "SHOW MASTER STATUS"},
		{"mysql", "8.1.0", "SHOW MASTER STATUS"},
		{"mysql", "8.2.0", "SHOW BINARY LOG STATUS"},
		{"mysql", "8.4.3-commercial", "SHOW BINARY LOG STATUS"},
		{"mysql", "9.1.0", "SHOW BINARY LOG STATUS"},
		{"mysql", "", "SHOW MASTER STATUS"},
		{"mysql", "garbage", "SHOW MASTER STATUS"},
	} {
		if got := binlogStatusStatement(tc.flavor, tc.version); got != tc.want {
			t.Errorf("binlogStatusStatement(%q, %q) = %q, want %q", tc.flavor, tc.version, got, tc.want)
		}
	}
}

func TestComputeBinlogRetention(t *testing.T) {
	files := []binlogFile{{"b.000003", 1000}, {"b.000004", 2000}, {"b.000005", 500}}
	for _, tc := range []struct {
		name                string
		files               []binlogFile
		headPos             uint64
		needFile            string
		needPos             uint64
		behind              int64
		present             bool
		oldest              string
		serverBytes, nfiles int64
	}{
		{"same file", files, 400, "b.000005", 100, 300, true, "b.000003", 3500, 3},
		{"two files back", files, 400, "b.000003", 900, 100 + 2000 + 400, true, "b.000003", 3500, 3},
		{"purged: counts what is left", files, 400, "b.000001", 900, 1000 + 2000 + 400, false, "b.000003", 3500, 3},
		{"no position yet", files, 400, "", 0, 0, false, "b.000003", 3500, 3},
		{"ahead of the head (RESET MASTER)", files, 400, "b.000009", 50, 0, false, "b.000003", 3500, 3},
		{"caught up", files[2:], 500, "b.000005", 500, 0, true, "b.000005", 500, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := computeBinlogRetention(tc.files, "b.000005", tc.headPos, tc.needFile, tc.needPos)
			if !r.Known || r.BehindBytes != tc.behind || r.NeededPresent != tc.present || r.OldestFile != tc.oldest ||
				r.ServerBytes != tc.serverBytes || int64(r.Files) != tc.nfiles {
				t.Errorf("got %+v, want behind %d, present %v, oldest %s, %d bytes in %d files", r, tc.behind, tc.present, tc.oldest, tc.serverBytes, tc.nfiles)
			}
		})
	}
}

func TestNeededPosition(t *testing.T) {
	for _, tc := range []struct {
		token string
		file  string
		pos   uint64
		ok    bool
	}{
		{"mysql-bin.000002\x00342\x000-1-17", "mysql-bin.000002", 342, true},
		{"mysql-bin.000002\x00342\x00", "mysql-bin.000002", 342, true},
		{`{"version":1,"file":"mysql-bin.000007","pos":99,"snapshot":{"tables":[]}}`, "mysql-bin.000007", 99, true},
		{`{"version":1`, "", 0, false},
		{"mysql-bin.000002", "", 0, false},
		{"mysql-bin.000002\x00x\x00", "", 0, false},
		{"", "", 0, false},
	} {
		f, p, ok := neededPosition(tc.token)
		if f != tc.file || p != tc.pos || ok != tc.ok {
			t.Errorf("neededPosition(%q) = %q, %d, %v; want %q, %d, %v", tc.token, f, p, ok, tc.file, tc.pos, tc.ok)
		}
	}
}

// head is the server's binlog head file.
func (h *harness) headFile() string {
	h.t.Helper()
	r, err := h.db.Execute("SHOW MASTER STATUS")
	if err != nil {
		h.t.Fatal(err)
	}
	f, err := r.GetString(0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return f
}

// waitBinlog polls the source's binlog retention until cond holds.
func (h *harness) waitBinlog(what string, cond func(r sluice.BinlogRetention) bool) sluice.BinlogRetention {
	h.t.Helper()
	var r sluice.BinlogRetention
	h.c.WaitFor(what, func([]*sluice.Event) bool {
		r = h.src.BinlogRetention()
		return cond(r)
	})
	return r
}

// TestBinlogRetention: while the sinks hold back the confirmation, the
// needed position stays where the run started and the watcher reports
// the binlog written since (across a rotation) as behind the head, over
// binlog_warn_bytes; once a position in the head file is confirmed, the
// needed file follows it.
func TestBinlogRetention(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS binret", "CREATE TABLE binret (id int PRIMARY KEY, pad varchar(255))")
	h.dropAfter("binret")
	h.start(map[string]any{"tables": []any{"binret"}, "binlog_check_interval": "1s", "binlog_warn_bytes": 20000, "drain_timeout": "100ms"},
		testenv.HoldMarks())
	h.streaming()
	start := h.waitBinlog("a first reading", func(r sluice.BinlogRetention) bool { return r.Known && r.NeededFile != "" })
	if !start.NeededPresent || start.OverThreshold {
		t.Fatalf("first reading %+v: want the needed file present, under the threshold", start)
	}

	// ~50 KB of row events, then a rotation: the needed file is no
	// longer the head.
	h.exec("INSERT INTO binret SELECT seq, REPEAT('x', 250) FROM seq_1_to_200", "FLUSH BINARY LOGS")
	head := h.headFile()
	h.wait(200)
	r := h.waitBinlog("the rotation read, over the threshold", func(r sluice.BinlogRetention) bool {
		return r.HeadFile == head && r.OverThreshold
	})
	if r.NeededFile != start.NeededFile || r.NeededPos != start.NeededPos || !r.NeededPresent || r.BehindBytes < 50000 {
		t.Fatalf("after 50 KB and a rotation: %+v, want the start's %s:%d still needed and present, at least 50000 bytes behind",
			r, start.NeededFile, start.NeededPos)
	}
	if r.Files < 2 || r.ServerBytes < r.BehindBytes || fileSeq(r.OldestFile) > fileSeq(r.NeededFile) {
		t.Fatalf("after a rotation: %+v, want at least 2 files, the oldest not after the needed one", r)
	}

	// Confirm a mark in the head file (the stream marks the binlog
	// heartbeats that follow the rotation).
	h.c.WaitFor("a mark in "+head, func([]*sluice.Event) bool {
		m := h.c.Marks()
		return len(m) > 0 && m[len(m)-1].Pos.TxLSN>>32 == fileSeq(head)
	})
	m := h.c.Marks()
	h.c.Confirm(m[len(m)-1])
	after := h.waitBinlog("the needed file to follow the confirmation", func(r sluice.BinlogRetention) bool {
		return fileSeq(r.NeededFile) >= fileSeq(head)
	})
	if !after.NeededPresent || after.BehindBytes >= r.BehindBytes {
		t.Fatalf("after confirming into %s: %+v, want the needed file present and less behind than %d", head, after, r.BehindBytes)
	}
}

// purgeTo purges the server's binlogs before file. A file still being
// read by a binlog dump is not purged (the server reports it in use), so
// it retries until the oldest file is file.
func (h *harness) purgeTo(file string) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := h.db.Execute("PURGE BINARY LOGS TO '" + file + "'")
		files, lerr := binaryLogs(h.db)
		if lerr != nil {
			h.t.Fatal(lerr)
		}
		if len(files) > 0 && files[0].name == file {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("PURGE BINARY LOGS TO '%s' left %s (last error %v)", file, files[0].name, err)
		}
		time.Sleep(100 * time.Millisecond) // the reader of the older file moves on by itself
	}
}

// TestPurgedBinlog: the server purges the binlog file of the stored
// offset. A running source reports the needed file gone; a restart under
// snapshot.mode initial stops with a permanent error that says how to
// recover, and under when_needed takes a new snapshot and streams on.
func TestPurgedBinlog(t *testing.T) {
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS purged", "CREATE TABLE purged (id int PRIMARY KEY)", "INSERT INTO purged VALUES (1), (2)")
	h.dropAfter("purged")
	opts := func(mode string) map[string]any {
		return map[string]any{"tables": []any{"purged"}, "snapshot": map[string]any{"mode": mode},
			"binlog_check_interval": "1s", "drain_timeout": "100ms"}
	}
	h.start(opts("initial"))
	h.streaming()
	h.wait(2)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	store := &fileStore{path: filepath.Join(h.stateDir, h.name+".mysql.json")}
	stored, err := store.Load(nil)
	if err != nil || stored == nil {
		t.Fatalf("stored offset: %+v, %v", stored, err)
	}

	// Running again with the confirmation held, the needed file is the
	// stored one; the server purges it under the running source.
	h.start(opts("initial"), testenv.HoldMarks())
	h.streaming()
	h.exec("FLUSH BINARY LOGS")
	head := h.headFile()
	h.purgeTo(head)
	r := h.waitBinlog("the purge read", func(r sluice.BinlogRetention) bool { return r.OldestFile == head })
	if r.NeededFile != stored.File || r.NeededPresent {
		t.Fatalf("after purging %s: %+v, want it needed and not present", stored.File, r)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}

	// A restart cannot resume.
	s := h.newSource(opts("initial"))
	ctx, cancel := contextTimeout(20 * time.Second)
	defer cancel()
	err = s.Run(ctx, func(*sluice.Event) error { return nil })
	for _, want := range []string{"stored binlog file " + stored.File + " is no longer on the server (purged)", "set snapshot.mode to when_needed", "delete the stored offset"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Run after the purge = %v, want an error containing %q", err, want)
		}
	}
	if !sluice.IsPermanent(err) || errors.Is(err, context.Canceled) {
		t.Fatalf("Run after the purge = %v, want a permanent error", err)
	}

	// when_needed: a new snapshot, then streaming from a present file.
	h.start(opts("when_needed"))
	h.streaming()
	h.exec("INSERT INTO purged VALUES (3)")
	evs := h.wait(3)
	if len(evs) != 3 || evs[0].Op != sluice.OpRead || evs[1].Op != sluice.OpRead || evs[2].Op != sluice.OpCreate {
		t.Fatalf("when_needed after the purge: %s, want r1 r2 c3", ids(evs))
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	o, err := store.Load(nil)
	if err != nil || o == nil || fileSeq(o.File) < fileSeq(head) {
		t.Fatalf("offset after the new snapshot: %+v, %v; want one in %s or later", o, err, head)
	}
}
