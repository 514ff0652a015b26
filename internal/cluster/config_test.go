package cluster

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]any
		want []string // substrings of the error; none: valid
	}{
		{"minimal", map[string]any{"group": "g", "brokers": []any{"k:9092"}}, nil},
		{"missing", map[string]any{}, []string{"cluster.group: required", "cluster.brokers: required"}},
		{"unknown key", map[string]any{"group": "g", "brokers": []any{"k"}, "grup": "x"}, []string{"grup"}},
		{"session too short", map[string]any{"group": "g", "brokers": []any{"k"}, "session_timeout": "1s"}, []string{"cluster.session_timeout"}},
		{"rebalance too short", map[string]any{"group": "g", "brokers": []any{"k"}, "rebalance_timeout": "2s"}, []string{"cluster.rebalance_timeout"}},
		{"sasl without mechanism", map[string]any{"group": "g", "brokers": []any{"k"}, "sasl": map[string]any{"username": "u"}}, []string{"cluster.sasl.mechanism"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.raw, "cluster")
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if c.Topic != "sluice_cluster_g" || c.SessionTimeout != 10*time.Second || c.RebalanceTimeout != time.Minute || c.Member == "" {
					t.Errorf("defaults: %+v", c)
				}
				if hb := c.heartbeat(); hb != 3*time.Second {
					t.Errorf("heartbeat %v, want 3s", hb)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestProtocolMismatch(t *testing.T) {
	base := protocolName(specs("a", "b,c", "d"))
	if got := parseProtocol(base); !got.ok || strings.Join(got.names, "|") != "a|b,c|d" {
		t.Fatalf("parseProtocol(%q) = %+v", base, got)
	}
	if protocolName(specs("a", "b,c", "d")) != base {
		t.Fatal("the protocol name is not deterministic")
	}
	shape := specs("a", "b,c", "d")
	shape[0].Shape = "source=mysql sinks=kafka:kafka"
	long := make([]string, 300)
	for i := range long {
		long[i] = strings.Repeat("x", 10) + string(rune('a'+i%26)) + strings.Repeat("y", i%7)
	}
	for _, tc := range []struct {
		name, group, mine string
		want              string
	}{
		{"names", base, protocolName(specs("a", "d", "e")), "only in this configuration [e], only in the group's [b,c]"},
		{"shape", base, protocolName(shape), "another shape"},
		{"version", "sluice2:abc:a", base, "cluster protocol sluice2, this sluice sluice1"},
		{"foreign", "cooperative-sticky", base, "not sluice's"},
		{"too many names to carry", protocolName(specs(long...)), protocolName(specs(long[1:]...)), "another pipeline set or shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mismatch(tc.group, tc.mine, parseProtocol(tc.mine).names)
			if !strings.Contains(got, tc.want) {
				t.Errorf("mismatch = %q, want it to say %q", got, tc.want)
			}
		})
	}
}
