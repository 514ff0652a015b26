package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/pipeline"
)

// signalSource is a source that takes signals: it refuses the type
// "stop-snapshot", is not running while down is set, fails on "boom",
// and records what it accepted.
type signalSource struct {
	snapSource
	mu   sync.Mutex
	down bool
	got  []sluice.Signal
}

func (s *signalSource) Signal(_ context.Context, sig sluice.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.down:
		return sluice.ErrNotRunning
	case sig.Type == sluice.SignalStopSnapshot:
		return sluice.Refused(errors.New("no snapshot of public.nope is running"))
	case sig.Type == "boom":
		return errors.New("the database went away")
	}
	s.got = append(s.got, sig)
	return nil
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestSignalsEndpoint: POST /signals hands the signal to the pipeline's
// source and answers what became of it; accepted and refused signals are
// counted on /metrics with channel "admin".
func TestSignalsEndpoint(t *testing.T) {
	src, idle := &signalSource{}, &signalSource{down: true}
	shop := &pipeline.Pipeline{Name: "shop", Source: src, Signals: &sluice.SignalCounter{}}
	crm := &pipeline.Pipeline{Name: "crm", Source: &snapSource{}, Signals: &sluice.SignalCounter{}}
	hr := &pipeline.Pipeline{Name: "hr", Source: idle, Signals: &sluice.SignalCounter{}}
	base := serve(t, Options{}, shop, crm, hr)
	snap := `{"id":"s1","type":"execute-snapshot","data":{"data-collections":["public.orders"]}}`
	for _, c := range []struct {
		name, method, query, body string
		code                      int
		says                      string
	}{
		{"accepted", "POST", "?pipeline=shop", snap, http.StatusAccepted, "s1"},
		{"data as a string", "POST", "?pipeline=shop", `{"id":"s2","type":"log","data":"{\"message\":\"hi\"}"}`, http.StatusAccepted, "accepted"},
		{"id given by sluice", "POST", "?pipeline=shop", `{"type":"pause-snapshot"}`, http.StatusAccepted, "sluice-"},
		{"refused", "POST", "?pipeline=shop", `{"id":"s3","type":"stop-snapshot","data":{"data-collections":["public.nope"]}}`, http.StatusBadRequest, "public.nope is running"},
		{"not JSON", "POST", "?pipeline=shop", `{"id":`, http.StatusBadRequest, "not a signal record"},
		{"no type", "POST", "?pipeline=shop", `{"id":"s4"}`, http.StatusBadRequest, "without a type"},
		{"unknown pipeline", "POST", "?pipeline=nope", snap, http.StatusNotFound, `no pipeline "nope"`},
		{"no pipeline named", "POST", "", snap, http.StatusNotFound, "name the pipeline"},
		{"source takes no signals", "POST", "?pipeline=crm", snap, http.StatusNotImplemented, "takes no signals"},
		{"source not running", "POST", "?pipeline=hr", snap, http.StatusServiceUnavailable, "not running"},
		{"source failed", "POST", "?pipeline=shop", `{"id":"s5","type":"boom"}`, http.StatusInternalServerError, "went away"},
		{"not sent as JSON", "POST text/plain", "?pipeline=shop", snap, http.StatusUnsupportedMediaType, "application/json"},
		{"GET", "GET", "?pipeline=shop", "", http.StatusMethodNotAllowed, "POST"},
		{"PUT", "PUT", "?pipeline=shop", snap, http.StatusMethodNotAllowed, "POST"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// "POST text/plain" sends that content type; the others JSON.
			method, ctype, ok := strings.Cut(c.method, " ")
			if !ok {
				ctype = "application/json; charset=utf-8"
			}
			req, err := http.NewRequest(method, base+"/signals"+c.query, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", ctype)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.code || !strings.Contains(string(b), c.says) {
				t.Errorf("%s /signals%s: %d %q, want %d saying %q", c.method, c.query, resp.StatusCode, b, c.code, c.says)
			}
		})
	}
	// A body over the bound: the server closes the connection after a
	// pause, which httptest's Close waits for.
	hs := httptest.NewServer(signalsHandler([]*pipeline.Pipeline{shop}))
	code, body := post(t, hs.URL+"?pipeline=shop", `{"id":"`+strings.Repeat("x", MaxSignalBytes)+`","type":"log"}`)
	hs.Close()
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "at most") {
		t.Errorf("a body over %d bytes: %d %q, want 413", MaxSignalBytes, code, body)
	}

	src.mu.Lock()
	var got []string
	for _, s := range src.got {
		got = append(got, s.ID+" "+s.Type+" "+s.Data)
	}
	src.mu.Unlock()
	if len(got) != 3 || got[0] != `s1 execute-snapshot {"data-collections":["public.orders"]}` || got[1] != `s2 log {"message":"hi"}` ||
		!strings.HasPrefix(got[2], "sluice-") {
		t.Errorf("the source got %q", got)
	}

	_, metrics := get(t, base+"/metrics")
	checkMetrics(t, metrics, []metricCase{
		{`sluice_signals_total{channel="admin",pipeline="shop",result="accepted",type="execute-snapshot"} 1`, true},
		{`sluice_signals_total{channel="admin",pipeline="shop",result="accepted",type="log"} 1`, true},
		{`sluice_signals_total{channel="admin",pipeline="shop",result="accepted",type="pause-snapshot"} 1`, true},
		{`sluice_signals_total{channel="admin",pipeline="shop",result="refused",type="stop-snapshot"} 1`, true},
		{`sluice_signals_total{channel="admin",pipeline="shop",result="refused",type="unknown"} 2`, true}, // not JSON, no type
		{`sluice_signals_total{channel="admin",pipeline="shop",result="refused",type="log"`, false},       // too big: not read
		{`sluice_signals_total{channel="admin",pipeline="hr"`, false},                                     // not running: not counted
		{`sluice_signals_total{channel="admin",pipeline="crm"`, false},                                    // takes no signals
	})
}

// TestSignalMetricsOtherChannels: the counter the source and the Kafka
// channel share is exported as it is, one series per channel, type and
// result.
func TestSignalMetricsOtherChannels(t *testing.T) {
	c := &sluice.SignalCounter{}
	c.Count(sluice.ChannelSource, sluice.SignalExecuteSnapshot, nil)
	c.Count(sluice.ChannelSource, sluice.SignalExecuteSnapshot, nil)
	c.Count(sluice.ChannelKafka, "reboot", sluice.Refused(errors.New("unknown type")))
	p := &pipeline.Pipeline{Name: "shop", Source: &snapSource{}, Signals: c}
	_, metrics := get(t, serve(t, Options{}, p)+"/metrics")
	checkMetrics(t, metrics, []metricCase{
		{`sluice_signals_total{channel="source",pipeline="shop",result="accepted",type="execute-snapshot"} 2`, true},
		{`sluice_signals_total{channel="kafka",pipeline="shop",result="refused",type="unknown"} 1`, true},
		{`sluice_signals_total{channel="kafka",pipeline="shop",result="accepted"`, false},
	})
}
