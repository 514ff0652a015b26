package mysql

import "testing"

// TestQuietTicks: only ticks at which the reader waited and received
// nothing since the previous tick count, and limit of them in a row mean
// the connection is dead.
func TestQuietTicks(t *testing.T) {
	cases := []struct {
		name  string
		steps []string // per tick: "wait" (waiting, no event), "event" (an event arrived), "busy" (handing events to the pipeline)
		want  int      // tick at which the stall is reported; 0 = never
	}{
		{"silent connection", []string{"wait", "wait", "wait"}, 3},
		{"events keep it alive", []string{"wait", "wait", "event", "wait", "wait", "event", "wait"}, 0},
		{"a full pipeline is not a stall", []string{"busy", "busy", "busy", "busy", "busy"}, 0},
		{"quiet ticks must be consecutive", []string{"wait", "wait", "busy", "wait", "wait", "wait"}, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := quietTicks{limit: 3}
			var events uint64
			got := 0
			for i, s := range c.steps {
				waiting := s != "busy"
				if s == "event" {
					events++
				}
				if q.observe(events, waiting) {
					got = i + 1
					break
				}
			}
			if got != c.want {
				t.Fatalf("stall reported at tick %d, want %d (0: never)", got, c.want)
			}
		})
	}
}
