package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The -bigtx mode: one live transaction of n rows while sluice runs, with
// the source's streaming of in-progress transactions (pgoutput protocol
// 2) on and off, alternating. Per run: the time the INSERT … COMMIT took,
// the time from the commit returning to the topic holding all n records,
// sluice's peak RSS, and the server's spill and stream counters of the
// slot (pg_stat_replication_slots) at the end. logical_decoding_work_mem
// is the server's (64MB by default).

// bigTxRun is one run.
type bigTxRun struct {
	Streaming   bool
	Write       time.Duration // INSERT … COMMIT
	CommitToEnd time.Duration // COMMIT returned → the topic's end offset reached n
	PeakRSS     int64         // bytes (VmHWM)
	SpillBytes  int64
	StreamBytes int64
}

func runBigTx(ctx context.Context, o *options) ([]bigTxRun, error) {
	b, done, err := openPGKafka(ctx, o)
	defer done()
	if err != nil {
		return nil, err
	}
	var mem string
	b.db.QueryRow(ctx, "SHOW logical_decoding_work_mem").Scan(&mem)
	b.logf("== one transaction of %d rows, logical_decoding_work_mem %s", o.bigTx, mem)
	var runs []bigTxRun
	for r := range o.repeats {
		modes := []bool{true, false}
		if r%2 == 1 {
			modes = []bool{false, true}
		}
		for _, streaming := range modes {
			run, err := b.bigTxRun(ctx, r, streaming)
			if err != nil {
				return runs, fmt.Errorf("repeat %d, streaming %v: %w", r, streaming, err)
			}
			runs = append(runs, run)
			b.logf("   [%d] streaming %-5v write %6.1f s  commit→last event %6.1f s  peak RSS %4d MiB  server spill %5d MiB  streamed %5d MiB",
				r, streaming, run.Write.Seconds(), run.CommitToEnd.Seconds(), run.PeakRSS>>20, run.SpillBytes>>20, run.StreamBytes>>20)
		}
	}
	return runs, nil
}

func (b *bench) bigTxRun(ctx context.Context, r int, streaming bool) (bigTxRun, error) {
	run := bigTxRun{Streaming: streaming}
	n := b.o.bigTx
	name := fmt.Sprintf("bench_%s_bigtx%d_%v", b.id, r, streaming)
	topic := "sluice-bench." + name
	slot := name + "_s"
	if _, err := b.db.Exec(ctx, fmt.Sprintf(`CREATE TABLE %[1]s (id bigint PRIMARY KEY, v bigint NOT NULL, pad text);
		CREATE PUBLICATION %[1]s FOR TABLE %[1]s`, name)); err != nil {
		return run, err
	}
	if !b.o.keep {
		defer func() {
			cctx := context.WithoutCancel(ctx)
			b.db.Exec(cctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot)
			b.db.Exec(cctx, fmt.Sprintf("DROP PUBLICATION IF EXISTS %[1]s; DROP TABLE IF EXISTS %[1]s", name))
			b.adm.DeleteTopics(cctx, topic)
		}()
	}
	if _, err := b.db.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot); err != nil {
		return run, err
	}
	// Made before the run: a topic the sink creates at its first record
	// costs ~5 s of metadata refresh, which would count as latency.
	if err := createTopic(ctx, b.adm, topic, b.o.partitions); err != nil {
		return run, err
	}
	dir, err := os.MkdirTemp(b.dir, "bigtx-")
	if err != nil {
		return run, err
	}
	src := fmt.Sprintf(`type: postgres
      dsn: %s
      slot: %s
      publication: %s
      tables: [public.%s]
      status_interval: 1s
      drain_timeout: 30s
      streaming: %v
      snapshot: {mode: never}`, b.o.pgDSN, slot, name, name, streaming)
	d, err := startDaemon(b.bin, dir, runConfig(b.o, name, src, topic), "")
	if err != nil {
		return run, err
	}
	defer d.stop(30 * time.Second)
	// Streaming once the slot is read.
	for {
		var active bool
		if err := b.db.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&active); err != nil {
			return run, err
		}
		if active {
			break
		}
		if err := d.alive(); err != nil {
			return run, err // with the log's tail
		}
		time.Sleep(50 * time.Millisecond)
	}
	peak := make(chan int64, 1)
	stopSampling := make(chan struct{})
	go func() {
		var hwm int64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if s := sampleProc(d.pid()); s.HWM > hwm {
				hwm = s.HWM
			}
			select {
			case <-stopSampling:
				peak <- hwm
				return
			case <-t.C:
			}
		}
	}()
	began := time.Now()
	_, err = b.db.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT g, g, repeat('p', 80) FROM generate_series(1, %d) g", name, n))
	committed := time.Now()
	if err != nil {
		close(stopSampling)
		return run, err
	}
	run.Write = committed.Sub(began)
	end, err := waitRecords(ctx, b.adm, topic, int64(n), d.alive)
	close(stopSampling)
	run.PeakRSS = <-peak
	if err != nil {
		return run, err
	}
	run.CommitToEnd = end.Sub(committed)
	// The walsender reports its counters as it decodes; they are final
	// once every record is in Kafka.
	err = b.db.QueryRow(ctx, "SELECT spill_bytes, stream_bytes FROM pg_stat_replication_slots WHERE slot_name = $1", slot).Scan(&run.SpillBytes, &run.StreamBytes)
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	return run, err
}

// printBigTx prints the runs and each mode's medians.
func printBigTx(w io.Writer, n int, runs []bigTxRun) {
	fmt.Fprintf(w, "\none transaction of %d rows\n\n", n)
	fmt.Fprintln(w, "| streaming | runs | INSERT … COMMIT s | commit → last event s | sluice peak RSS MiB | server spill MiB | streamed MiB |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, mode := range []bool{true, false} {
		var write, lag, rss, spill, stream []float64
		for _, r := range runs {
			if r.Streaming != mode {
				continue
			}
			write = append(write, r.Write.Seconds())
			lag = append(lag, r.CommitToEnd.Seconds())
			rss = append(rss, float64(r.PeakRSS>>20))
			spill = append(spill, float64(r.SpillBytes>>20))
			stream = append(stream, float64(r.StreamBytes>>20))
		}
		if len(write) == 0 {
			continue
		}
		fmt.Fprintf(w, "| %v | %d | %.1f | %.1f (%s) | %.0f | %.0f | %.0f |\n", mode, len(write), median(write), median(lag), spread(lag),
			median(rss), median(spill), median(stream))
	}
}

func spread(xs []float64) string {
	return fmt.Sprintf("%.1f–%.1f", slices.Min(xs), slices.Max(xs))
}

// openPGKafka is newBench with the PostgreSQL connection and the Kafka
// clients the -kafka-es and -bigtx modes use; done releases all of it.
func openPGKafka(ctx context.Context, o *options) (b *bench, done func(), err error) {
	b, err = newBench(ctx, o)
	done = func() {
		if b == nil {
			return
		}
		if b.kcl != nil {
			b.kcl.Close()
		}
		if b.db != nil {
			b.db.Close(context.WithoutCancel(ctx))
		}
		os.RemoveAll(b.dir)
	}
	if err != nil {
		return b, done, err
	}
	if b.db, err = pgx.Connect(ctx, o.pgDSN); err != nil {
		return b, done, fmt.Errorf("connect %s: %w", redact(o.pgDSN), err)
	}
	if b.kcl, err = kgo.NewClient(kgo.SeedBrokers(o.brokers...)); err != nil {
		return b, done, err
	}
	b.adm = kadm.NewClient(b.kcl)
	return b, done, nil
}
