package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// runLatency runs sluice live while a paced writer commits single-row
// insert transactions of small rows at target events/s for dur, then
// measures commit (source.ts_us) → Kafka append (LogAppendTime) latency
// of every event after a 1 s warm-up. With pprof set, bin is the
// profiling build and writes its profiles there once every event is in
// Kafka.
func (b *bench) runLatency(ctx context.Context, bin, pprof string, target float64, dur time.Duration) (*latencyRes, error) {
	o := b.o
	b.latencyRuns++
	base := fmt.Sprintf("bench_%s_latency%d", b.id, b.latencyRuns)
	table, pub, slot := base, base, base+"_s"
	if err := b.exec(ctx, createSQL(table, "small")); err != nil {
		return nil, err
	}
	defer func() {
		if !o.keep {
			_ = b.exec(context.WithoutCancel(ctx), "DROP PUBLICATION IF EXISTS "+pub+"; DROP TABLE IF EXISTS "+table)
		}
	}()
	if err := b.exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE "+table); err != nil {
		return nil, err
	}
	if err := b.createSlot(ctx, slot); err != nil {
		return nil, err
	}
	defer b.dropSlot(slot)
	topic := fmt.Sprintf("bench.%s.latency%d", b.id, b.latencyRuns)
	if err := createTopic(ctx, b.adm, topic, o.partitions); err != nil {
		return nil, err
	}
	defer b.deleteTopics(topic)
	dir, err := os.MkdirTemp(b.dir, "latency-")
	if err != nil {
		return nil, err
	}
	d, err := startDaemon(bin, dir, daemonConfig(o, workload{}, "bench"+b.id, slot, pub, []string{table}, topic), pprof)
	if err != nil {
		return nil, err
	}
	defer d.stop(10 * time.Second)
	// Live: wait until sluice streams from the slot.
	deadline := time.Now().Add(60 * time.Second)
	for b.walsenderPID(ctx, slot) == 0 {
		if err := d.alive(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, errors.New("sluice did not start streaming within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	n := max(int(target*dur.Seconds()), 1)
	ws, err := b.openWriters(ctx, o.latencyWriters, n)
	if err != nil {
		return nil, err
	}
	defer ws.close(context.WithoutCancel(ctx))
	wsPID := b.walsenderPID(ctx, slot)
	writer0, ws0, sl0 := ws.sample(), sampleProc(wsPID), sampleProc(d.pid())
	busy0, total0 := machineCPU()
	start := time.Now()
	if err := ws.write(ctx, table, target); err != nil {
		return nil, err
	}
	writeDur := time.Since(start)
	busy1, total1 := machineCPU()
	writer1, ws1, sl1 := ws.sample(), sampleProc(wsPID), sampleProc(d.pid())
	cores := func(a, b procSample) float64 {
		if !a.OK || !b.OK {
			return 0
		}
		return (b.CPU - a.CPU).Seconds() / writeDur.Seconds()
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := waitRecords(wctx, b.adm, topic, int64(n), d.alive); err != nil {
		return nil, err
	}
	ps := sampleProc(d.pid())
	if err := d.stopProfile(30 * time.Second); err != nil {
		return nil, err
	}
	if err := d.stop(60 * time.Second); err != nil {
		return nil, err
	}
	st, err := consumeAll(ctx, o.brokers, topic, int64(n), consumeOpts{latency: true, latencyFrom: start.Add(time.Second)})
	if err != nil {
		return nil, err
	}
	if err := verify(st, expected{Inserts: n}, false); err != nil {
		return nil, err
	}
	lat := st.Latencies
	sortDurations(lat)
	lr := &latencyRes{TargetRate: target, OfferedRate: rate(n, writeDur), Writers: len(ws.conns), Events: n, Measured: len(lat),
		P50ms: ms(percentile(lat, 50)), P95ms: ms(percentile(lat, 95)), P99ms: ms(percentile(lat, 99)),
		CPU: perMillion(ps.CPU, n), PeakRSS: float64(ps.HWM) / (1 << 20),
		WriterCores: cores(writer0, writer1), WalsenderCores: cores(ws0, ws1), SluiceCores: cores(sl0, sl1)}
	if total1 > total0 {
		lr.MachineCores = float64(busy1-busy0) / float64(total1-total0) * float64(runtime.NumCPU())
	}
	if len(lat) > 0 {
		lr.MaxMs = ms(lat[len(lat)-1])
	}
	return lr, nil
}

// pacedWriters are the sessions that offer the latency run's rate
// together (-latency-writers), for rates one session cannot commit alone.
// Each writes its own id range at its share of the rate.
type pacedWriters struct {
	conns       []*pgx.Conn
	from, count []int
}

// openWriters connects up to w sessions for n rows, each committing as a
// production server does: with synchronous_commit off (scripts/postgres.sh)
// the walsender sees a commit only when the WAL writer flushes it, up to
// wal_writer_delay (200 ms) later.
func (b *bench) openWriters(ctx context.Context, w, n int) (*pacedWriters, error) {
	ws := &pacedWriters{}
	ws.from, ws.count = splitRows(n, w)
	for range ws.from {
		c, err := pgx.Connect(ctx, b.o.pgDSN)
		if err != nil {
			ws.close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("paced writer: %w", err)
		}
		ws.conns = append(ws.conns, c)
		if _, err := c.Exec(ctx, "SET synchronous_commit = on"); err != nil {
			ws.close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("paced writer: %w", err)
		}
	}
	return ws, nil
}

// write runs every writer at its share of rate and waits for all of them.
func (ws *pacedWriters) write(ctx context.Context, table string, rate float64) error {
	n := 0
	for _, c := range ws.count {
		n += c
	}
	errs := make([]error, len(ws.conns))
	var wg sync.WaitGroup
	for k, c := range ws.conns {
		wg.Go(func() {
			share := rate * float64(ws.count[k]) / float64(n)
			// The simple protocol: a DO block with COMMIT must run outside
			// an implicit transaction block.
			_, err := c.PgConn().Exec(ctx, pacedSQL(table, "small", ws.from[k], ws.count[k], share)).ReadAll()
			if err != nil {
				errs[k] = fmt.Errorf("paced writer %d: %w", k+1, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sample sums the writers' backends' CPU.
func (ws *pacedWriters) sample() procSample {
	var sum procSample
	for k, c := range ws.conns {
		s := sampleProc(int(c.PgConn().PID()))
		if !s.OK {
			return procSample{}
		}
		if k == 0 {
			sum = s
			continue
		}
		sum.CPU += s.CPU
	}
	return sum
}

func (ws *pacedWriters) close(ctx context.Context) {
	for _, c := range ws.conns {
		_ = c.Close(ctx)
	}
}
