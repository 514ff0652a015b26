package admin

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/buildinfo"
	"github.com/sluice-cdc/sluice/pipeline"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serve starts the admin server of pipes on a free loopback port until
// the test ends and returns its base URL.
func serve(t *testing.T, o Options, pipes ...*pipeline.Pipeline) string {
	t.Helper()
	srv, err := New("127.0.0.1:0", pipes, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go srv.Serve(ctx)
	return "http://" + srv.Addr()
}

// metricCase is a series /metrics has (want: the whole line) or has
// not (not even as a prefix).
type metricCase struct {
	metric string
	want   bool
}

// checkMetrics checks the /metrics text against cases.
func checkMetrics(t *testing.T, metrics string, cases []metricCase) {
	t.Helper()
	for _, tc := range cases {
		if got := strings.Contains(metrics, tc.metric+"\n") || !tc.want && strings.Contains(metrics, tc.metric); got != tc.want {
			t.Errorf("/metrics has %s: %v, want %v", tc.metric, got, tc.want)
		}
	}
}

func TestEndpoints(t *testing.T) {
	p := &pipeline.Pipeline{Name: "shop"}
	base := serve(t, Options{}, p)

	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "shop") {
		t.Errorf("/readyz while not ready = %d %q, want 503 naming the pipeline", code, body)
	}
	p.Stats.Ready.Store(true)
	p.Stats.Events.Add(42)
	p.Stats.ReadLagMs.Store(1500)
	p.Stats.DeliveredLagMs.Store(2500)
	p.Stats.ReadCommitMs.Store(1700000000500)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d", code)
	}
	_, metrics := get(t, base+"/metrics")
	if !strings.Contains(metrics, `sluice_events_total{pipeline="shop"} 42`) {
		t.Errorf("/metrics lacks the event counter:\n%s", metrics)
	}
	for _, want := range []string{`sluice_source_lag_milliseconds{pipeline="shop"} 1500`, `sluice_delivery_lag_milliseconds{pipeline="shop"} 2500`,
		`sluice_source_last_commit_timestamp_seconds{pipeline="shop"} 1.7000000005e+09`, `sluice_queue_events{pipeline="shop"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	bi := buildinfo.Get()
	if want := fmt.Sprintf(`sluice_build_info{commit=%q,goversion=%q,version=%q} 1`, bi.Commit, bi.Go, bi.Version); !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s:\n%s", want, metrics)
	}
}

// snapSource is a source that reports a fixed snapshot progress.
type snapSource struct{ tables []sluice.TableSnapshot }

func (s *snapSource) Run(ctx context.Context, _ func(*sluice.Event) error) error {
	<-ctx.Done()
	return nil
}
func (s *snapSource) Confirm(sluice.Position)                  {}
func (s *snapSource) SnapshotProgress() []sluice.TableSnapshot { return s.tables }

func TestSnapshotMetrics(t *testing.T) {
	shop := &pipeline.Pipeline{Name: "shop", Source: &snapSource{tables: []sluice.TableSnapshot{
		{Table: "public.customers", Rows: 1000, Estimated: 1200, Done: true},
		{Table: "public.orders", Rows: 4096, Estimated: -1},
		{Table: "public.orders", Incremental: true, Rows: 10, Estimated: 50},
		{Table: "public.orders", Incremental: true, Rows: 20, Estimated: 60}, // a later request of the same table
		{Table: "public.lines", Incremental: true, Failed: true, Error: "column qty does not exist"},
	}}}
	crm := &pipeline.Pipeline{Name: "crm", Source: &snapSource{}} // no snapshot ran
	code, metrics := get(t, serve(t, Options{}, shop, crm)+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d:\n%s", code, metrics)
	}
	for _, want := range []string{
		`sluice_snapshot_rows{kind="initial",pipeline="shop",table="public.customers"} 1000`,
		`sluice_snapshot_rows_estimated{kind="initial",pipeline="shop",table="public.customers"} 1200`,
		`sluice_snapshot_done{kind="initial",pipeline="shop",table="public.customers"} 1`,
		`sluice_snapshot_rows{kind="initial",pipeline="shop",table="public.orders"} 4096`,
		`sluice_snapshot_rows_estimated{kind="initial",pipeline="shop",table="public.orders"} -1`,
		`sluice_snapshot_done{kind="initial",pipeline="shop",table="public.orders"} 0`,
		`sluice_snapshot_rows{kind="incremental",pipeline="shop",table="public.orders"} 20`,
		`sluice_snapshot_failed{kind="incremental",pipeline="shop",table="public.orders"} 0`,
		`sluice_snapshot_failed{kind="incremental",pipeline="shop",table="public.lines"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `pipeline="crm",table=`) {
		t.Errorf("/metrics reports a snapshot for a pipeline that ran none:\n%s", metrics)
	}
}

func TestPprofOnlyWhenEnabled(t *testing.T) {
	for _, on := range []bool{false, true} {
		code, body := get(t, serve(t, Options{Pprof: on})+"/debug/pprof/goroutine?debug=1")
		if on && (code != 200 || !strings.Contains(body, "goroutine profile")) {
			t.Errorf("pprof on: /debug/pprof/goroutine = %d %.80q", code, body)
		}
		if !on && code != 404 {
			t.Errorf("pprof off: /debug/pprof/goroutine = %d, want 404", code)
		}
	}
}

// retSource reports a fixed slot retention.
type retSource struct {
	snapSource
	r sluice.Retention
}

func (s *retSource) Retention() sluice.Retention { return s.r }

// TestRetentionMetrics: a source's slot retention, once known, is on
// /metrics with one wal_status series per status.
func TestRetentionMetrics(t *testing.T) {
	shop := &pipeline.Pipeline{Name: "shop", Source: &retSource{r: sluice.Retention{Known: true, RetainedBytes: 5 << 20, LagBytes: 1024,
		Status: "extended", SafeBytes: -1, OverThreshold: true}}}
	crm := &pipeline.Pipeline{Name: "crm", Source: &retSource{}} // not read yet
	_, metrics := get(t, serve(t, Options{}, shop, crm)+"/metrics")
	for _, want := range []string{
		`sluice_slot_retained_wal_bytes{pipeline="shop"} 5.24288e+06`,
		`sluice_slot_confirmed_lag_bytes{pipeline="shop"} 1024`,
		`sluice_slot_safe_wal_size_bytes{pipeline="shop"} -1`,
		`sluice_slot_wal_over_threshold{pipeline="shop"} 1`,
		`sluice_slot_wal_status{pipeline="shop",status="extended"} 1`,
		`sluice_slot_wal_status{pipeline="shop",status="lost"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, `sluice_slot_retained_wal_bytes{pipeline="crm"}`) {
		t.Error("a retention not read yet is exported")
	}
}
