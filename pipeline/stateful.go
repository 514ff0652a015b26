package pipeline

import (
	"context"
	"fmt"
	"sync"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Stateful transforms (sluice.OpenTransform, sluice.Expander,
// sluice.Syncer: the join) get three things from the runner: an Open
// before the source runs, a way to add events after the one they were
// applied to, and a say before a position is confirmed, so that their
// state is never behind the position a restart resumes from.

// openTransforms opens the pipeline's transforms that have a life cycle,
// in order, and returns what closes the opened ones.
func (p *Pipeline) openTransforms(ctx context.Context) (closeAll func(), err error) {
	var opened []sluice.OpenTransform
	closeAll = func() {
		for i := len(opened) - 1; i >= 0; i-- {
			if err := opened[i].Close(); err != nil {
				p.Logger.Warn("closing transform", zap.Error(err))
			}
		}
	}
	for _, t := range p.Transforms {
		o, ok := t.Transform.(sluice.OpenTransform)
		if !ok {
			continue
		}
		p.turns.Add(1)
		err := o.Open(ctx, p.Source)
		p.turns.Add(1)
		if err != nil {
			if sluice.IsPermanent(err) {
				return closeAll, sluice.Permanent(fmt.Errorf("%s: %w", t.Path, err))
			}
			return closeAll, fmt.Errorf("%s: open: %w", t.Path, err)
		}
		opened = append(opened, o)
	}
	return closeAll, nil
}

// chain runs the pipeline's transforms on an event, hands what is kept to
// deliver, then lets the expanders the event reached add their events,
// each of which runs through the transforms after its expander.
type chain struct {
	ts      []Transform
	deliver func(*sluice.Event) error
	fail    func(error)
	// expanders indexes ts like it, nil where a transform adds nothing;
	// from[i] runs an added event from transform i+1 on (built once, so
	// that an event costs no closure).
	expanders []sluice.Expander
	from      []func(*sluice.Event) error
	any       bool
}

func newChain(ts []Transform, deliver func(*sluice.Event) error, fail func(error)) *chain {
	c := &chain{ts: ts, deliver: deliver, fail: fail}
	c.expanders = make([]sluice.Expander, len(ts))
	c.from = make([]func(*sluice.Event) error, len(ts))
	for i, t := range ts {
		if x, ok := t.Transform.(sluice.Expander); ok {
			c.expanders[i], c.any = x, true
			c.from[i] = func(ev *sluice.Event) error { return c.run(ev, i+1) }
		}
	}
	return c
}

// run applies ts[from:] to ev and delivers it when every one kept it.
func (c *chain) run(ev *sluice.Event, from int) error {
	keep, seen, err := apply(c.ts[from:], ev)
	if err != nil {
		c.fail(err) // the cause the pipeline reports, however the source wraps it
		return err
	}
	if keep {
		if err := c.deliver(ev); err != nil {
			return err
		}
	}
	if !c.any {
		return nil
	}
	for i := from; i < from+seen; i++ {
		if x := c.expanders[i]; x != nil {
			if err := x.Expand(ev, c.from[i]); err != nil {
				// The source returns it and the run restarts; an added
				// event's own failure has already failed the run.
				return fmt.Errorf("%s: %s: %w", c.ts[i].Path, describe(ev), err)
			}
		}
	}
	return nil
}

// confirmer hands positions to the source to confirm. Without Syncer
// transforms it confirms at once, from the tracker (which holds its lock:
// Source.Confirm does not block). With them, a goroutine takes the newest
// position asked for, has every Syncer make its state durable up to it,
// then confirms it: positions asked for meanwhile are coalesced, so a
// slow sync confirms less often, never out of order.
type confirmer struct {
	request func(sluice.Position)
	stop    func()
}

func (p *Pipeline) confirmer(fail func(error)) *confirmer {
	var syncers []sluice.Syncer
	for _, t := range p.Transforms {
		if s, ok := t.Transform.(sluice.Syncer); ok {
			syncers = append(syncers, s)
		}
	}
	direct := func(pos sluice.Position) {
		p.Stats.Checkpoint.Store(pos.TxLSN)
		p.Source.Confirm(pos)
	}
	if len(syncers) == 0 {
		return &confirmer{request: direct, stop: func() {}}
	}
	var (
		mu      sync.Mutex
		latest  sluice.Position
		pending bool
	)
	wake := make(chan struct{}, 1)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case <-wake:
			case <-done:
				// Confirm what was asked for before the run ended: the
				// drain's acknowledgements are in it.
			}
			mu.Lock()
			pos, ok := latest, pending
			pending = false
			mu.Unlock()
			if ok {
				for _, s := range syncers {
					if err := s.Checkpoint(pos); err != nil {
						fail(fmt.Errorf("make transform state durable before confirming: %w", err))
						return
					}
				}
				direct(pos)
			}
			select {
			case <-done:
				return
			default:
			}
		}
	}()
	var once sync.Once
	return &confirmer{
		request: func(pos sluice.Position) {
			mu.Lock()
			latest, pending = pos, true
			mu.Unlock()
			select {
			case wake <- struct{}{}:
			default:
			}
		},
		stop: func() {
			once.Do(func() { close(done) })
			<-exited
		},
	}
}
