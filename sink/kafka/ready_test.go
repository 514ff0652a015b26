package kafka

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/sink"
)

// The sink reports not-ready while the brokers cannot be reached: every
// connection goes through a proxy that then falls silent.
func TestNotReadyWhileBrokersUnreachable(t *testing.T) {
	brokers := strings.Split(testenv.Get(t, "SLUICE_TEST_KAFKA_BROKERS"), ",")
	proxy := testenv.NewFreezer(t, brokers[0])
	s, err := sink.Build(New, map[string]any{"brokers": []any{proxy.Addr()}, "health_check_interval": "100ms"}, testEnv(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); err != ErrNotOpen {
		t.Fatalf("Ready before Open = %v, want ErrNotOpen", err)
	}
	var d net.Dialer
	s.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, proxy.Addr()) // every broker through the proxy
	}
	if err := s.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	waitReady := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for (s.Ready() == nil) != want {
			if time.Now().After(deadline) {
				t.Fatalf("Ready() = %v after 30s; want ready=%v", s.Ready(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Several probes pass while the brokers answer.
	for i := 0; i < 3; i++ {
		time.Sleep(150 * time.Millisecond)
		waitReady(true)
	}
	proxy.Freeze()
	waitReady(false)
	if err := s.Ready(); !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("Ready = %v, want it to say the brokers are unreachable", err)
	}
}
