package main

// -kafka-es N: Kafka topic → Elasticsearch with the kafka source, against
// a bulk loader indexing the same documents.
//
// The topic is prepared once, by the daemon itself (PostgreSQL → Kafka
// over N inserted small rows, the batch/small workload): the records are
// then exactly what sluice's kafka sink writes for those changes (the
// envelope, the Connect schemas, the key, the headers), with real
// positions, and the path is the one the rest of the benchmark already
// measures. Encoding events with the codec package directly would be
// faster, but would need a second description of the row and its types
// that could drift from what the database source makes; the preparation
// takes a few seconds for 200,000 rows, outside every clock.
//
// Then per repeat, alternating which runs first (the first repeat must
// start with sluice, whose index gives the loader its documents):
//
//   - sluice: the daemon with a kafka source on the topic (a fresh group,
//     start_from earliest) and an elasticsearch sink with its defaults
//     into a fresh index; done when the group's committed offsets reach
//     the topic's end (the source commits an offset only once the sink
//     has acknowledged every document before it), then the index is
//     refreshed and must count N documents;
//   - loader: bulkloader.go, a child process sending the same documents,
//     ids and external versions, pre-built, with the sink's default bulk
//     sizes and concurrency, into a fresh index with the sink's mapping.
//
// CPU and peak RSS of both come from /proc; Elasticsearch's and the
// broker's CPU over each run too, when their pid files are found, since
// on this machine they share the cores with what is measured.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	es "github.com/sluice-cdc/sluice/sink/elasticsearch"
)

// kesCommitInterval is the kafka source's commit_interval in the sluice
// runs. The driver sees the end of a run through the committed offsets,
// so the default 1s would add up to a second to runs of a few seconds;
// a commit every 100 ms costs the daemon one small request.
const kesCommitInterval = 100 * time.Millisecond

// kesRun is one run of sluice or of the loader.
type kesRun struct {
	Seconds   float64 `json:"seconds"`           // sluice: process start → all committed; loader: go → last response
	DocsPerS  float64 `json:"docs_per_s"`        // N / Seconds
	SteadyDPS float64 `json:"steady_docs_per_s"` // sluice: from the first commit seen (start-up excluded)
	CPU       float64 `json:"cpu_s_per_m_docs"`  // whole process (sluice: start-up included; loader: sending only)
	RSS       float64 `json:"peak_rss_mib"`      // VmHWM
	ESCPU     float64 `json:"es_cpu_s_per_m_docs,omitempty"`
	KafkaCPU  float64 `json:"broker_cpu_s_per_m_docs,omitempty"`
	Busy      float64 `json:"cores_busy"` // whole machine, average over the run
}

// kesResult is the -kafka-es output, table and JSON.
type kesResult struct {
	Machine     machine   `json:"machine"`
	Source      string    `json:"source"` // kafka (-kafka-es) or postgres (-pg-es)
	Docs        int       `json:"docs"`
	Partitions  int       `json:"partitions"`
	Repeats     int       `json:"repeats"`
	RecordBytes float64   `json:"avg_record_value_bytes"`
	DocBytes    float64   `json:"avg_document_bytes"`
	MaxActions  int       `json:"bulk_max_actions"`
	MaxBytes    int       `json:"bulk_max_bytes"`
	InFlight    int       `json:"bulk_max_in_flight"`
	Sluice      []kesRun  `json:"sluice"`
	Loader      []kesRun  `json:"loader"`
	Ratio       []float64 `json:"ratio_docs_per_s"` // sluice/loader per repeat
	Profile     string    `json:"profile,omitempty"`
}

// kesBench is the state of one -kafka-es invocation.
type kesBench struct {
	*bench
	es         *esClient
	esURL      string
	topic      string
	end        int64 // the topic's records
	prefix     string
	stateIndex string
	dumpFile   string
	groups     []string
	indices    []string  // every data index made, for the cleanup
	cfg        es.Config // the sink's defaults: bulk sizes, concurrency
	// -pg-es (pges.go): the table (also the publication's name) and one
	// slot per sluice run.
	pgTable string
	slots   []string
}

// runKafkaES runs the whole comparison.
func runKafkaES(ctx context.Context, o *options) (*kesResult, error) {
	b, done, err := openPGKafka(ctx, o)
	defer done()
	if err != nil {
		return nil, err
	}

	k := &kesBench{bench: b, esURL: o.esURL, es: newESClient(o.esURL, 2), cfg: es.Config{}.Defaults(),
		prefix: "sluice-bench-kes-" + b.id, dumpFile: filepath.Join(b.dir, "docs.ndjson")}
	k.stateIndex = k.prefix + "-state"
	defer k.es.hc.CloseIdleConnections() // after the cleanup's requests
	if _, _, err := k.es.do(ctx, "GET", "/_cluster/health", nil); err != nil {
		return nil, fmt.Errorf("elasticsearch at %s: %w", o.esURL, err)
	}
	res := &kesResult{Machine: describeMachine(ctx, b.db, nil), Source: o.esFrom, Docs: o.esDocs, Partitions: o.partitions, Repeats: o.repeats,
		MaxActions: k.cfg.Bulk.MaxActions, MaxBytes: k.cfg.Bulk.MaxBytes, InFlight: k.cfg.Bulk.MaxInFlight}
	defer k.cleanup()
	if o.esFrom == "postgres" {
		res.Partitions = 0
		if err := k.preparePG(ctx); err != nil {
			return res, fmt.Errorf("prepare the rows: %w", err)
		}
	} else if res.RecordBytes, err = k.prepareTopic(ctx); err != nil {
		return res, fmt.Errorf("prepare the topic: %w", err)
	}
	for r := range o.repeats {
		order := []string{"sluice", "loader"}
		if r%2 == 1 {
			order = []string{"loader", "sluice"}
		}
		for _, which := range order {
			var run kesRun
			if which == "sluice" {
				run, err = k.sluiceRun(ctx, r, res)
				res.Sluice = append(res.Sluice, run)
			} else {
				run, err = k.loaderRun(ctx, r)
				res.Loader = append(res.Loader, run)
			}
			if err != nil {
				return res, fmt.Errorf("repeat %d, %s: %w", r, which, err)
			}
			b.logf("   [%d] %-6s %8.0f docs/s (steady %8.0f)  %5.2f s  cpu %.2f s/M  rss %.0f MiB  es cpu %.2f s/M  cores busy %.2f",
				r, which, run.DocsPerS, run.SteadyDPS, run.Seconds, run.CPU, run.RSS, run.ESCPU, run.Busy)
		}
		res.Ratio = append(res.Ratio, last2(res.Sluice).DocsPerS/last2(res.Loader).DocsPerS)
	}
	if o.profileDir != "" {
		b.logf("== profiling run of sluice")
		if res.Profile, err = k.profileRun(ctx); err != nil {
			return res, fmt.Errorf("profiling run: %w", err)
		}
	}
	return res, nil
}

func last2(rs []kesRun) kesRun { return rs[len(rs)-1] }

// prepareTopic fills the topic through the daemon (PostgreSQL → Kafka,
// batch/small) and returns the records' average value size.
func (k *kesBench) prepareTopic(ctx context.Context) (float64, error) {
	o, b := k.o, k.bench
	w := workload{Kind: "batch", Width: "small", Events: o.esDocs, Batch: 100}
	base := "bench_" + b.id + "_kes"
	table, pub, slot := base, base, base+"_s"
	k.topic = "bench." + b.id + ".kafka-es"
	if err := b.exec(ctx, createSQL(table, w.Width)); err != nil {
		return 0, fmt.Errorf("create table: %w", err)
	}
	defer func() {
		if !o.keep {
			b.dropSlot(slot)
			_ = b.exec(context.WithoutCancel(ctx), "DROP PUBLICATION IF EXISTS "+pub+"; DROP TABLE IF EXISTS "+table)
		}
	}()
	if err := b.exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE "+table); err != nil {
		return 0, err
	}
	if err := b.createSlot(ctx, slot); err != nil {
		return 0, fmt.Errorf("create slot: %w", err)
	}
	b.logf("== kafka-es: writing %d small rows, then PostgreSQL → Kafka into %s (%d partitions)", w.Events, k.topic, o.partitions)
	if err := b.exec(ctx, writeSQL(table, w)); err != nil {
		return 0, fmt.Errorf("write rows: %w", err)
	}
	if err := createTopic(ctx, b.adm, k.topic, o.partitions); err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp(b.dir, "prepare-")
	if err != nil {
		return 0, err
	}
	d, err := startDaemon(b.bin, dir, daemonConfig(o, w, "benchkesprep", slot, pub, []string{table}, k.topic), "")
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute+time.Duration(w.Events)*time.Millisecond)
	at, err := waitRecords(wctx, b.adm, k.topic, int64(w.Events), d.alive)
	cancel()
	if serr := d.stop(60 * time.Second); err == nil {
		err = serr
	}
	if err != nil {
		return 0, err
	}
	if k.end, err = endOffsets(ctx, b.adm, k.topic); err != nil {
		return 0, err
	}
	if k.end != int64(w.Events) {
		return 0, fmt.Errorf("topic holds %d records, want %d", k.end, w.Events)
	}
	b.logf("   topic filled in %.1f s (incl. start)", at.Sub(d.started).Seconds())
	st, err := consumeAll(ctx, o.brokers, k.topic, k.end, consumeOpts{})
	if err != nil {
		return 0, err
	}
	if err := verify(st, w.expected(), false); err != nil {
		return 0, fmt.Errorf("topic %s: %w", k.topic, err)
	}
	return float64(st.ValueBytes) / float64(st.Records), nil
}

// sluiceConfig is the daemon's YAML of a kafka → elasticsearch run: the
// source and sink with their defaults except the names, the fresh group
// and commit_interval (see kesCommitInterval).
func (k *kesBench) sluiceConfig(group, index string) string {
	return k.esConfig("off", "benchkes", fmt.Sprintf(`type: kafka
      brokers: [%s]
      topics: [%q]
      group: %q
      start_from: earliest
      commit_interval: %s`, strings.Join(k.o.brokers, ", "), k.topic, group, kesCommitInterval), index)
}

// esConfig is the YAML of a run into Elasticsearch: the pipeline with the
// source block (its lines after "source:", indented by six) and the
// elasticsearch sink with its defaults except the index names; the admin
// endpoint listens on listen ("off": none).
func (k *kesBench) esConfig(listen, pipeline, source, index string) string {
	return fmt.Sprintf(`log: {level: warn, format: json}
http: {listen: %q}
pipelines:
  %s:
    source:
      %s
    sinks:
      elasticsearch:
        urls: [%q]
        index: %q
        state_index: %q
`, listen, pipeline, source, k.esURL, index, k.stateIndex)
}

// committed sums the group's committed offsets on the topic.
func (k *kesBench) committed(ctx context.Context, group string) int64 {
	offs, err := k.adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0
	}
	var n int64
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.Topic == k.topic && o.At > 0 {
			n += o.At
		}
	})
	return n
}

// others samples the CPU of the services sharing the machine.
type others struct {
	es, kafka, mysql procSample
	busy             int64
	total            int64
}

func sampleOthers() others {
	var s others
	scratch := os.Getenv("SLUICE_SCRATCH")
	if scratch == "" {
		scratch = "/tmp/sluice-services"
	}
	s.es = samplePIDFile(filepath.Join(scratch, "es", "run", "es.pid"))
	s.kafka = samplePIDFile(filepath.Join(scratch, "kafka", "kafka.pid"))
	s.mysql = samplePIDFile(filepath.Join(scratch, "mariadb", "mariadbd.pid"))
	s.busy, s.total = machineCPU()
	return s
}

func samplePIDFile(path string) procSample {
	b, err := os.ReadFile(path)
	if err != nil {
		return procSample{}
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return procSample{}
	}
	return sampleProc(pid)
}

// fill sets the services' CPU and the machine's busy cores of run from
// samples before and after it.
func (run *kesRun) fill(before, after others, docs int) {
	if before.es.OK && after.es.OK {
		run.ESCPU = perMillion(after.es.CPU-before.es.CPU, docs)
	}
	if before.kafka.OK && after.kafka.OK {
		run.KafkaCPU = perMillion(after.kafka.CPU-before.kafka.CPU, docs)
	}
	run.Busy = coresBusy(before, after)
}

// coresBusy is the machine's busy cores on average between two samples.
func coresBusy(before, after others) float64 {
	dt := after.total - before.total
	if dt <= 0 {
		return 0
	}
	return float64(after.busy-before.busy) / float64(dt) * float64(runtime.NumCPU())
}

// sluiceRun runs the daemon on the topic into a fresh index until every
// document is acknowledged, and checks the index. The first repeat also
// dumps the index for the loader, and the loader's index mapping comes
// from it.
func (k *kesBench) sluiceRun(ctx context.Context, r int, res *kesResult) (kesRun, error) {
	return k.runDaemon(ctx, r, k.bin, "", res)
}

// profileRun is one extra sluice run with the profiling build; it
// returns the CPU profile's path.
func (k *kesBench) profileRun(ctx context.Context) (string, error) {
	path := filepath.Join(k.o.profileDir, k.o.esFrom+"_es")
	for _, ext := range []string{".cpu", ".allocs", ".mem.json", ".done"} {
		os.Remove(path + ext)
	}
	_, err := k.runDaemon(ctx, k.o.repeats, k.profBin, path, nil)
	return path + ".cpu", err
}

func (k *kesBench) runDaemon(ctx context.Context, r int, bin, pprof string, res *kesResult) (kesRun, error) {
	var run kesRun
	n := k.o.esDocs
	group := fmt.Sprintf("%s-s%d", k.prefix, r)
	index := group
	k.indices = append(k.indices, index)
	dir, err := os.MkdirTemp(k.dir, "kes-")
	if err != nil {
		return run, err
	}
	// progress is how far the run got: the group's committed offsets, or
	// the events the postgres run's sink acknowledged.
	var cfg, what string
	var progress func(context.Context) int64
	poll := 20 * time.Millisecond
	if k.o.esFrom == "postgres" {
		addr, err := freeLoopback()
		if err != nil {
			return run, err
		}
		// Uncompressed: gzip would cost the daemon more than the scrape.
		cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}
		defer cl.CloseIdleConnections()
		cfg, what, poll = k.pgConfig(k.slots[r], index, addr), "the sink acknowledged", pgProgressPoll
		progress = func(ctx context.Context) int64 { return ackedEvents(ctx, cl, addr) }
	} else {
		k.groups = append(k.groups, group)
		cfg, what = k.sluiceConfig(group, index), "group "+group+" committed"
		progress = func(ctx context.Context) int64 { return k.committed(ctx, group) }
	}
	before := sampleOthers()
	d, err := startDaemon(bin, dir, cfg, pprof)
	if err != nil {
		return run, err
	}
	defer d.stop(10 * time.Second)
	deadline := time.Now().Add(2*time.Minute + time.Duration(n)*time.Millisecond)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var firstAt time.Time
	var firstN, have int64
	for have < k.end {
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-tick.C:
		}
		if err := d.alive(); err != nil {
			return run, err
		}
		if time.Now().After(deadline) {
			return run, fmt.Errorf("%s %d of %d; log:\n%s", what, have, k.end, d.logTail())
		}
		have = progress(ctx)
		if have > 0 && firstAt.IsZero() {
			firstAt, firstN = time.Now(), have
		}
	}
	doneAt := time.Now()
	ps := sampleProc(d.pid())
	after := sampleOthers()
	if err := d.stopProfile(30 * time.Second); err != nil {
		return run, err
	}
	if err := d.stop(60 * time.Second); err != nil {
		return run, err
	}
	if !ps.OK {
		return run, errors.New("cannot read /proc of the sluice process")
	}
	if got, err := k.es.count(ctx, index); err != nil || got != n {
		return run, fmt.Errorf("index %s holds %d documents, want %d (%v)", index, got, n, err)
	}
	run.Seconds = doneAt.Sub(d.started).Seconds()
	run.DocsPerS = rate(n, doneAt.Sub(d.started))
	if doneAt.After(firstAt) && int64(n) > firstN {
		run.SteadyDPS = rate(n-int(firstN), doneAt.Sub(firstAt))
	}
	run.CPU = perMillion(ps.CPU, n)
	run.RSS = float64(ps.HWM) / (1 << 20)
	run.fill(before, after, n)
	if r == 0 && res != nil {
		f, err := os.Create(k.dumpFile)
		if err != nil {
			return run, err
		}
		docs, bytes, err := k.es.dump(ctx, index, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil || docs != n {
			return run, fmt.Errorf("dump %s: %d of %d documents (%v)", index, docs, n, err)
		}
		res.DocBytes = float64(bytes) / float64(docs)
		// The loader's indices take this one's mapping: keep it until
		// the first loader index exists.
		if err := k.es.createLike(ctx, k.prefix+"-template", index); err != nil {
			return run, err
		}
	}
	if !k.o.keep {
		_ = k.es.deleteIndex(ctx, index)
	}
	return run, nil
}

// loaderRun indexes the dumped documents with the bulk loader child into
// a fresh index with the sink's mapping.
func (k *kesBench) loaderRun(ctx context.Context, r int) (kesRun, error) {
	var run kesRun
	n := k.o.esDocs
	index := fmt.Sprintf("%s-l%d", k.prefix, r)
	k.indices = append(k.indices, index)
	if err := k.es.createLike(ctx, index, k.prefix+"-template"); err != nil {
		return run, err
	}
	self, err := os.Executable()
	if err != nil {
		return run, err
	}
	bl := k.cfg.Bulk
	cmd := exec.CommandContext(ctx, self, "-bulk-loader", "-url", k.esURL, "-index", index, "-file", k.dumpFile,
		"-max-actions", strconv.Itoa(bl.MaxActions), "-max-bytes", strconv.Itoa(bl.MaxBytes), "-in-flight", strconv.Itoa(bl.MaxInFlight))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return run, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return run, err
	}
	if err := cmd.Start(); err != nil {
		return run, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	out := bufio.NewReader(stdout)
	line := func(want string) (string, error) {
		l, err := out.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, want+" ") {
			return "", fmt.Errorf("bulk loader: expected %q, got %q (%v); stderr:\n%s", want, l, err, tail(stderr.String(), 2000))
		}
		return strings.TrimSpace(strings.TrimPrefix(l, want+" ")), nil
	}
	if _, err := line("ready"); err != nil {
		return run, err
	}
	p0 := sampleProc(cmd.Process.Pid)
	before := sampleOthers()
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		return run, err
	}
	done, err := line("done")
	if err != nil {
		return run, err
	}
	p1 := sampleProc(cmd.Process.Pid)
	after := sampleOthers()
	_, _ = io.WriteString(stdin, "exit\n")
	if err := cmd.Wait(); err != nil {
		return run, fmt.Errorf("bulk loader: %v; stderr:\n%s", err, tail(stderr.String(), 2000))
	}
	ns, err := strconv.ParseInt(done, 10, 64)
	if err != nil || !p0.OK || !p1.OK {
		return run, fmt.Errorf("bulk loader: bad figures (%q, /proc %v %v)", done, p0.OK, p1.OK)
	}
	if got, err := k.es.count(ctx, index); err != nil || got != n {
		return run, fmt.Errorf("index %s holds %d documents, want %d (%v)", index, got, n, err)
	}
	run.Seconds = time.Duration(ns).Seconds()
	run.DocsPerS = rate(n, time.Duration(ns))
	run.SteadyDPS = run.DocsPerS
	run.CPU = perMillion(p1.CPU-p0.CPU, n)
	run.RSS = float64(p1.HWM) / (1 << 20)
	run.fill(before, after, n)
	if !k.o.keep {
		_ = k.es.deleteIndex(ctx, index)
	}
	return run, nil
}

// cleanup deletes the indices, groups and topics of the invocation.
func (k *kesBench) cleanup() {
	if k.o.keep {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// One by one: Elasticsearch 8 refuses wildcard deletes by default
	// (action.destructive_requires_name).
	for _, ix := range append(k.indices, k.prefix+"-template", k.stateIndex) {
		_ = k.es.deleteIndex(ctx, ix)
	}
	if k.o.esFrom == "postgres" {
		k.cleanupPG(ctx)
		return
	}
	if len(k.groups) > 0 {
		_, _ = k.adm.DeleteGroups(ctx, k.groups...)
	}
	topics := []string{k.topic}
	for _, g := range k.groups {
		topics = append(topics, g+".dead-letter") // created only on first use
	}
	k.deleteTopics(topics...)
}
