// Package admin serves the daemon's operational HTTP endpoints: /healthz
// (the process is up and no running pipeline is stuck), /readyz (every
// pipeline has its source and sinks connected) and Prometheus /metrics,
// including the progress of snapshots per table and per-sink metrics,
// and on request Go's /debug/pprof. It binds to loopback by default.
package admin

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/buildinfo"
	"github.com/sluice-cdc/sluice/pipeline"
)

// Server exposes the endpoints for a set of pipelines.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Options are the optional endpoints.
type Options struct {
	// Pprof serves Go's profiling endpoints under /debug/pprof/.
	Pprof bool
	// LivenessTimeout is how long a running pipeline may be stuck before
	// /healthz fails (sinks.go); 0 is DefaultLivenessTimeout, negative
	// disables the check.
	LivenessTimeout time.Duration
	// Owned, when set, says which pipelines run in this process (cluster
	// mode): /readyz skips the others.
	Owned func(pipeline string) bool
	// Ready, when set, must be nil for /readyz to pass (cluster mode:
	// the process joined its group).
	Ready func() error
	// Collectors are more series for /metrics.
	Collectors []prometheus.Collector
}

// New registers the pipelines' metrics and listens on addr.
func New(addr string, pipes []*pipeline.Pipeline, o Options) (*Server, error) {
	reg := prometheus.NewRegistry()
	if o.LivenessTimeout == 0 {
		o.LivenessTimeout = DefaultLivenessTimeout
	}
	bi := buildinfo.Get()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_build_info", Help: "1, labelled with the running build's version, commit and Go version.",
			ConstLabels: prometheus.Labels{"version": bi.Version, "commit": bi.Commit, "goversion": bi.Go}},
			func() float64 { return 1 }))
	reg.MustRegister(o.Collectors...)
	for _, p := range pipes {
		st, labels := &p.Stats, prometheus.Labels{"pipeline": p.Name}
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sluice_events_total", Help: "Change events handed to sinks.", ConstLabels: labels},
				func() float64 { return float64(st.Events.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sluice_restarts_total", Help: "Pipeline restarts after a failure.", ConstLabels: labels},
				func() float64 { return float64(st.Restarts.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_checkpoint_position", Help: "Last position confirmed to the source (Postgres: LSN).", ConstLabels: labels},
				func() float64 { return float64(st.Checkpoint.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_source_lag_milliseconds", Help: "How long after its commit the last event was read (Debezium's MilliSecondsBehindSource); kept while idle.", ConstLabels: labels},
				func() float64 { return float64(st.ReadLagMs.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_delivery_lag_milliseconds", Help: "How long after its commit the newest event every sink acknowledged was acknowledged; kept while idle.", ConstLabels: labels},
				func() float64 { return float64(st.DeliveredLagMs.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_source_last_commit_timestamp_seconds", Help: "Commit time of the last event read (0 before the first); time() minus it is the age of the newest change seen.", ConstLabels: labels},
				func() float64 { return float64(st.ReadCommitMs.Load()) / 1000 }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_delivered_commit_timestamp_seconds", Help: "Commit time of the newest event every sink acknowledged (0 before the first).", ConstLabels: labels},
				func() float64 { return float64(st.DeliveredCommitMs.Load()) / 1000 }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_queue_events", Help: "Events handed to sinks and not yet acknowledged by all.", ConstLabels: labels},
				func() float64 {
					if f := st.InFlight.Load(); f != nil {
						return float64((*f)())
					}
					return 0
				}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_queue_capacity", Help: "The pipeline's capacity: events in flight before the source waits.", ConstLabels: labels},
				func() float64 { return float64(p.Capacity) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_pipeline_failed", Help: "1 once the pipeline stopped on a permanent error (the reason is in the log and on /readyz).", ConstLabels: labels},
				func() float64 { return boolValue(st.Failed.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_ready", Help: "1 while the pipeline's source and sinks are connected and ready.", ConstLabels: labels},
				func() float64 { return boolValue(p.Ready() == nil) }),
		)
		if rr, ok := p.Source.(sluice.RetentionReporter); ok {
			reg.MustRegister(newRetentionCollector(p.Name, rr))
		}
		if br, ok := p.Source.(sluice.BinlogRetentionReporter); ok {
			reg.MustRegister(newBinlogCollector(p.Name, br))
		}
		if sr, ok := p.Source.(sluice.SnapshotReporter); ok {
			reg.MustRegister(newSnapshotCollector(p.Name, sr))
		}
		if jr, ok := p.Source.(sluice.IncrementalSnapshotReporter); ok {
			reg.MustRegister(newSnapshotJobsCollector(p.Name, jr))
		}
		if p.Signals != nil {
			reg.MustRegister(newSignalCollector(p))
		}
		if jc := newJoinCollector(p); jc != nil {
			reg.MustRegister(jc)
		}
		reg.MustRegister(livenessMetrics(p, o.LivenessTimeout)...)
		if err := registerSinks(reg, p); err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", healthz(pipes, o.LivenessTimeout))
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if o.Ready != nil {
			if err := o.Ready(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		for _, p := range pipes {
			if o.Owned != nil && !o.Owned(p.Name) {
				continue
			}
			if err := p.Ready(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/signals", signalsHandler(pipes))
	if o.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index) // also serves the named profiles (heap, goroutine, allocs, …)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		s.srv.Shutdown(sctx)
	}()
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// snapshotCollector reads a source's snapshot progress at scrape time.
// kind is "initial" or "incremental"; when one table has several
// snapshots of a kind queued, the latest is reported.
type snapshotCollector struct {
	src                          sluice.SnapshotReporter
	rows, estimate, done, failed *prometheus.Desc
}

func newSnapshotCollector(pipeline string, src sluice.SnapshotReporter) *snapshotCollector {
	labels, vars := prometheus.Labels{"pipeline": pipeline}, []string{"table", "kind"}
	return &snapshotCollector{src: src,
		rows:     prometheus.NewDesc("sluice_snapshot_rows", "Rows of the table emitted by the snapshot so far.", vars, labels),
		estimate: prometheus.NewDesc("sluice_snapshot_rows_estimated", "The database's row estimate of the table being snapshotted (-1: unknown).", vars, labels),
		done:     prometheus.NewDesc("sluice_snapshot_done", "1 once the table's snapshot is complete.", vars, labels),
		failed:   prometheus.NewDesc("sluice_snapshot_failed", "1 when the table's snapshot failed and was given up (the reason is in the log); the stream goes on.", vars, labels),
	}
}

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	describe(ch, c.rows, c.estimate, c.done, c.failed)
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	tables := c.src.SnapshotProgress()
	latest := make(map[[2]string]int, len(tables))
	for i, t := range tables {
		latest[[2]string{t.Table, snapshotKind(t)}] = i
	}
	for i, t := range tables {
		kind := snapshotKind(t)
		if latest[[2]string{t.Table, kind}] != i {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(t.Rows), t.Table, kind)
		ch <- prometheus.MustNewConstMetric(c.estimate, prometheus.GaugeValue, float64(t.Estimated), t.Table, kind)
		ch <- prometheus.MustNewConstMetric(c.done, prometheus.GaugeValue, boolValue(t.Done), t.Table, kind)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, boolValue(t.Failed), t.Table, kind)
	}
}

func snapshotKind(t sluice.TableSnapshot) string {
	if t.Incremental {
		return "incremental"
	}
	return "initial"
}

// boolValue is a gauge's value for b: 1 or 0.
func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// describe sends a collector's descriptions, for its Describe.
func describe(ch chan<- *prometheus.Desc, ds ...*prometheus.Desc) {
	for _, d := range ds {
		ch <- d
	}
}
