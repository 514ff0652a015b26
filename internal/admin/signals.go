package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pipeline"
)

// MaxSignalBytes bounds the body of POST /signals.
const MaxSignalBytes = 64 << 10

// signalsHandler serves POST /signals?pipeline=NAME: the body is a signal
// record as on the Kafka signal topic ({"id", "type", "data"}, data an
// object or a string holding one), handed to the pipeline's source
// (sluice.SignalReceiver). `sluice snapshot` and `sluice signal` use it.
// The status says what became of it: 202 accepted, 400 refused (the
// reason in the body), 404 no such pipeline, 501 the source takes no
// signals, 503 the source is not running (starting or restarting: try
// again), 413 a body over MaxSignalBytes, 415 a body not sent as
// application/json. Accepted and refused signals
// are counted with channel "admin". The endpoint listens where /metrics
// does, on loopback unless http.listen says otherwise: whoever reaches it
// can start snapshots.
func signalsHandler(pipes []*pipeline.Pipeline) http.HandlerFunc {
	byName := make(map[string]*pipeline.Pipeline, len(pipes))
	for _, p := range pipes {
		byName[p.Name] = p
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST a signal: {\"id\": …, \"type\": …, \"data\": {…}}", http.StatusMethodNotAllowed)
			return
		}
		// A web page can make a browser POST text/plain anywhere, the
		// loopback included, without asking; application/json needs
		// the CORS preflight this endpoint never answers.
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
			http.Error(w, "send the signal as Content-Type: application/json", http.StatusUnsupportedMediaType)
			return
		}
		name := r.URL.Query().Get("pipeline")
		if name == "" && len(pipes) == 1 {
			name = pipes[0].Name
		}
		p, ok := byName[name]
		if !ok {
			msg := fmt.Sprintf("no pipeline %q", name)
			if name == "" {
				msg = "name the pipeline: POST /signals?pipeline=NAME"
			}
			http.Error(w, msg, http.StatusNotFound)
			return
		}
		recv, ok := p.Source.(sluice.SignalReceiver)
		if !ok {
			http.Error(w, fmt.Sprintf("pipeline %s: its source takes no signals through this endpoint", name), http.StatusNotImplemented)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxSignalBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, fmt.Sprintf("a signal is at most %d bytes", MaxSignalBytes), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading the signal: "+err.Error(), http.StatusBadRequest)
			return
		}
		s, err := sluice.ParseSignal(body)
		if err == nil && s.ID == "" {
			s.ID = sluice.NewSignalID()
		}
		if err == nil {
			err = recv.Signal(r.Context(), s)
		}
		switch {
		case err == nil:
			p.Signals.Count(sluice.ChannelAdmin, s.Type, nil)
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, "pipeline %s: signal %s (%s) accepted\n", name, s.ID, s.Type)
		case errors.Is(err, sluice.ErrRefused):
			p.Signals.Count(sluice.ChannelAdmin, s.Type, err)
			http.Error(w, fmt.Sprintf("pipeline %s: signal %s refused: %v", name, s.ID, err), http.StatusBadRequest)
		case errors.Is(err, sluice.ErrNotRunning):
			w.Header().Set("Retry-After", "5")
			http.Error(w, fmt.Sprintf("pipeline %s: the source is not running (starting or restarting): try again", name), http.StatusServiceUnavailable)
		case errors.Is(err, context.Canceled):
			http.Error(w, "request cancelled", http.StatusServiceUnavailable)
		default:
			http.Error(w, fmt.Sprintf("pipeline %s: signal %s: %v", name, s.ID, err), http.StatusInternalServerError)
		}
	}
}

// signalCollector exports a pipeline's sluice.SignalCounter.
type signalCollector struct {
	c     *sluice.SignalCounter
	total *prometheus.Desc
}

func newSignalCollector(p *pipeline.Pipeline) *signalCollector {
	return &signalCollector{c: p.Signals, total: prometheus.NewDesc("sluice_signals_total",
		"Signals received, by channel (source: the signal table; kafka: the signal topic; admin: POST /signals, `sluice snapshot`, `sluice signal`), "+
			"type (unknown: a type sluice does not know, or a record that did not parse) and result (accepted or refused; the reason of a refusal is in the log).",
		[]string{"channel", "type", "result"}, prometheus.Labels{"pipeline": p.Name})}
}

func (c *signalCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.total }

func (c *signalCollector) Collect(ch chan<- prometheus.Metric) {
	for k, n := range c.c.Counts() {
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(n), k.Channel, k.Type, k.Result)
	}
}
