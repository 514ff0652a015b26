package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// Every signal, whichever channel it came through (the signal table, read
// in the stream; the Kafka signal topic and the admin endpoint, through
// Signal), is checked by checkSignal and carried out by apply:
//
//   - execute-snapshot: queue one job per table, incremental (read by the
//     snapshot workers while the stream flows) or blocking (read by the
//     stream goroutine while the stream waits, blocking.go);
//   - stop-snapshot: drop the queued and running jobs of the tables named,
//     or of every incremental job when none is named; a running job ends
//     after the chunk it is reading, which is not emitted;
//   - pause-snapshot, resume-snapshot: no chunk starts while paused; the
//     pause is kept in the snapshot state, so a restart stays paused;
//   - log: the message is logged at info.
//
// Anything else is refused (logged, counted, never fatal).

var (
	_ sluice.SignalReceiver = (*Source)(nil)
	_ sluice.SignalWriter   = (*Source)(nil)
)

// signalPlan is a checked signal, ready to be carried out.
type signalPlan struct {
	sig sluice.Signal
	// execute-snapshot: the jobs of the accepted tables, and the tables
	// refused with their reason.
	jobs    []*snapshotJob
	refused []refusal
	kind    string
	// stop-snapshot: the tables as schema.table; none means every
	// incremental job.
	tables []string
	// log: the message.
	message string
}

// refusal is a table of an execute-snapshot refused by checkRequest.
type refusal struct {
	table string
	err   error
}

// refusedErr joins the refusals of a plan into one error wrapped in
// sluice.ErrRefused; nil when there are none. partial: the accepted
// tables were queued.
func (p *signalPlan) refusedErr(partial bool) error {
	if len(p.refused) == 0 {
		return nil
	}
	errs := make([]error, len(p.refused))
	for i, r := range p.refused {
		errs[i] = r.err
	}
	if partial && len(p.jobs) > 0 {
		return sluice.Refused(fmt.Errorf("snapshot request refused for some tables, the others were requested: %w", errors.Join(errs...)))
	}
	return sluice.Refused(fmt.Errorf("snapshot request refused, nothing requested: %w", errors.Join(errs...)))
}

// checkSignal reads and checks sig. A malformed signal or one of an
// unknown type returns an error wrapped in sluice.ErrRefused. The tables
// of an execute-snapshot are checked with checkRequest through q (nil:
// without the database); each refused one is listed in the plan, and an
// error that is no refusal (the connection was lost) is returned as is.
func (s *Source) checkSignal(ctx context.Context, q querier, sig sluice.Signal) (*signalPlan, error) {
	p := &signalPlan{sig: sig}
	switch sig.Type {
	case sluice.SignalExecuteSnapshot:
		req, err := sluice.ParseSnapshotRequest(sig.Type, sig.Data)
		if err != nil {
			return nil, err
		}
		p.kind = req.Kind
		// Conditions are keyed by the table as written; match them by
		// the table they name.
		filters := map[string]string{}
		for t, f := range req.Conditions {
			if schema, name, ok := splitTable(t); ok {
				filters[tableName(schema, name)] = f
			}
		}
		for _, dc := range req.Tables {
			f := req.Conditions[dc]
			if schema, name, ok := splitTable(dc); ok && filters[tableName(schema, name)] != "" {
				f = filters[tableName(schema, name)]
			}
			full, err := s.checkRequest(ctx, q, dc, f)
			if err != nil {
				if !jobFailure(err) {
					return nil, err
				}
				if full == "" {
					full = dc
				}
				p.refused = append(p.refused, refusal{full, err})
				continue
			}
			job := &snapshotJob{Table: full, Filter: f, Incremental: req.Kind != sluice.SnapshotKindBlocking}
			job.Blocking = !job.Incremental
			p.jobs = append(p.jobs, job)
		}
	case sluice.SignalStopSnapshot:
		req, err := sluice.ParseSnapshotRequest(sig.Type, sig.Data)
		if err != nil {
			return nil, err
		}
		for _, t := range req.Tables {
			schema, name, ok := splitTable(t)
			if !ok {
				return nil, sluice.Refused(fmt.Errorf("postgres source: stop-snapshot of %q: not schema.table", t))
			}
			p.tables = append(p.tables, tableName(schema, name))
		}
	case sluice.SignalPauseSnapshot, sluice.SignalResumeSnapshot:
	case sluice.SignalLog:
		msg, err := sluice.ParseLogMessage(sig.Data)
		if err != nil {
			return nil, err
		}
		p.message = msg
	default:
		return nil, sluice.Refused(fmt.Errorf("postgres source: unknown signal type %q: want %s, %s, %s, %s or %s", sig.Type,
			sluice.SignalExecuteSnapshot, sluice.SignalStopSnapshot, sluice.SignalPauseSnapshot, sluice.SignalResumeSnapshot, sluice.SignalLog))
	}
	return p, nil
}

// Signal implements sluice.SignalReceiver: the Kafka signal channel and
// the admin endpoint hand signals over here, from goroutines of their
// own, while Run streams. The tables of an execute-snapshot are checked
// on a connection of this call's, not the stream's; one refused table
// refuses the whole signal, which then changes nothing. An accepted
// signal is saved in the snapshot state before Signal returns nil.
func (s *Source) Signal(ctx context.Context, sig sluice.Signal) error {
	sn := s.snap.Load()
	if sn == nil {
		return sluice.ErrNotRunning
	}
	var q querier
	if sig.Type == sluice.SignalExecuteSnapshot {
		conn, err := s.connect(ctx, false)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		q = conn
	}
	if s.snap.Load() != sn {
		return sluice.ErrNotRunning // the run ended while the connection opened
	}
	return sn.apply(ctx, q, sig, false)
}

// WriteSignal checks sig as Signal does, then inserts it into the signal
// table, where the running source reads it in the stream: the way to
// signal a source whose daemon does not answer on the admin endpoint.
// An empty ID gets a generated one.
func (s *Source) WriteSignal(ctx context.Context, sig sluice.Signal) error {
	if s.cfg.SignalTable == "" {
		return fmt.Errorf("postgres source: no signal_table configured: set source.signal_table to request snapshots or send signals through the database")
	}
	conn, err := s.connect(ctx, false)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	p, err := s.checkSignal(ctx, conn, sig)
	if err != nil {
		return err
	}
	if err := p.refusedErr(false); err != nil {
		return err
	}
	id := sig.ID
	if id == "" {
		id = sluice.NewSignalID()
	}
	var data *string
	if sig.Data != "" {
		data = &sig.Data
	}
	schema, name, _ := splitTable(s.cfg.SignalTable)
	_, err = conn.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, name}.Sanitize()+" (id, type, data) VALUES ($1, $2, $3)", id, sig.Type, data)
	if err != nil {
		return fmt.Errorf("postgres source: write signal to %s: %w", s.cfg.SignalTable, err)
	}
	return nil
}

// apply checks sig through q and carries it out. partial is the signal
// table's way with an execute-snapshot: its accepted tables are queued
// even when others are refused, and each refused table is recorded as a
// failed job; without it one refused table refuses the whole signal. A
// refusal is logged and returned wrapped in sluice.ErrRefused.
func (sn *snapshotter) apply(ctx context.Context, q querier, sig sluice.Signal, partial bool) error {
	log := sn.log.With(zap.String("signal_id", sig.ID), zap.String("signal_type", sig.Type))
	p, err := sn.src.checkSignal(ctx, q, sig)
	if err == nil && !partial {
		err = p.refusedErr(false)
	}
	if err != nil {
		if errors.Is(err, sluice.ErrRefused) {
			log.Warn("signal refused", zap.Error(err))
		}
		return err
	}
	switch sig.Type {
	case sluice.SignalExecuteSnapshot:
		for _, r := range p.refused {
			if err := sn.refuse(r.table, r.err); err != nil {
				return err
			}
		}
		if len(p.jobs) > 0 {
			names := make([]string, len(p.jobs))
			for i, j := range p.jobs {
				names[i] = j.Table
			}
			log.Info(p.kind+" snapshot requested", zap.String("tables", strings.Join(names, ",")))
			if err := sn.add(p.jobs...); err != nil {
				return err
			}
		}
		return p.refusedErr(true)
	case sluice.SignalStopSnapshot:
		return sn.stop(p.tables, log)
	case sluice.SignalPauseSnapshot, sluice.SignalResumeSnapshot:
		return sn.setPaused(sig.Type == sluice.SignalPauseSnapshot, log)
	case sluice.SignalLog:
		log.Info("signal: " + p.message)
	}
	return nil
}

// stop drops the unfinished jobs of tables, or every unfinished
// incremental job when tables is empty, from the queue and the state. A
// worker reading one ends before its next chunk; the window of the chunk
// it is reading is dropped, so nothing more of the job is emitted. A
// blocking job ends the same way. Chunks already emitted stay emitted.
func (sn *snapshotter) stop(tables []string, log *zap.Logger) error {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	var stopped []*snapshotJob
	sn.state.Jobs = slices.DeleteFunc(sn.state.Jobs, func(j *snapshotJob) bool {
		if j.Done || j.Failed || j.stopped {
			return false
		}
		match := j.Incremental
		if len(tables) > 0 {
			match = (j.Incremental || j.Blocking) && slices.Contains(tables, j.Table)
		}
		if match {
			stopped = append(stopped, j)
		}
		return match
	})
	if len(stopped) == 0 {
		if len(tables) == 0 {
			log.Info("stop-snapshot: no incremental snapshot to stop")
		} else {
			log.Info("stop-snapshot: no snapshot of these tables to stop", zap.Strings("tables", tables))
		}
		return nil
	}
	names := make([]string, len(stopped))
	for i, j := range stopped {
		names[i] = j.Table
		j.stopped = true
		switch {
		case !j.Incremental:
		case slices.Contains(sn.queue, j):
			sn.jobs.queued.Add(-1)
		default:
			sn.jobs.running.Add(-1)
		}
		if !j.Blocking && !j.allEmitted {
			j.allEmitted = true
			sn.remain--
		}
	}
	isStopped := func(j *snapshotJob) bool { return j.stopped }
	sn.queue = slices.DeleteFunc(sn.queue, isStopped)
	for id, w := range sn.windows {
		if w.job.stopped {
			delete(sn.windows, id)
			sn.nwin.Store(int32(len(sn.windows)))
			close(w.done)
		}
	}
	sn.check = true
	sn.wakeLocked()
	log.Info("snapshot stopped", zap.Strings("tables", names))
	return sn.keep.save(context.Background(), sn.state)
}

// setPaused records a pause-snapshot (paused) or resume-snapshot in the
// state and wakes the workers waiting in gate.
func (sn *snapshotter) setPaused(paused bool, log *zap.Logger) error {
	sn.mu.Lock()
	defer sn.mu.Unlock()
	sn.state.Paused = paused
	sn.paused.Store(paused)
	if paused {
		log.Info("snapshots paused: no chunk starts until a resume-snapshot signal")
	} else {
		sn.wakeLocked()
		log.Info("snapshots resumed")
	}
	return sn.keep.save(context.Background(), sn.state)
}

// wakeLocked wakes the workers waiting in gate; sn.mu is held.
func (sn *snapshotter) wakeLocked() {
	close(sn.wake)
	sn.wake = make(chan struct{})
}

// gate runs before each chunk of an incremental job: it waits while
// snapshots are paused, and reports stop once the job was stopped.
func (sn *snapshotter) gate(ctx context.Context, job *snapshotJob) (stop bool, err error) {
	for {
		sn.mu.Lock()
		stopped, paused, wake := job.stopped, sn.state.Paused, sn.wake
		sn.mu.Unlock()
		if stopped {
			return true, nil
		}
		if !paused {
			return false, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}
