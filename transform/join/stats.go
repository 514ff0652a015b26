package join

import (
	"math"
	"sync/atomic"

	"github.com/sluice-cdc/sluice"
)

// stats are the join's counters, read at scrape time.
type stats struct {
	enriched, missing, dropped atomic.Int64
	lookupChanges              atomic.Int64
	reemitted, reemitSkipped   atomic.Int64
	reemitMax                  atomic.Int64
	bootstrapRows              atomic.Int64
	bootstrapSeconds           atomicFloat
}

func (s *stats) observeFanout(n int) {
	for {
		cur := s.reemitMax.Load()
		if int64(n) <= cur || s.reemitMax.CompareAndSwap(cur, int64(n)) {
			return
		}
	}
}

type atomicFloat struct{ bits atomic.Uint64 }

func (f *atomicFloat) Store(v float64) { f.bits.Store(math.Float64bits(v)) }
func (f *atomicFloat) Load() float64   { return math.Float64frombits(f.bits.Load()) }

// JoinStats reports the join's counters (sluice.JoinReporter).
func (j *Join) JoinStats() sluice.JoinStats {
	out := sluice.JoinStats{
		Lookup:           j.cfg.Lookup,
		As:               j.cfg.As,
		Enriched:         j.stats.enriched.Load(),
		Missing:          j.stats.missing.Load(),
		Dropped:          j.stats.dropped.Load(),
		LookupChanges:    j.stats.lookupChanges.Load(),
		Reemitted:        j.stats.reemitted.Load(),
		ReemitSkipped:    j.stats.reemitSkipped.Load(),
		ReemitMax:        j.stats.reemitMax.Load(),
		BootstrapRows:    j.stats.bootstrapRows.Load(),
		BootstrapSeconds: j.stats.bootstrapSeconds.Load(),
		StoreBytes:       -1,
	}
	j.mu.RLock()
	if j.st != nil && j.st.db != nil {
		out.StoreBytes = int64(j.st.db.Metrics().DiskSpaceUsage())
	}
	j.mu.RUnlock()
	return out
}
