package main

// The figures one invocation produces, as written to -json.

// result is everything one invocation measured; it is printed as a table
// and written as JSON.
type result struct {
	Machine machine       `json:"machine"`
	Config  resultConfig  `json:"config"`
	Cases   []*caseResult `json:"cases"`
	Latency []*latencyRes `json:"latency,omitempty"`
}

type resultConfig struct {
	Source      string `json:"source,omitempty"` // postgres (also when empty) or mysql
	Repeats     int    `json:"repeats"`
	Partitions  int    `json:"partitions"`
	Compression string `json:"compression"`
	Linger      string `json:"linger"`
	RateBasis   string `json:"rate_basis"`
}

// caseResult holds one workload's figures; per-repeat slices are in run
// order, and each repeat measures sluice and both ceilings back to back.
type caseResult struct {
	Workload string  `json:"workload"`
	Width    string  `json:"width"`
	Events   int     `json:"events"`
	Records  int     `json:"records"` // changes + tombstones
	Batch    int     `json:"batch,omitempty"`
	WriteS   float64 `json:"workload_write_s"`
	// WholeRun: the ratios compare start-to-end rates (workload.wholeRun).
	WholeRun bool `json:"ratios_from_start,omitempty"`

	Sluice sluiceRuns `json:"sluice"`
	// Compare is a second sluice binary (-compare) measured in the same
	// repeats, right after the first; CompareRatio is its events/s over
	// the first's, per repeat.
	Compare      *sluiceRuns `json:"compare,omitempty"`
	CompareRatio []float64   `json:"compare_ratio,omitempty"`
	// Debezium is Debezium Server (-debezium) on the same WAL, run right
	// after sluice in each repeat; DebeziumRatio is sluice's events/s
	// over Debezium's, per repeat.
	Debezium         *sluiceRuns `json:"debezium,omitempty"`
	DebeziumRatio    []float64   `json:"sluice_over_debezium,omitempty"`
	DebeziumAvgValue float64     `json:"debezium_avg_value_bytes,omitempty"`
	// DebeziumRunCPU is Debezium Server's CPU from its first record on
	// (the JVM's start-up excluded), per million events, per repeat.
	DebeziumRunCPU []float64 `json:"debezium_cpu_s_per_m_events_from_first_record,omitempty"`

	// The PostgreSQL ceiling is the best reader of each repeat (see
	// pgreader.go): eager (blocks on the socket for every message) or
	// lazy (pauses after a short read). PgLazy holds the fastest lazy
	// reader of each repeat, PgLazyBy each pause's (ceilingReaders).
	PgEPS    []float64              `json:"pg_ceiling_events_per_s,omitempty"`
	PgEager  *readerRuns            `json:"pg_reader_eager,omitempty"`
	PgLazy   *readerRuns            `json:"pg_reader_lazy,omitempty"`
	PgLazyBy map[string]*readerRuns `json:"pg_reader_lazy_by_pause,omitempty"`
	PgBytes  int64                  `json:"pgoutput_bytes,omitempty"`

	// The MySQL ceiling (-source mysql): a binlog client that receives the
	// events without parsing them.
	MySQLEPS []float64 `json:"mysql_ceiling_events_per_s,omitempty"`

	KafkaEPS []float64 `json:"kafka_ceiling_events_per_s,omitempty"`
	KafkaRPS []float64 `json:"kafka_ceiling_records_per_s,omitempty"`
	KafkaCPU []float64 `json:"kafka_ceiling_producer_cpu_s_per_m_events,omitempty"`

	Ratio []float64 `json:"ratio_to_lower_ceiling,omitempty"` // per repeat, same-run

	KeyBytes    int64   `json:"key_bytes"`
	ValueBytes  int64   `json:"value_bytes"`
	HeaderBytes int64   `json:"header_bytes"`
	AvgValue    float64 `json:"avg_value_bytes"`

	Profile *profileRes `json:"profile,omitempty"`

	Median struct {
		SluiceEPS      float64 `json:"sluice_events_per_s"`
		SluiceWallEPS  float64 `json:"sluice_wall_events_per_s"`
		SluiceCPU      float64 `json:"sluice_cpu_s_per_m_events"`
		PeakRSS        float64 `json:"sluice_peak_rss_mib"`                 // the maximum, not the median
		ServerCPU      float64 `json:"server_cpu_s_per_m_events,omitempty"` // the walsender's or MariaDB's
		BrokerCPU      float64 `json:"broker_cpu_s_per_m_events,omitempty"`
		Cores          float64 `json:"machine_cores_busy,omitempty"`
		PgEPS          float64 `json:"pg_ceiling_events_per_s,omitempty"`
		MySQLEPS       float64 `json:"mysql_ceiling_events_per_s,omitempty"`
		KafkaEPS       float64 `json:"kafka_ceiling_events_per_s,omitempty"`
		Ratio          float64 `json:"ratio_to_lower_ceiling,omitempty"`
		Lower          string  `json:"lower_ceiling,omitempty"`
		CompareEPS     float64 `json:"compare_events_per_s,omitempty"`
		CompareCPU     float64 `json:"compare_cpu_s_per_m_events,omitempty"`
		CompareRatio   float64 `json:"compare_ratio,omitempty"`
		DebeziumEPS    float64 `json:"debezium_events_per_s,omitempty"`
		DebeziumCPU    float64 `json:"debezium_cpu_s_per_m_events,omitempty"`
		DebeziumRunCPU float64 `json:"debezium_cpu_s_per_m_events_from_first_record,omitempty"`
		DebeziumRSS    float64 `json:"debezium_peak_rss_mib,omitempty"` // the maximum
		DebeziumRatio  float64 `json:"sluice_over_debezium,omitempty"`
	} `json:"median"`
}

// ratioEPS is the per-repeat rates of runs that the ratios use.
func (cr *caseResult) ratioEPS(runs *sluiceRuns) []float64 {
	if cr.WholeRun {
		return runs.WallEPS
	}
	return runs.EPS
}

// readerEPS is the per-repeat rates of a ceiling reader that the ratios
// use, as ratioEPS is sluice's.
func (cr *caseResult) readerEPS(runs *readerRuns) []float64 {
	if cr.WholeRun {
		return runs.WallEPS
	}
	return runs.EPS
}

// readerRuns are one ceiling reader's figures, one entry per repeat.
type readerRuns struct {
	EPS          []float64 `json:"events_per_s"`      // first→last message
	WallEPS      []float64 `json:"wall_events_per_s"` // connect→last message
	ReaderCPU    []float64 `json:"reader_cpu_s_per_m_events"`
	WalsenderCPU []float64 `json:"walsender_cpu_s_per_m_events,omitempty"`
}

func (rr *readerRuns) add(r readerResult) {
	rr.EPS = append(rr.EPS, rate(r.Rows, r.Last.Sub(r.First)))
	rr.WallEPS = append(rr.WallEPS, rate(r.Rows, r.Last.Sub(r.Started)))
	rr.ReaderCPU = append(rr.ReaderCPU, perMillion(r.CPU, r.Rows))
	if r.Walsender.OK {
		rr.WalsenderCPU = append(rr.WalsenderCPU, perMillion(r.Walsender.CPU, r.Rows))
	}
}

// sluiceRuns are one sluice binary's figures, one entry per repeat.
type sluiceRuns struct {
	EPS          []float64 `json:"events_per_s"`      // first→last record append
	WallEPS      []float64 `json:"wall_events_per_s"` // process start→last append
	CPU          []float64 `json:"cpu_s_per_m_events"`
	RSS          []float64 `json:"peak_rss_mib"`
	WalsenderCPU []float64 `json:"walsender_cpu_s_per_m_events,omitempty"`
	// What shared the machine with the run: the Kafka broker's CPU and
	// (-source mysql) the MariaDB server's, per million events, from the
	// daemon's start until the topic held every record (as sluice's CPU
	// is counted), and the machine's busy cores on average from the first
	// record on (from the start when the records took under a quarter of
	// a second, as in -smoke). They show what a ceiling ratio costs in
	// cores: the pipeline's CPU per event is sluice's, the broker's and
	// the server's (or the walsender's) together.
	BrokerCPU []float64 `json:"broker_cpu_s_per_m_events,omitempty"`
	MySQLCPU  []float64 `json:"mysql_server_cpu_s_per_m_events,omitempty"`
	Cores     []float64 `json:"machine_cores_busy,omitempty"`
}

func last(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[len(xs)-1]
}

type profileRes struct {
	CPU             string  `json:"cpu_profile"`
	Allocs          string  `json:"allocs_profile"`
	MallocsPerEvent float64 `json:"mallocs_per_event"` // whole process incl. startup
	BytesPerEvent   float64 `json:"alloc_bytes_per_event"`
	// The execution trace from the first record to the last, and the
	// goroutines that held a processor longest in it (gtrace.go).
	Trace      string        `json:"trace,omitempty"`
	Goroutines *traceSummary `json:"trace_goroutines,omitempty"`
}

type latencyRes struct {
	TargetRate  float64 `json:"target_events_per_s"`
	OfferedRate float64 `json:"offered_events_per_s"`
	Writers     int     `json:"writers"` // paced writer sessions sharing the rate
	Events      int     `json:"events"`
	Measured    int     `json:"measured"` // after the 1 s warm-up
	P50ms       float64 `json:"p50_ms"`
	P95ms       float64 `json:"p95_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	CPU         float64 `json:"sluice_cpu_s_per_m_events"`
	PeakRSS     float64 `json:"sluice_peak_rss_mib"`
	Basis       string  `json:"basis"`
	Binary      string  `json:"binary"` // sluice, or compare
	// Cores busy on average while the paced writer ran: the whole
	// machine (other users included), the writer's backend, the
	// walsender and sluice.
	MachineCores   float64 `json:"machine_cores_busy"`
	WriterCores    float64 `json:"writer_backend_cores"`
	WalsenderCores float64 `json:"walsender_cores"`
	SluiceCores    float64 `json:"sluice_cores"`
}
