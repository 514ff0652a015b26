package main

import (
	"slices"
	"time"
)

// median of xs (0 for none); xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func maxOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return slices.Max(xs)
}

// percentile is the nearest-rank percentile p (0 < p <= 100) of sorted ds.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(float64(len(sorted))*p/100+0.999999) - 1
	k = max(0, min(k, len(sorted)-1))
	return sorted[k]
}

// rate is n per second over d, taken as at least 1 ms (Kafka append
// times have millisecond resolution).
func rate(n int, d time.Duration) float64 {
	return float64(n) / max(d, time.Millisecond).Seconds()
}

// perMillion is seconds of cpu per million events.
func perMillion(cpu time.Duration, events int) float64 {
	if events == 0 {
		return 0
	}
	return cpu.Seconds() * 1e6 / float64(events)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sortDurations(ds []time.Duration) { slices.Sort(ds) }
