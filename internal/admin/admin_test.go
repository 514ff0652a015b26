package admin

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

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

func TestEndpoints(t *testing.T) {
	p := &pipeline.Pipeline{Name: "shop"}
	srv, err := New("127.0.0.1:0", []*pipeline.Pipeline{p})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx)
	base := "http://" + srv.Addr()

	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "shop") {
		t.Errorf("/readyz while not ready = %d %q, want 503 naming the pipeline", code, body)
	}
	p.Stats.Ready.Store(true)
	p.Stats.Events.Add(42)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d", code)
	}
	_, metrics := get(t, base+"/metrics")
	if !strings.Contains(metrics, `sluice_events_total{pipeline="shop"} 42`) {
		t.Errorf("/metrics lacks the event counter:\n%s", metrics)
	}
}
