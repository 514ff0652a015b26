package pipeline

import (
	"errors"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/sink"
)

// Exactly-once delivery (sink.PositionCommitter): a sink that commits the
// source position with its events is the authority on where the source
// resumes. The runner reads that position after the sinks opened, at every
// (re)start, and hands it to the source, which starts after it when it is
// ahead of its own checkpoint. Build checks that such a sink can work:
// one per pipeline (two sinks would commit two positions that no single
// start satisfies) and a source that can seek.

// committers returns the sinks configured to commit positions.
func committers(sinks []sluice.Sink) []sink.PositionCommitter {
	var out []sink.PositionCommitter
	for _, s := range sinks {
		if pc, ok := s.(sink.PositionCommitter); ok && pc.CommitsPositions() {
			out = append(out, pc)
		}
	}
	return out
}

// seekSource hands the committed position of the pipeline's exactly-once
// sink, if any, to the source.
func (p *Pipeline) seekSource() {
	for _, pc := range committers(p.Sinks) {
		pos, ok := pc.Committed()
		if !ok {
			p.Logger.Info("exactly-once: no committed position yet; the source starts from its own checkpoint")
			continue
		}
		sk, ok := p.Source.(sluice.Seeker)
		if !ok {
			continue // Build refuses this
		}
		p.Logger.Info("exactly-once: source starts after the committed position",
			zap.Uint64("tx_lsn", pos.TxLSN), zap.String("epoch", pos.Epoch))
		sk.SeekAfter(pos)
	}
}

// checkExactlyOnce refuses a pipeline whose exactly-once sink cannot work.
func checkExactlyOnce(path string, src sluice.Source, sinks []sluice.Sink, names []string) error {
	var eos []string
	for i, s := range sinks {
		if pc, ok := s.(sink.PositionCommitter); ok && pc.CommitsPositions() {
			eos = append(eos, names[i])
		}
	}
	if len(eos) == 0 {
		return nil
	}
	var errs []error
	if len(eos) > 1 {
		errs = append(errs, fmt.Errorf("%s.sinks: exactly_once is on for %d sinks (%v); one pipeline can commit its position to one sink only", path, len(eos), eos))
	}
	if _, ok := src.(sluice.Seeker); !ok {
		errs = append(errs, fmt.Errorf("%s.sinks.%s.exactly_once: the %T source cannot start from a sink's position", path, eos[0], src))
	}
	return errors.Join(errs...)
}

// commitGate holds back the tracker's checkpoints until the exactly-once
// sink has committed them. Checkpoints carry their mark's number; the
// sink reports how many marks its commits cover.
type commitGate struct {
	mu        sync.Mutex
	waiting   []gated // checkpoints not confirmed yet, oldest first
	committed uint64  // marks the sink's commits cover
	confirm   func(sluice.Position)
	fail      func(error)
}

type gated struct {
	pos   sluice.Position
	bound uint64
}

// checkpoint is the tracker's confirmBound.
func (g *commitGate) checkpoint(pos sluice.Position, bound uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if bound <= g.committed {
		g.confirm(pos)
		return
	}
	g.waiting = append(g.waiting, gated{pos, bound})
}

// commit is the sink's NotifyCommits callback.
func (g *commitGate) commit(bounds uint64, err error) {
	if err != nil {
		g.fail(err)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.committed = max(g.committed, bounds)
	i := 0
	for i < len(g.waiting) && g.waiting[i].bound <= g.committed {
		i++
	}
	if i == 0 {
		return
	}
	g.confirm(g.waiting[i-1].pos)
	g.waiting = append(g.waiting[:0], g.waiting[i:]...)
}

// gateCheckpoints makes tr's checkpoints wait for the pipeline's
// exactly-once sink, if it has one.
func (p *Pipeline) gateCheckpoints(tr *tracker, fail func(error)) {
	cs := committers(p.Sinks)
	if len(cs) == 0 {
		return
	}
	g := &commitGate{confirm: tr.confirm, fail: fail}
	tr.confirmBound = g.checkpoint
	cs[0].NotifyCommits(g.commit)
}
