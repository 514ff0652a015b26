package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/config"
	"github.com/sluice-cdc/sluice/internal/admin"
	"github.com/sluice-cdc/sluice/pipeline"
)

// manifests reads every document of deploy/kubernetes/*.yaml by kind.
func manifests(t *testing.T) map[string]map[string]any {
	t.Helper()
	files, err := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	docs := map[string]map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var d map[string]any
			if err := dec.Decode(&d); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			docs[d["kind"].(string)] = d
		}
	}
	return docs
}

// dig follows a path of map keys and list indices.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a mapping at %q", path, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

// TestKubernetesManifests: the manifests under deploy/kubernetes fit the
// binary and the image: one replica replaced with Recreate (one reader per
// slot), probes on the paths the admin server serves, the port the image
// listens on, a configuration that builds, secrets as files.
func TestKubernetesManifests(t *testing.T) {
	docs := manifests(t)
	for _, kind := range []string{"Deployment", "ConfigMap", "Secret", "Service", "ServiceMonitor"} {
		if docs[kind] == nil {
			t.Fatalf("no %s", kind)
		}
	}
	dep := docs["Deployment"]
	if r := dig(t, dep, "spec", "replicas"); r != 1 {
		t.Errorf("replicas %v, want 1", r)
	}
	if s := dig(t, dep, "spec", "strategy", "type"); s != "Recreate" {
		t.Errorf("strategy %v, want Recreate", s)
	}
	c := dig(t, dep, "spec", "template", "spec", "containers", 0)
	if p := dig(t, c, "ports", 0); dig(t, p, "name") != "admin" || dig(t, p, "containerPort") != 9187 {
		t.Errorf("container port %v, want admin 9187", p)
	}
	probes := map[string]string{
		"livenessProbe":  dig(t, c, "livenessProbe", "httpGet", "path").(string),
		"readinessProbe": dig(t, c, "readinessProbe", "httpGet", "path").(string),
	}
	if probes["livenessProbe"] != "/healthz" || probes["readinessProbe"] != "/readyz" {
		t.Errorf("probes %v", probes)
	}
	if p := dig(t, docs["ServiceMonitor"], "spec", "endpoints", 0, "path"); p != "/metrics" {
		t.Errorf("ServiceMonitor path %v", p)
	}

	// The image's defaults (Dockerfile ENV) listen on the container port.
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^EXPOSE 9187$`).Match(df) || !strings.Contains(string(df), "SLUICE_HTTP_LISTEN=0.0.0.0:9187") ||
		!regexp.MustCompile(`(?m)^VOLUME /var/lib/sluice$`).Match(df) {
		t.Errorf("the Dockerfile does not expose 9187, listen on it and declare the state volume")
	}

	// The ConfigMap's file builds, with the Secret's keys as the files it
	// names and the Deployment's variables set.
	secrets := t.TempDir()
	for k := range dig(t, docs["Secret"], "stringData").(map[string]any) {
		if err := os.WriteFile(filepath.Join(secrets, k), []byte("not-the-real-one\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range dig(t, c, "env").([]any) {
		t.Setenv(dig(t, e, "name").(string), dig(t, e, "value").(string))
	}
	t.Setenv("SLUICE_HTTP_LISTEN", "0.0.0.0:9187")
	text := strings.ReplaceAll(dig(t, docs["ConfigMap"], "data", "sluice.yaml").(string), "/etc/sluice/secrets", secrets)
	f, err := config.Parse([]byte(text))
	if err != nil {
		t.Fatalf("the ConfigMap's sluice.yaml: %v", err)
	}
	if f.HTTP.Listen != "0.0.0.0:9187" {
		t.Errorf("http.listen %q", f.HTTP.Listen)
	}
	pipes, err := build(f, zap.NewNop())
	if err != nil {
		t.Fatalf("the ConfigMap's sluice.yaml does not build: %v", err)
	}

	// The admin server answers on the probes' paths.
	srv, err := admin.New("127.0.0.1:0", pipes, admin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx)
	for probe, path := range probes {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.StatusCode != 503 {
			t.Errorf("%s %s: HTTP %d", probe, path, resp.StatusCode)
		}
	}
}

// fullSource reports every kind of progress, so /metrics shows every
// series the daemon can export.
type fullSource struct{}

func (fullSource) Run(ctx context.Context, _ func(*sluice.Event) error) error {
	<-ctx.Done()
	return nil
}
func (fullSource) Confirm(sluice.Position) {}
func (fullSource) SnapshotProgress() []sluice.TableSnapshot {
	return []sluice.TableSnapshot{{Table: "public.t", Rows: 1, Estimated: 2}}
}
func (fullSource) Retention() sluice.Retention {
	return sluice.Retention{Known: true, Status: "reserved", SafeBytes: -1}
}

// fullSink reports every total a sink can, so /metrics shows every
// per-sink series.
type fullSink struct{}

func (fullSink) Open(context.Context) error  { return nil }
func (fullSink) Close(context.Context) error { return nil }
func (fullSink) Write(_ context.Context, _ *sluice.Event, ack func(error)) error {
	ack(nil)
	return nil
}
func (fullSink) SinkStats() sluice.SinkStats { return sluice.SinkStats{} }

// TestDashboardUsesExportedMetrics: every metric a query of the Grafana
// dashboard (deploy/grafana/sluice.json) names is one the daemon exports.
// The Kafka sink's franz-go client metrics (sluice_kafka_sink_…) exist
// only once a client does; sink/kafka's TestDashboardClientMetrics checks
// those names.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/sluice.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	srv, err := admin.New("127.0.0.1:0", []*pipeline.Pipeline{{Name: "shop", Source: fullSource{}, Capacity: 8,
		Sinks: []sluice.Sink{fullSink{}}, SinkNames: []string{"out"}}}, admin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx)
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exported := map[string]bool{}
	histogramOf := map[string]string{} // a histogram's series name → the histogram
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\w+) (\w+)`).FindAllSubmatch(body, -1) {
		exported[string(m[1])] = true
		if string(m[2]) == "histogram" { // queried through its series
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				histogramOf[string(m[1])+suffix] = string(m[1])
			}
		}
	}
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			for _, name := range regexp.MustCompile(`\bsluice_\w+`).FindAllString(q.Expr, -1) {
				if h, ok := histogramOf[name]; ok {
					name = h
				}
				used[name] = true
				if !exported[name] && !strings.HasPrefix(name, "sluice_kafka_sink_") {
					t.Errorf("panel %q: %s is not exported", p.Title, name)
				}
			}
		}
	}
	var unused []string
	for name := range exported {
		if strings.HasPrefix(name, "sluice_") && !used[name] {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	t.Logf("sluice metrics not on the dashboard: %v", unused)
}
