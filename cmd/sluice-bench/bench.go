package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// options configure one invocation of the driver.
type options struct {
	pgDSN   string
	brokers []string
	root    string // module root, to build ./cmd/sluice
	bin     string // a prebuilt sluice binary instead of building one
	compare string // a second sluice binary measured alongside (A/B)
	// compareTransforms is a pipeline transforms list (YAML) the compare
	// runs use: with it, -compare defaults to the same binary, so the A/B
	// measures what the transforms cost.
	compareTransforms string
	// lookupRows, when above 0, makes each case a second table of that
	// many rows (id, name, city), captured by every run and named
	// {lookup} in -compare-transforms, which names the case's table
	// {table}: a join's lookup table. compareContains is a string every
	// sampled compare record must hold (the joined field).
	lookupRows      int
	compareContains string
	// compareSink is YAML added to the compare runs' kafka sink block
	// (e.g. cmd/sluice-bench/sink-avro.yaml): the A/B of a sink setting.
	// With format avro the records are opaque to the checks: ops are not
	// counted, and the subjects are deleted after each run.
	compareSink string

	cases       []workload
	repeats     int
	partitions  int
	compression string
	linger      time.Duration
	ceilings    bool

	latency         bool
	latencyRates    []float64 // events/s; 0: half the peak measured for single/small in this run
	latencyDuration time.Duration
	latencyWriters  int // paced writer sessions sharing the offered rate

	// source is postgres (default) or mysql; mysqlDSN and my are the
	// MySQL/MariaDB server of -source mysql.
	source   string
	mysqlDSN string
	my       myConn

	profileDir string // write pprof profiles of one extra sluice run per case
	keep       bool   // keep tables, slots and topics
	log        io.Writer

	// esDocs, when above 0, runs the → Elasticsearch comparison with
	// that many documents instead of the workloads, from a Kafka topic
	// (esFrom "kafka", kafkaes.go) or from PostgreSQL ("postgres",
	// pges.go), on the Elasticsearch at esURL.
	esDocs int
	esFrom string
	esURL  string
	// debezium runs Debezium Server beside sluice in every repeat of the
	// PostgreSQL workloads (debezium.go), with scripts/debezium.sh of
	// the module at scriptsRoot.
	debezium    bool
	scriptsRoot string
	// bigTx, when above 0, measures one live transaction of that many
	// rows with streaming on and off instead of the workloads (bigtx.go).
	bigTx int
}

// comparing reports whether each repeat also runs a compare variant.
func (o *options) comparing() bool {
	return o.compare != "" || o.compareTransforms != "" || o.compareSink != ""
}

// compareAvro reports whether the compare runs write Avro.
func (o *options) compareAvro() bool { return strings.Contains(o.compareSink, "avro") }

// bench is one invocation: connections, a unique run id and the built
// binaries.
type bench struct {
	o       *options
	id      string
	dir     string
	bin     string
	profBin string
	db      *pgx.Conn    // postgres
	my      *client.Conn // mysql
	kcl     *kgo.Client
	adm     *kadm.Client

	latencyRuns int
}

func (b *bench) logf(format string, args ...any) {
	if b.o.log != nil {
		fmt.Fprintf(b.o.log, format+"\n", args...)
	}
}

// newBench makes a run's scratch directory (the caller removes b.dir,
// also after an error) and builds the daemon (and its profiling build).
func newBench(ctx context.Context, o *options) (*bench, error) {
	b := &bench{o: o, id: fmt.Sprintf("%x", time.Now().UnixNano()/1e6%0xffffffff)}
	var err error
	if b.dir, err = os.MkdirTemp("", "sluice-bench-"); err != nil {
		return nil, err
	}
	if b.bin = o.bin; b.bin == "" {
		b.logf("building sluice from %s/cmd/sluice", o.root)
		if b.bin, err = buildSluice(ctx, o.root, b.dir, false); err != nil {
			return b, err
		}
	}
	if o.profileDir != "" {
		if b.profBin, err = buildSluice(ctx, o.root, b.dir, true); err != nil {
			return b, err
		}
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return b, err
		}
	}
	return b, nil
}

// run executes every case and the latency measurement.
func run(ctx context.Context, o *options) (*result, error) {
	b, err := newBench(ctx, o)
	if b != nil {
		defer os.RemoveAll(b.dir)
	}
	if err != nil {
		return nil, err
	}
	if o.source == "mysql" {
		if b.my, err = o.my.connect(); err != nil {
			return nil, err
		}
		defer b.my.Close()
	} else {
		if b.db, err = pgx.Connect(ctx, o.pgDSN); err != nil {
			return nil, fmt.Errorf("connect %s: %w", redact(o.pgDSN), err)
		}
		defer b.db.Close(context.WithoutCancel(ctx))
	}
	if o.debezium {
		b.logf("fetching Debezium Server (scripts/debezium.sh fetch; once)")
		if err := b.fetchDebezium(ctx); err != nil {
			return nil, err
		}
	}
	if b.kcl, err = kgo.NewClient(kgo.SeedBrokers(o.brokers...)); err != nil {
		return nil, err
	}
	defer b.kcl.Close()
	b.adm = kadm.NewClient(b.kcl)

	res := &result{Machine: describeMachine(ctx, b.db, b.my), Config: resultConfig{
		Source: o.source, Repeats: o.repeats, Partitions: o.partitions, Compression: o.compression, Linger: o.linger.String(),
		RateBasis: "events/s from the first to the last record's Kafka append time (LogAppendTime); the workload is in the WAL before sluice and the ceilings start",
	}}
	for _, w := range o.cases {
		b.logf("== %s: %d events", w.name(), w.Events)
		run := b.runCase
		if o.source == "mysql" {
			run = b.runMySQLCase
		}
		cr, err := run(ctx, w)
		if err != nil {
			return res, fmt.Errorf("%s: %w", w.name(), err)
		}
		res.Cases = append(res.Cases, cr)
	}
	if o.latency && o.source == "mysql" {
		b.logf("== no latency run: it is measured on PostgreSQL only")
	} else if o.latency {
		// The throughput cases leave gigabytes of WAL behind: checkpoint
		// now, so no checkpoint stalls the commits being timed (needs a
		// superuser; best effort).
		if err := b.exec(ctx, "CHECKPOINT"); err != nil {
			b.logf("   CHECKPOINT before the latency runs failed: %v", err)
		}
		for _, rate := range o.latencyRates {
			basis := "fixed by -latency-rate"
			if rate <= 0 {
				rate, basis = 5000, "default 5000/s (single/small not measured in this run)"
				for _, c := range res.Cases {
					if c.Workload == "single" && c.Width == "small" && c.Median.SluiceEPS > 0 {
						rate, basis = c.Median.SluiceEPS/2, "half the median single/small rate of this run"
					}
				}
			}
			bins := []string{b.bin}
			if o.compare != "" {
				bins = append(bins, o.compare)
			}
			for i, bin := range bins {
				name := "sluice"
				if i == 1 {
					name = "compare"
				}
				b.logf("== latency of %s at %.0f events/s for %s", name, rate, o.latencyDuration)
				lr, err := b.runLatency(ctx, bin, "", rate, o.latencyDuration)
				if err != nil {
					return res, fmt.Errorf("latency: %w", err)
				}
				lr.Basis, lr.Binary = basis, name
				res.Latency = append(res.Latency, lr)
			}
			if o.profileDir != "" {
				path := filepath.Join(o.profileDir, fmt.Sprintf("latency_%.0f", rate))
				b.logf("== profiling run of the latency at %.0f events/s: %s.cpu", rate, path)
				if _, err := b.runLatency(ctx, b.profBin, path, rate, o.latencyDuration); err != nil {
					return res, fmt.Errorf("latency, profiling run: %w", err)
				}
			}
		}
	}
	return res, nil
}

func (b *bench) exec(ctx context.Context, sql string) error {
	// The simple protocol: DO blocks with COMMIT must run outside an
	// (implicit extended-protocol) transaction block.
	_, err := b.db.PgConn().Exec(ctx, sql).ReadAll()
	return err
}

// freeSlots fails when fewer than need replication slots are free
// (max_replication_slots), before any is made.
func (b *bench) freeSlots(ctx context.Context, need int) error {
	var free int
	if err := b.db.QueryRow(ctx, "SELECT current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots)").Scan(&free); err == nil && free < need {
		return fmt.Errorf("%d replication slots needed, %d free (max_replication_slots): use fewer -repeats, or drop unused slots", need, free)
	}
	return nil
}

func (b *bench) createSlot(ctx context.Context, slot string) error {
	_, err := b.db.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot)
	return err
}

func (b *bench) dropSlot(slot string) {
	if b.o.keep {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 50 { // a walsender may take a moment to release it
		_, err := b.db.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot)
		if err == nil {
			// The daemon's snapshot state of the slot (the default state
			// store) goes with it, so a later run reusing the name starts
			// afresh and no orphaned row stays behind.
			_, _ = b.db.Exec(ctx, `DO $$BEGIN
				IF to_regclass('public.sluice_state') IS NOT NULL THEN
					DELETE FROM public.sluice_state WHERE slot = '`+strings.ReplaceAll(slot, "'", "''")+`';
				END IF; END$$`)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *bench) deleteTopics(topics ...string) {
	if b.o.keep || len(topics) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = b.adm.DeleteTopics(ctx, topics...)
}

// walsenderPID is the backend serving slot, once active.
func (b *bench) walsenderPID(ctx context.Context, slot string) int {
	var pid *int32
	if err := b.db.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&pid); err != nil || pid == nil {
		return 0
	}
	return int(*pid)
}

// runCase prepares one workload and measures it repeats times.
func (b *bench) runCase(ctx context.Context, w workload) (*caseResult, error) {
	o := b.o
	ex := w.expected()
	cr := &caseResult{Workload: w.Kind, Width: w.Width, Events: ex.events(), Records: ex.records(), WholeRun: w.wholeRun(o.source)}
	if w.Kind == "batch" || w.Kind == "update" || w.Kind == "mixed" {
		cr.Batch = w.Batch
	}
	base := fmt.Sprintf("bench_%s_%s_%s", b.id, w.Kind, w.Width)
	table, pub := base, base
	if err := b.exec(ctx, createSQL(table, w.Width)); err != nil {
		return nil, fmt.Errorf("create table: %w", err)
	}
	defer func() {
		if !o.keep {
			_ = b.exec(context.WithoutCancel(ctx), "DROP PUBLICATION IF EXISTS "+pub+"; DROP TABLE IF EXISTS "+table)
		}
	}()
	if w.preload() > 0 {
		if err := b.exec(ctx, preloadSQL(table, w)); err != nil {
			return nil, fmt.Errorf("preload: %w", err)
		}
	}
	tables := []string{table}
	if o.lookupRows > 0 && w.Kind != "snapshot" {
		lookup := base + "_lookup"
		if err := b.exec(ctx, lookupSQL(lookup, o.lookupRows)); err != nil {
			return nil, fmt.Errorf("lookup table: %w", err)
		}
		defer func() {
			if !o.keep {
				_ = b.exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+lookup)
			}
		}()
		tables = append(tables, lookup)
	}
	if err := b.exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE "+strings.Join(tables, ", ")); err != nil {
		return nil, err
	}
	// One slot per reader and repeat, all made before the workload is
	// written: each reads the same WAL once.
	runs := o.repeats
	if o.profileDir != "" {
		runs++ // the profiling run comes last
	}
	var slots []string
	defer func() {
		for _, s := range slots {
			b.dropSlot(s)
		}
	}()
	slot := func(kind string, r int) string { return fmt.Sprintf("%s_%s%d", base, kind, r) }
	// The snapshot workload's PostgreSQL ceiling reads the table with
	// COPY, not from a slot.
	pgSlots := o.ceilings && w.Kind != "snapshot"
	need := o.repeats
	if pgSlots {
		need += len(ceilingReaders) * o.repeats
	}
	if o.comparing() {
		need += o.repeats
	}
	if o.debezium {
		need += o.repeats
	}
	if o.profileDir != "" {
		need++
	}
	if err := b.freeSlots(ctx, need); err != nil {
		return nil, err
	}
	for r := range runs {
		kinds := []string{"s", "b", "d"}
		if pgSlots && r < o.repeats {
			for _, rd := range ceilingReaders {
				kinds = append(kinds, rd.kind)
			}
		}
		for _, k := range kinds {
			if (k == "b" && !o.comparing() || k == "d" && !o.debezium) && r < o.repeats || k != "s" && r >= o.repeats {
				continue
			}
			if err := b.createSlot(ctx, slot(k, r)); err != nil {
				return nil, fmt.Errorf("create slot: %w", err)
			}
			slots = append(slots, slot(k, r))
		}
	}
	if sql := writeSQL(table, w); sql != "" {
		start := time.Now()
		if err := b.exec(ctx, sql); err != nil {
			return nil, fmt.Errorf("write workload: %w", err)
		}
		cr.WriteS = time.Since(start).Seconds()
		b.logf("   workload written in %.1f s", cr.WriteS)
	}

	for r := range runs {
		profiling := r >= o.repeats
		if o.ceilings && !profiling && w.Kind == "snapshot" {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Minute+time.Duration(ex.records())*time.Millisecond)
			eps, err := copyCeiling(rctx, o.pgDSN, table, ex.events())
			cancel()
			if err != nil {
				return nil, err
			}
			cr.PgEPS = append(cr.PgEPS, eps)
			b.logf("   [%d] pg ceiling   %9.0f rows/s (COPY of the table in key order)", r, eps)
		} else if o.ceilings && !profiling {
			if cr.PgEager == nil {
				cr.PgEager, cr.PgLazy, cr.PgLazyBy = &readerRuns{}, &readerRuns{}, map[string]*readerRuns{}
			}
			var best readerResult // the fastest lazy reader of this repeat
			bestEPS, lazyLog := -1.0, ""
			for _, rd := range ceilingReaders {
				kind, pause := rd.kind, rd.pause
				rctx, cancel := context.WithTimeout(ctx, 2*time.Minute+time.Duration(ex.records())*time.Millisecond)
				rr, err := readPgoutput(rctx, o.pgDSN, slot(kind, r), pub, ex.events(), pause)
				cancel()
				b.dropSlot(slot(kind, r))
				if err != nil {
					return nil, err
				}
				cr.PgBytes = rr.Bytes
				if pause == 0 {
					cr.PgEager.add(rr)
					continue
				}
				runs := cr.PgLazyBy[pause.String()]
				if runs == nil {
					runs = &readerRuns{}
					cr.PgLazyBy[pause.String()] = runs
				}
				runs.add(rr)
				if eps := last(cr.readerEPS(runs)); eps > bestEPS {
					best, bestEPS = rr, eps
				}
				if lazyLog != "" {
					lazyLog += ", "
				}
				lazyLog += fmt.Sprintf("%v %.0f", pause, last(runs.EPS))
			}
			cr.PgLazy.add(best)
			cr.PgEPS = append(cr.PgEPS, max(last(cr.readerEPS(cr.PgEager)), last(cr.readerEPS(cr.PgLazy))))
			b.logf("   [%d] pg ceiling   %9.0f ev/s (eager reader %.0f; lazy, by pause: %s)", r, last(cr.PgEPS), last(cr.PgEager.EPS), lazyLog)
		}

		err := b.measureSluice(ctx, cr, w, r, profiling,
			func(topic string) sluiceRun { return b.pgRun(ctx, w, slot("s", r), pub, tables, topic) },
			func(topic string) sluiceRun { return b.pgRun(ctx, w, slot("b", r), pub, tables, topic) },
			func(kind string) { b.dropSlot(slot(kind, r)) }, cr.PgEPS)
		if err != nil {
			return nil, err
		}
		if o.debezium && !profiling {
			err := b.runDebezium(ctx, cr, w, r, slot("d", r), pub, table)
			b.dropSlot(slot("d", r))
			if err != nil {
				return nil, fmt.Errorf("debezium: %w", err)
			}
		}
	}
	cr.medians(o, cr.PgEPS, "postgres")
	return cr, nil
}

// measureSluice runs sluice for repeat r on a fresh topic and records
// its figures in cr (only the profile for the profiling run); with
// -compare it then runs the second binary the same way, and with the
// ceilings the Kafka ceiling and the ratio to the lower of it and the
// source ceiling (source, per repeat). run and cmp make the two runs for a
// topic; done, when set, is called after each with "s" or "b" (the
// PostgreSQL side drops the slot).
func (b *bench) measureSluice(ctx context.Context, cr *caseResult, w workload, r int, profiling bool,
	run, cmp func(topic string) sluiceRun, done func(kind string), source []float64) error {
	o := b.o
	topic := fmt.Sprintf("bench.%s.%s.%s.r%d", b.id, w.Kind, w.Width, r)
	if err := createTopic(ctx, b.adm, topic, o.partitions); err != nil {
		return err
	}
	bin := b.bin
	if profiling {
		bin = b.profBin
	}
	st, prof, err := b.runSluice(ctx, w, &cr.Sluice, bin, run(topic), topic, profiling)
	b.deleteTopics(topic)
	if done != nil {
		done("s")
	}
	if err != nil {
		return err
	}
	if profiling {
		cr.Profile = prof
		return nil
	}
	cr.KeyBytes, cr.ValueBytes, cr.HeaderBytes = st.KeyBytes, st.ValueBytes, st.HeaderBytes
	if n := st.Records - st.Tombstones; n > 0 {
		cr.AvgValue = float64(st.ValueBytes) / float64(n)
	}
	b.logf("   [%d] sluice       %9.0f ev/s  cpu %.2f s/M  rss %.0f MiB", r, last(cr.Sluice.EPS), last(cr.Sluice.CPU), last(cr.Sluice.RSS))
	if o.comparing() {
		if err := b.measureCompare(ctx, cr, r, w, topic+"b", cmp, done); err != nil {
			return err
		}
	}
	if !o.ceilings {
		return nil
	}
	if err := b.kafkaCeiling(ctx, cr, w, r, st); err != nil {
		return err
	}
	cr.Ratio = append(cr.Ratio, last(cr.ratioEPS(&cr.Sluice))/min(last(source), last(cr.KafkaEPS)))
	return nil
}

// measureCompare runs the -compare binary for repeat r on topic bt.
func (b *bench) measureCompare(ctx context.Context, cr *caseResult, r int, w workload, bt string, cmp func(topic string) sluiceRun, done func(kind string)) error {
	o := b.o
	if cr.Compare == nil {
		cr.Compare = &sluiceRuns{}
	}
	if err := createTopic(ctx, b.adm, bt, o.partitions); err != nil {
		return err
	}
	bin, run := o.compare, cmp(bt)
	if bin == "" {
		bin = b.bin // -compare-transforms alone: the same binary
	}
	if o.compareSink != "" {
		// The kafka sink block ends the YAML. {run} names what belongs to
		// this run only (sink-eos.yaml's transactional id: runs replay the
		// same WAL, and one's committed position must not skip another's).
		run.cfg += indentLines(strings.ReplaceAll(o.compareSink, "{run}", bt), 8)
		run.opaque = o.compareAvro()
	}
	if o.compareTransforms != "" {
		run.cfg += "    transforms:\n" + indentLines(transformsFor(o.compareTransforms, run.tables), 6)
	}
	st, _, err := b.runSluice(ctx, w, cr.Compare, bin, run, bt, false)
	if err == nil && o.compareContains != "" {
		err = allContain(st.Samples, o.compareContains)
	}
	b.deleteTopics(bt)
	if run.opaque {
		b.deleteSubjects(bt+"-key", bt+"-value")
	}
	if done != nil {
		done("b")
	}
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	cr.CompareRatio = append(cr.CompareRatio, last(cr.ratioEPS(cr.Compare))/last(cr.ratioEPS(&cr.Sluice)))
	b.logf("   [%d] compare      %9.0f ev/s  cpu %.2f s/M  rss %.0f MiB", r, last(cr.Compare.EPS), last(cr.Compare.CPU), last(cr.Compare.RSS))
	return nil
}

// kafkaCeiling measures franz-go alone producing the case's records,
// cycled from the samples sluice wrote in repeat r.
func (b *bench) kafkaCeiling(ctx context.Context, cr *caseResult, w workload, r int, st *topicStats) error {
	kt := fmt.Sprintf("bench.%s.%s.%s.kafka%d", b.id, w.Kind, w.Width, r)
	if err := createTopic(ctx, b.adm, kt, b.o.partitions); err != nil {
		return err
	}
	pr, err := produceCeiling(ctx, b.o, kt, st.Samples, cr.Records)
	b.deleteTopics(kt)
	if err != nil {
		return err
	}
	d := pr.End.Sub(pr.Start)
	cr.KafkaEPS = append(cr.KafkaEPS, rate(cr.Events, d))
	cr.KafkaRPS = append(cr.KafkaRPS, rate(cr.Records, d))
	cr.KafkaCPU = append(cr.KafkaCPU, perMillion(pr.CPU, cr.Events))
	b.logf("   [%d] kafka ceiling %8.0f ev/s", r, cr.KafkaEPS[len(cr.KafkaEPS)-1])
	return nil
}

// medians fills cr.Median; source is the source ceiling's per-repeat
// rates and name.
func (cr *caseResult) medians(o *options, source []float64, name string) {
	m := &cr.Median
	m.SluiceEPS, m.SluiceWallEPS, m.SluiceCPU = median(cr.Sluice.EPS), median(cr.Sluice.WallEPS), median(cr.Sluice.CPU)
	m.PeakRSS = maxOf(cr.Sluice.RSS)
	m.BrokerCPU, m.Cores = median(cr.Sluice.BrokerCPU), median(cr.Sluice.Cores)
	m.ServerCPU = median(cr.Sluice.WalsenderCPU)
	if len(cr.Sluice.MySQLCPU) > 0 {
		m.ServerCPU = median(cr.Sluice.MySQLCPU)
	}
	if cr.Compare != nil {
		m.CompareEPS, m.CompareCPU, m.CompareRatio = median(cr.Compare.EPS), median(cr.Compare.CPU), median(cr.CompareRatio)
	}
	if d := cr.Debezium; d != nil {
		m.DebeziumEPS, m.DebeziumCPU, m.DebeziumRSS, m.DebeziumRatio = median(d.EPS), median(d.CPU), maxOf(d.RSS), median(cr.DebeziumRatio)
		m.DebeziumRunCPU = median(cr.DebeziumRunCPU)
	}
	if o.ceilings {
		src := median(source)
		m.KafkaEPS, m.Ratio = median(cr.KafkaEPS), median(cr.Ratio)
		if name == "mysql" {
			m.MySQLEPS = src
		} else {
			m.PgEPS = src
		}
		m.Lower = name
		if m.KafkaEPS < src {
			m.Lower = "kafka"
		}
	}
}
