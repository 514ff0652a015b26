// Command sluice-bench measures sluice end to end on real PostgreSQL and
// Kafka (started by scripts/services.sh), and the ceiling of the machine
// it runs on, in the same run.
//
// For every workload case it creates a table, writes the workload into
// the WAL while replication slots hold it (one slot per reader and
// repeat), then per repeat, back to back:
//
//   - the PostgreSQL ceiling: a minimal pglogrepl reader that receives the
//     same pgoutput stream and only acknowledges it;
//   - sluice: the real binary (built from ./cmd/sluice) streaming the slot
//     to a fresh topic whose timestamps are the broker's append time, until
//     the topic holds every expected record; its CPU (utime+stime) and
//     peak RSS (VmHWM) come from /proc/<pid>; afterwards the topic is read
//     back and every event id, op and tombstone checked;
//   - the Kafka ceiling: franz-go alone, with sluice's producer settings,
//     producing the same number of records cycled from the ones sluice
//     wrote.
//
// Rates are events per second from the first to the last Kafka append
// (sluice), first to last message (pgoutput reader), first produce to last
// acknowledgement (franz-go). With -latency it then runs sluice live while
// a paced writer commits single-row transactions at a fixed rate (by
// default half the single/small peak just measured) and reports commit
// (source.ts_us) → Kafka LogAppendTime latency percentiles.
//
// Usage:
//
//	eval "$(scripts/services.sh env)"
//	go run ./cmd/sluice-bench                # the full benchmark (tens of minutes)
//	go run ./cmd/sluice-bench -smoke         # tiny workload, seconds
//	go run ./cmd/sluice-bench -workloads single -widths small -events 500000 -repeats 5
//	go run ./cmd/sluice-bench -source mysql  # the same workloads from MariaDB's binlog
//
// Figures go to stdout as a table, and as JSON to -json;
// `sluice-bench -report FILE.json` prints the table of a JSON file again.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-report" {
		// Print the table of an earlier -json file.
		b, err := os.ReadFile(os.Args[2])
		var res result
		if err == nil {
			err = json.Unmarshal(b, &res)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench:", err)
			os.Exit(1)
		}
		printTable(os.Stdout, &res)
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "-bulk-loader" {
		// The child process of -kafka-es and -pg-es (bulkloader.go).
		if err := bulkLoaderMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench -bulk-loader:", err)
			os.Exit(1)
		}
		return
	}
	o, jsonPath, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if o.bigTx > 0 {
		runs, err := runBigTx(ctx, o)
		printBigTx(os.Stdout, o.bigTx, runs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench:", err)
			os.Exit(1)
		}
		return
	}
	if o.esDocs > 0 {
		// Kafka topic or PostgreSQL → Elasticsearch against a bulk
		// loader, instead of the workloads (kafkaes.go, pges.go).
		res, err := runKafkaES(ctx, o)
		if res != nil {
			printKafkaES(os.Stdout, res)
			if jsonPath != "" {
				err = errors.Join(err, writeKafkaESJSON(jsonPath, res))
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "sluice-bench:", err)
			os.Exit(1)
		}
		return
	}
	res, err := run(ctx, o)
	if res != nil {
		printTable(os.Stdout, res)
		if jsonPath != "" {
			if werr := writeJSON(jsonPath, res); werr != nil {
				err = errors.Join(err, werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice-bench:", err)
		os.Exit(1)
	}
}

// smokeCases is the -smoke workload: every kind, both widths, tiny.
var smokeCases = []workload{
	{Kind: "single", Width: "small", Events: 200},
	{Kind: "batch", Width: "wide", Events: 300, Batch: 50},
	{Kind: "update", Width: "small", Events: 200, Batch: 20},
	{Kind: "mixed", Width: "wide", Events: 200, Batch: 10},
	{Kind: "huge", Width: "small", Events: 2000},
	{Kind: "snapshot", Width: "small", Events: 3000, ChunkSize: 500},
}

func parseFlags(args []string) (*options, string, error) {
	fs := flag.NewFlagSet("sluice-bench", flag.ContinueOnError)
	o := &options{log: os.Stderr}
	var (
		brokers, kindList, widthList, hugeWidths, snapWidths string
		events, batch, hugeRows, snapRows, chunkSize         int
		smoke                                                bool
		jsonPath                                             string
	)
	fs.StringVar(&o.source, "source", "postgres", "the source database: postgres, or mysql (MariaDB; no snapshot workload, no latency run)")
	fs.StringVar(&o.pgDSN, "pg", os.Getenv("SLUICE_TEST_PG_DSN"), "PostgreSQL DSN (a role with REPLICATION); default $SLUICE_TEST_PG_DSN")
	fs.StringVar(&o.mysqlDSN, "mysql", os.Getenv("SLUICE_TEST_MYSQL_DSN"), "MySQL/MariaDB DSN user:password@tcp(host:port)/db for -source mysql; default $SLUICE_TEST_MYSQL_DSN")
	fs.StringVar(&brokers, "brokers", os.Getenv("SLUICE_TEST_KAFKA_BROKERS"), "Kafka brokers, comma-separated; default $SLUICE_TEST_KAFKA_BROKERS")
	fs.StringVar(&o.bin, "sluice", "", "prebuilt sluice binary (default: build ./cmd/sluice of -root)")
	fs.StringVar(&o.compare, "compare", "", "a second sluice binary to measure in the same repeats (A/B of a change); its rows are marked B")
	var compareTransforms string
	fs.StringVar(&compareTransforms, "compare-transforms", "", "a YAML file with a pipeline transforms list (e.g. cmd/sluice-bench/transforms-chain.yaml) the compare runs use, with the same binary unless -compare names another: the A/B of what the transforms cost (postgres only)")
	fs.IntVar(&o.lookupRows, "lookup-rows", 0, "also create, per workload, a lookup table of this many rows (id, name, city, tier; ids 0…n-1), captured by every run; -compare-transforms names it {lookup} and the workload's table {table} (e.g. cmd/sluice-bench/transforms-join.yaml; not for the snapshot workload)")
	var compareSink string
	fs.StringVar(&compareSink, "compare-sink", "", "a YAML file of kafka sink settings the compare runs add (e.g. cmd/sluice-bench/sink-avro.yaml: Avro with the registry at $SLUICE_TEST_REGISTRY_URL), with the same binary unless -compare names another")
	fs.StringVar(&o.compareContains, "compare-contains", "", "a string every sampled record of a compare run must contain (e.g. the joined field), checked after each compare run")
	fs.StringVar(&o.root, "root", "", "sluice module root (default: found from the working directory)")
	fs.StringVar(&kindList, "workloads", "", "workloads, default all (none: only the latency runs): single (single-row insert transactions), batch (-batch rows per transaction), update, mixed (50% insert, 30% update, 20% delete), huge (one transaction of -huge-rows rows), snapshot (initial snapshot of a -snapshot-rows table; postgres only)")
	fs.StringVar(&widthList, "widths", "small,wide", "row widths: small (~100 B), wide (~2 KB: text, jsonb, numeric, uuid, array, times)")
	fs.StringVar(&hugeWidths, "huge-widths", "small", "row widths of the huge transaction")
	fs.IntVar(&events, "events", 200_000, "row changes per workload (not huge)")
	fs.IntVar(&batch, "batch", 100, "rows per transaction for batch, update and mixed")
	fs.IntVar(&hugeRows, "huge-rows", 1_000_000, "rows of the huge transaction")
	fs.StringVar(&snapWidths, "snapshot-widths", "small", "row widths of the snapshot workload")
	fs.IntVar(&snapRows, "snapshot-rows", 1_000_000, "rows of the table the snapshot workload reads")
	fs.IntVar(&chunkSize, "chunk-size", 0, "source.snapshot.chunk_size of the snapshot workload (0: sluice's default)")
	fs.IntVar(&o.repeats, "repeats", 3, "measured runs per workload (medians are reported)")
	fs.IntVar(&o.partitions, "partitions", 1, "partitions of the output topics")
	fs.StringVar(&o.compression, "compression", "lz4", "Kafka compression for sluice and the Kafka ceiling")
	fs.DurationVar(&o.linger, "linger", 5*time.Millisecond, "producer linger for sluice and the Kafka ceiling")
	fs.BoolVar(&o.ceilings, "ceilings", true, "measure the PostgreSQL and Kafka ceilings")
	fs.BoolVar(&o.latency, "latency", true, "measure commit→Kafka latency at a fixed offered rate")
	var latencyRates string
	fs.StringVar(&latencyRates, "latency-rate", "0", "offered rates for the latency runs, events/s, comma-separated (0: half the single/small median of this run)")
	fs.DurationVar(&o.latencyDuration, "latency-duration", 20*time.Second, "length of the paced write for the latency run")
	fs.IntVar(&o.latencyWriters, "latency-writers", 1, "paced writer sessions that share the latency run's offered rate, for rates one session cannot offer (each costs the machine CPU beside what is measured)")
	fs.StringVar(&o.profileDir, "profile", "", "directory for pprof profiles of one extra sluice run per workload and per latency rate (profiling build of cmd/sluice)")
	fs.BoolVar(&o.keep, "keep", false, "keep tables, slots and topics")
	fs.BoolVar(&smoke, "smoke", false, "tiny workload of every kind, one repeat, 3 s latency run (a few seconds overall)")
	fs.StringVar(&jsonPath, "json", "", "also write the figures as JSON to this file")
	var kesPartitions, kafkaES, pgES int
	fs.IntVar(&kafkaES, "kafka-es", 0, "instead of the workloads: Kafka topic → Elasticsearch (kafka source, elasticsearch sink) with this many Debezium change events, against a bulk loader indexing the same documents (needs -es)")
	fs.IntVar(&pgES, "pg-es", 0, "instead of the workloads: PostgreSQL → Elasticsearch (postgres source, elasticsearch sink) with this many inserted rows, against a bulk loader indexing the same documents (needs -es)")
	fs.IntVar(&kesPartitions, "kafka-es-partitions", 3, "partitions of the -kafka-es topic")
	fs.StringVar(&o.esURL, "es", os.Getenv("SLUICE_TEST_ES_URL"), "Elasticsearch URL for -kafka-es and -pg-es; default $SLUICE_TEST_ES_URL")
	fs.BoolVar(&o.debezium, "debezium", false, "also run Debezium Server 3.6.1 (scripts/debezium.sh fetches it once; Java >= 21) on a slot of its own over the same WAL in every repeat, right after sluice, with the same Kafka, converter (JSON, no schemas) and producer settings (postgres only)")
	fs.IntVar(&o.bigTx, "bigtx", 0, "instead of the workloads: one live PostgreSQL transaction of this many rows, with the source's streaming of in-progress transactions on and off (alternating, -repeats each): commit → last event in Kafka, sluice's peak RSS, the server's spill")
	fs.SetOutput(os.Stderr)
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if o.bigTx > 0 {
		if o.pgDSN == "" || brokers == "" {
			return nil, "", errors.New(`-bigtx needs -pg and -brokers (or SLUICE_TEST_PG_DSN, SLUICE_TEST_KAFKA_BROKERS); run eval "$(scripts/services.sh env)"`)
		}
		o.brokers = strings.Split(brokers, ",")
		if err := o.findRoot(); err != nil {
			return nil, "", err
		}
		return o, jsonPath, nil
	}
	if kafkaES > 0 && pgES > 0 {
		return nil, "", errors.New("-kafka-es and -pg-es exclude each other")
	}
	o.esDocs, o.esFrom = kafkaES, "kafka"
	if pgES > 0 {
		o.esDocs, o.esFrom = pgES, "postgres"
	}
	if o.esDocs > 0 {
		if o.pgDSN == "" || brokers == "" || o.esURL == "" {
			return nil, "", errors.New(`-kafka-es and -pg-es need -pg, -brokers and -es (or SLUICE_TEST_PG_DSN, SLUICE_TEST_KAFKA_BROKERS, SLUICE_TEST_ES_URL); run eval "$(scripts/services.sh env)"`)
		}
		if o.repeats < 1 || kesPartitions < 1 {
			return nil, "", errors.New("-repeats and -kafka-es-partitions must be at least 1")
		}
		o.partitions = kesPartitions
		o.brokers = strings.Split(brokers, ",")
		if err := o.findRoot(); err != nil {
			return nil, "", err
		}
		return o, jsonPath, nil
	}
	if fs.NArg() > 0 {
		return nil, "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if compareSink != "" {
		b, err := os.ReadFile(compareSink)
		if err != nil {
			return nil, "", fmt.Errorf("-compare-sink: %w", err)
		}
		o.compareSink = string(b)
	}
	if compareTransforms != "" {
		if o.source != "postgres" {
			return nil, "", errors.New("-compare-transforms: postgres only")
		}
		b, err := os.ReadFile(compareTransforms)
		if err != nil {
			return nil, "", fmt.Errorf("-compare-transforms: %w", err)
		}
		o.compareTransforms = string(b)
	}
	switch o.source {
	case "postgres":
		if o.pgDSN == "" || brokers == "" {
			return nil, "", errors.New(`-pg and -brokers (or SLUICE_TEST_PG_DSN and SLUICE_TEST_KAFKA_BROKERS) are required; run eval "$(scripts/services.sh env)"`)
		}
	case "mysql":
		if o.mysqlDSN == "" || brokers == "" {
			return nil, "", errors.New(`-mysql and -brokers (or SLUICE_TEST_MYSQL_DSN and SLUICE_TEST_KAFKA_BROKERS) are required; run eval "$(scripts/services.sh env)"`)
		}
		var err error
		if o.my, err = parseMyDSN(o.mysqlDSN); err != nil {
			return nil, "", err
		}
	default:
		return nil, "", fmt.Errorf("-source: %q is not postgres or mysql", o.source)
	}
	known := kinds
	if o.source == "mysql" {
		known = kinds[:len(kinds)-1] // no snapshot workload
	}
	if kindList == "" {
		kindList = strings.Join(known, ",")
	}
	o.brokers = strings.Split(brokers, ",")
	if err := o.findRoot(); err != nil {
		return nil, "", err
	}
	for _, r := range strings.Split(latencyRates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v < 0 {
			return nil, "", fmt.Errorf("-latency-rate: %q is not a rate", r)
		}
		o.latencyRates = append(o.latencyRates, v)
	}
	if o.debezium {
		if o.source != "postgres" {
			return nil, "", errors.New("-debezium: postgres only")
		}
		root := o.root
		if root == "" {
			var err error
			if root, err = moduleRoot(); err != nil {
				return nil, "", fmt.Errorf("-debezium needs scripts/debezium.sh: %w", err)
			}
		}
		o.scriptsRoot = root
	}
	if smoke {
		o.cases = smokeCases
		if o.source == "mysql" {
			o.cases = smokeCases[:len(smokeCases)-1]
		}
		o.repeats = 1
		if latencyRates == "0" {
			o.latencyRates = []float64{300}
		}
		o.latencyDuration = 3 * time.Second
		o.latencyWriters = max(o.latencyWriters, 2) // the smoke run covers several writers
		return o, jsonPath, nil
	}
	if o.repeats < 1 {
		return nil, "", errors.New("-repeats must be at least 1")
	}
	if o.latencyWriters < 1 {
		return nil, "", errors.New("-latency-writers must be at least 1")
	}
	for _, k := range strings.Split(kindList, ",") {
		if k == "none" {
			continue // only the latency runs
		}
		if !contains(known, k) {
			return nil, "", fmt.Errorf("-workloads: unknown workload %q (with -source %s one of %s)", k, o.source, strings.Join(known, ", "))
		}
		ws := widthList
		switch k {
		case "huge":
			ws = hugeWidths
		case "snapshot":
			ws = snapWidths
		}
		for _, w := range strings.Split(ws, ",") {
			if !contains(widths, w) {
				return nil, "", fmt.Errorf("unknown width %q (small or wide)", w)
			}
			n := events
			switch k {
			case "huge":
				n = hugeRows
			case "snapshot":
				n = snapRows
			}
			o.cases = append(o.cases, workload{Kind: k, Width: w, Events: n, Batch: batch, ChunkSize: chunkSize})
		}
	}
	if o.lookupRows > 0 {
		if o.source != "postgres" {
			return nil, "", errors.New("-lookup-rows: postgres only")
		}
		for _, c := range o.cases {
			if c.Kind == "snapshot" {
				return nil, "", errors.New("-lookup-rows: not with the snapshot workload (its table's snapshot would also snapshot the lookup table); pick -workloads")
			}
		}
	}
	return o, jsonPath, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// findRoot sets the module root, where sluice is built from, unless a
// root or a prebuilt binary was given.
func (o *options) findRoot() error {
	if o.root != "" || o.bin != "" {
		return nil
	}
	root, err := moduleRoot()
	o.root = root
	return err
}

// moduleRoot finds the sluice module from the working directory upwards.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/sluice-cdc/sluice\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the sluice module (go.mod) above the working directory; use -root or -sluice")
		}
		dir = parent
	}
}

// redact drops the password from a URL DSN.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return "(dsn)"
}
