package config

import (
	"strings"
	"testing"
	"time"
)

// TestLivenessTimeout: http.liveness_timeout defaults to 5m, takes a
// duration, and is refused outside [1s, 24h] with its key named.
func TestLivenessTimeout(t *testing.T) {
	const pipe = "\npipelines:\n  p:\n    source: {type: postgres}\n    sinks: {stdout: {}}\n"
	for _, tc := range []struct {
		name, http string
		want       time.Duration
		err        string
	}{
		{"default", "http: {}", DefaultLivenessTimeout, ""},
		{"set", "http: {liveness_timeout: 90s}", 90 * time.Second, ""},
		{"too short", "http: {liveness_timeout: 100ms}", 0, "http.liveness_timeout: must be between 1s and 24h0m0s, got 100ms"},
		{"too long", "http: {liveness_timeout: 48h}", 0, "http.liveness_timeout: must be between 1s and 24h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(tc.http + pipe))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.HTTP.LivenessTimeout != tc.want {
				t.Errorf("liveness_timeout %v, want %v", f.HTTP.LivenessTimeout, tc.want)
			}
		})
	}
}
