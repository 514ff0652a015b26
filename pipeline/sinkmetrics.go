package pipeline

import (
	"strconv"
	"sync/atomic"
	"time"
)

// LatencyBuckets are the upper bounds, in seconds, of the acknowledgement
// latency histogram: from a Kafka acknowledgement in a millisecond to an
// Elasticsearch bulk request retried for a minute.
var LatencyBuckets = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// SinkCounters are what the runner measures of one sink, whatever its
// type; the sink's own totals come from sluice.SinkStatsReporter. They
// live as long as the Pipeline, across restarts, so the counters only
// grow.
type SinkCounters struct {
	// Name is the sink's name in the configuration (Pipeline.SinkNames),
	// or its index when the pipeline has no names.
	Name string
	// Events counts the events handed to the sink's Write (not the marks,
	// nor the events the sink's own transforms dropped).
	Events atomic.Int64
	// Latency is the time from handing an event to the sink to its
	// acknowledgement (successful ones only), sampled: see latencyProbe.
	Latency LatencyHistogram
}

// LatencyHistogram is a fixed-bucket histogram updated with atomics only,
// so the runner can feed it from the sinks' acknowledgement goroutines
// without a lock, and the admin server reads it at scrape time.
type LatencyHistogram struct {
	counts [len(LatencyBuckets) + 1]atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sumNs  atomic.Int64
}

func (h *LatencyHistogram) observe(d time.Duration) {
	s := d.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

// Snapshot returns the observation count, the sum in seconds and the
// cumulative count per bucket of LatencyBuckets. The count is the sum of
// the buckets, so it is consistent with them even while observations
// arrive.
func (h *LatencyHistogram) Snapshot() (count uint64, sum float64, cumulative [len(LatencyBuckets)]uint64) {
	for i := range LatencyBuckets {
		count += h.counts[i].Load()
		cumulative[i] = count
	}
	count += h.counts[len(LatencyBuckets)].Load()
	return count, time.Duration(h.sumNs.Load()).Seconds(), cumulative
}

// SinkCounters returns the runner's counters of each sink, indexed like
// Sinks. The admin server registers them before the pipeline runs, so
// they are made on first use by either.
func (p *Pipeline) SinkCounters() []*SinkCounters {
	p.countersOnce.Do(func() {
		p.counters = make([]*SinkCounters, len(p.Sinks))
		for i := range p.counters {
			name := strconv.Itoa(i)
			if i < len(p.SinkNames) && p.SinkNames[i] != "" {
				name = p.SinkNames[i]
			}
			p.counters[i] = &SinkCounters{Name: name}
		}
	})
	return p.counters
}

// sinkMeter counts and times what one run of the pipeline hands to one
// sink.
//
// Timing every event would cost two clock reads and a histogram update
// per event and per sink on the hot path. Instead one event per sink is
// in flight timed at a time: when the previous timed event has been
// acknowledged, the next event handed over is timed. That samples about
// one event per acknowledgement round trip (a Kafka produce request, an
// Elasticsearch bulk request), which is what the latency is made of, and
// costs the untimed events one atomic load.
type sinkMeter struct {
	c    *SinkCounters
	acks []func(error) // the tracker's, per ring slot
	base time.Time     // start of the run; times are offsets from it (monotonic)

	busy  atomic.Bool  // a timed event is in flight
	slot  atomic.Int64 // its ring slot
	start atomic.Int64 // when it was handed over, ns since base
	done  func(error)  // m.ackTimed, bound once
}

func (p *Pipeline) sinkMeters(acks []func(error)) []*sinkMeter {
	cs := p.SinkCounters()
	base := time.Now()
	ms := make([]*sinkMeter, len(cs))
	for i, c := range cs {
		m := &sinkMeter{c: c, acks: acks, base: base}
		m.done = m.ackTimed
		ms[i] = m
	}
	return ms
}

// handOver counts an event about to be written to the sink and returns
// the ack to give it: ack itself, or the timing wrapper of slot's ack.
func (m *sinkMeter) handOver(ack func(error), seq uint64) func(error) {
	if m.c.Events.Add(1)%sampleEvery != 0 || m.busy.Load() {
		return ack
	}
	return m.startTimed(seq)
}

// startTimed makes the event of sequence number seq the timed one; kept
// out of handOver so that the common path inlines.
func (m *sinkMeter) startTimed(seq uint64) func(error) {
	m.busy.Store(true)
	m.slot.Store(int64(seq % uint64(len(m.acks))))
	m.start.Store(int64(time.Since(m.base)))
	return m.done
}

// ackTimed is the acknowledgement of the timed event: it records the
// latency, frees the probe for the next event, then acknowledges.
func (m *sinkMeter) ackTimed(err error) {
	d := time.Since(m.base) - time.Duration(m.start.Load())
	ack := m.acks[m.slot.Load()]
	m.busy.Store(false) // after reading slot and start: the runner may reuse them now
	if err == nil {
		m.c.Latency.observe(d)
	}
	ack(err)
}

// sampleEvery is the least number of events between two timed events of
// a sink; see sinkMeter.
const sampleEvery = 16
