package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// sluiceRun is how one sluice run starts: its working (and state)
// directory, its configuration, and the server process that feeds it.
type sluiceRun struct {
	dir, cfg  string
	tables    []string   // the PostgreSQL tables it reads: the case's, then the lookup table
	serverPID func() int // 0 when there is no such process
	opaque    bool       // its records are not JSON (Avro): ops are not counted
}

// pgRun is a run on a pre-made slot, in a fresh directory.
func (b *bench) pgRun(ctx context.Context, w workload, slot, pub string, tables []string, topic string) sluiceRun {
	pipeline := "bench" + strings.ReplaceAll(b.id, "-", "")
	return sluiceRun{cfg: daemonConfig(b.o, w, pipeline, slot, pub, tables, topic), tables: tables,
		serverPID: func() int { return b.walsenderPID(ctx, slot) }}
}

// runSluice runs the daemon until topic holds every expected record,
// samples its CPU and memory, stops it, and verifies the topic.
func (b *bench) runSluice(ctx context.Context, w workload, sr *sluiceRuns, bin string, run sluiceRun, topic string, profiling bool) (*topicStats, *profileRes, error) {
	o := b.o
	ex := w.expected()
	dir := run.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp(b.dir, "run-"); err != nil {
			return nil, nil, err
		}
	}
	pprofPath := ""
	if profiling {
		pprofPath = filepath.Join(o.profileDir, w.Kind+"_"+w.Width)
		for _, ext := range []string{".cpu", ".allocs", ".mem.json", ".trace", ".tracing", ".done"} {
			os.Remove(pprofPath + ext)
		}
	}
	before := sampleOthers()
	d, err := startDaemon(bin, dir, run.cfg, pprofPath)
	if err != nil {
		return nil, nil, err
	}
	defer d.stop(10 * time.Second)
	timeout := 2*time.Minute + time.Duration(ex.records())*time.Millisecond
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	steady := before
	var traceErr error
	if _, err := waitRecordsFrom(wctx, b.adm, topic, int64(ex.records()), d.alive, func() {
		steady = sampleOthers()
		traceErr = d.startTrace(10 * time.Second)
	}); err != nil {
		return nil, nil, err
	}
	if traceErr != nil {
		return nil, nil, traceErr
	}
	ps, after := sampleProc(d.pid()), sampleOthers()
	var ws procSample
	if run.serverPID != nil {
		ws = sampleProc(run.serverPID())
	}
	if err := d.stopProfile(30 * time.Second); err != nil {
		return nil, nil, err
	}
	if err := d.stop(60 * time.Second); err != nil {
		return nil, nil, err
	}
	st, err := consumeAll(ctx, o.brokers, topic, int64(ex.records()), consumeOpts{samples: 4096})
	if err != nil {
		return nil, nil, err
	}
	if err := verify(st, ex, run.opaque); err != nil {
		return nil, nil, fmt.Errorf("topic %s: %w", topic, err)
	}
	if profiling {
		pr := &profileRes{CPU: pprofPath + ".cpu", Allocs: pprofPath + ".allocs"}
		var mem struct {
			Mallocs    uint64 `json:"mallocs"`
			TotalAlloc uint64 `json:"total_alloc"`
		}
		if raw, err := os.ReadFile(pprofPath + ".mem.json"); err == nil && json.Unmarshal(raw, &mem) == nil {
			pr.MallocsPerEvent = float64(mem.Mallocs) / float64(ex.events())
			pr.BytesPerEvent = float64(mem.TotalAlloc) / float64(ex.events())
		}
		if sum, err := goroutineTimes(pprofPath+".trace", 8); err == nil {
			pr.Trace, pr.Goroutines = pprofPath+".trace", sum
		} else {
			b.logf("   execution trace of the profiling run: %v", err)
		}
		return st, pr, nil
	}
	if !ps.OK {
		return nil, nil, errors.New("cannot read /proc of the sluice process")
	}
	sr.EPS = append(sr.EPS, rate(ex.events(), st.LastAppend.Sub(st.FirstAppend)))
	sr.WallEPS = append(sr.WallEPS, rate(ex.events(), st.LastAppend.Sub(d.started)))
	sr.CPU = append(sr.CPU, perMillion(ps.CPU, ex.events()))
	sr.RSS = append(sr.RSS, float64(ps.HWM)/(1<<20))
	if ws.OK {
		sr.WalsenderCPU = append(sr.WalsenderCPU, perMillion(ws.CPU, ex.events()))
	}
	sr.addOthers(before, steady, after, b.o.source == "mysql", ex.events())
	return st, nil, nil
}

// addOthers records what shared the machine with one run (sluiceRuns'
// BrokerCPU, MySQLCPU, Cores) from samples before it, at its first record
// (steady) and after it: the services' CPU over the whole run, as
// sluice's own is; the busy cores from the first record on, while the
// records flowed.
func (sr *sluiceRuns) addOthers(before, steady, after others, mysql bool, events int) {
	if before.kafka.OK && after.kafka.OK {
		sr.BrokerCPU = append(sr.BrokerCPU, perMillion(after.kafka.CPU-before.kafka.CPU, events))
	}
	if mysql && before.mysql.OK && after.mysql.OK {
		sr.MySQLCPU = append(sr.MySQLCPU, perMillion(after.mysql.CPU-before.mysql.CPU, events))
	}
	// A run too short to see its records flow (under a quarter of a
	// second from the first record, which is polled every 50 ms) counts
	// its busy cores from the daemon's start.
	from := steady
	if after.total-steady.total < int64(runtime.NumCPU())*clockTick/4 {
		from = before
	}
	if c := coresBusy(from, after); c > 0 {
		sr.Cores = append(sr.Cores, c)
	}
}

// verify checks that every expected event, and nothing else, arrived:
// distinct event ids, then verifyCounts.
func verify(st *topicStats, ex expected, opaque bool) error {
	var errs []error
	if st.Distinct != ex.events() {
		errs = append(errs, fmt.Errorf("%d distinct events, want %d", st.Distinct, ex.events()))
	}
	return errors.Join(append(errs, verifyCounts(st, ex, opaque))...)
}

// verifyCounts checks the number of records, of each op (unless the
// records are opaque) and of tombstones: all a topic without sluice's
// event ids (Debezium's) can be checked for.
func verifyCounts(st *topicStats, ex expected, opaque bool) error {
	var errs []error
	if st.Records != ex.records() {
		errs = append(errs, fmt.Errorf("%d records, want %d (duplicates after a restart?)", st.Records, ex.records()))
	}
	for op, want := range map[byte]int{'c': ex.Inserts, 'u': ex.Updates, 'd': ex.Deletes, 'r': ex.Reads} {
		if opaque {
			break
		}
		if st.Ops[op] != want {
			errs = append(errs, fmt.Errorf("%d op %c events, want %d", st.Ops[op], op, want))
		}
	}
	if st.Tombstones != ex.Deletes {
		errs = append(errs, fmt.Errorf("%d tombstones, want %d", st.Tombstones, ex.Deletes))
	}
	return errors.Join(errs...)
}
