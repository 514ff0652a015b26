package join

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// bootstrapBatch is the rows written per store batch while filling.
const bootstrapBatch = 4096

// bootstrap fills an empty store: the lookup table's rows (and, with
// reemit, the enriched tables' rows) as the source reads them now, in
// one consistent read per table, at the version that precedes every
// change. It runs before the stream (Open), so no enriched event is
// emitted before the lookup table is complete; the stream then resumes
// from the pipeline's checkpoint and its changes, applied in order on
// top, bring the store to each event's position. Events read while the
// stream catches up to the moment of the read see rows as of that
// moment where the stream has not changed them yet.
func (j *Join) bootstrap(ctx context.Context) error {
	reader, ok := j.src.(sluice.TableReader)
	if !ok {
		return sluice.Permanent(fmt.Errorf("join: the source cannot read tables, which the join needs to fill its state"))
	}
	start := time.Now()
	j.log.Info("join: filling the lookup state", zap.String("lookup", j.cfg.Lookup), zap.String("dir", j.dir))
	if j.batch != nil {
		j.batch.Close()
		j.batch = nil
	}
	j.mu.Lock() // Checkpoint must not sync the store being replaced
	st, err := wipe(j.st, j.cfg.CacheBytes)
	j.st = st // nil after a failure: Close and Checkpoint skip it
	j.mu.Unlock()
	if err != nil {
		return err
	}
	j.attach(st)
	var lt *lookupTable
	rows, err := j.fill(ctx, reader, j.cfg.Lookup, func(t *sluice.Table) (err error) {
		lt, err = j.lookupInfo(t)
		return err
	}, func(t *sluice.Table, row sluice.Row) error {
		key, ok, err := j.keyOf(nil, t, lt.key, row)
		if err != nil || !ok {
			return err
		}
		proj := make(sluice.Row, len(lt.proj))
		for f, i := range lt.proj {
			proj[f] = row[i]
		}
		return j.batch.Set(appendVersion(append([]byte{spaceLookup}, key...), version{}), appendRow(nil, lt.shape.id, proj), nil)
	})
	if err != nil {
		return err
	}
	if j.reemit {
		for _, name := range j.match.TableNames() {
			n, err := j.fillRows(ctx, reader, name)
			if err != nil {
				return err
			}
			rows += n
		}
	}
	// Compacted once, the filled state is read from one level instead of
	// the many files a bulk fill leaves: a lookup then costs a few
	// microseconds, not tens.
	if err := j.st.db.Compact(ctx, []byte{spaceLookup}, []byte{spaceShape}, true); err != nil {
		return fmt.Errorf("join store: compact after the fill: %w", err)
	}
	if err := j.st.setMeta("config", []byte(j.fp), false); err != nil {
		return err
	}
	if err := j.st.setMeta("complete", []byte("1"), true); err != nil {
		return err
	}
	j.stats.bootstrapSeconds.Store(time.Since(start).Seconds())
	j.log.Info("join: lookup state filled", zap.String("lookup", j.cfg.Lookup), zap.Int64("rows", rows),
		zap.Duration("took", time.Since(start)))
	return nil
}

// fillRows stores an enriched table's rows and reverse index.
func (j *Join) fillRows(ctx context.Context, reader sluice.TableReader, name string) (int64, error) {
	var et *enrichTable
	return j.fill(ctx, reader, name, func(t *sluice.Table) error {
		in, err := j.info(t)
		if err == nil {
			et, err = j.enrichInfo(in, t)
		}
		return err
	}, func(t *sluice.Table, row sluice.Row) error {
		rowKey, ok, err := j.keyOf(nil, t, t.Key, row)
		if err != nil || !ok {
			return err
		}
		if err := j.batch.Set(appendVersion(append([]byte{spaceRows}, rowKey...), version{}), appendRow(nil, et.shape.id, row), nil); err != nil {
			return err
		}
		fk, ok, err := j.keyOf(nil, t, et.fk, row)
		if err != nil || !ok {
			return err
		}
		return j.batch.Set(appendVersion(append(append([]byte{spaceReverse}, fk...), rowKey...), version{}), []byte{flagRow}, nil)
	})
}

// fill reads table through reader into the batch at the version before
// every change: describe prepares for each table description (the first
// call, and any other), put writes one row. Batches are committed every
// bootstrapBatch writes and at the end.
func (j *Join) fill(ctx context.Context, reader sluice.TableReader, table string,
	describe func(*sluice.Table) error, put func(*sluice.Table, sluice.Row) error) (int64, error) {
	var n int64
	var described *sluice.Table
	err := reader.ReadTable(ctx, table, func(t *sluice.Table, row sluice.Row) error {
		if t != described {
			if err := describe(t); err != nil {
				return err
			}
			described = t
		}
		if row == nil {
			return nil
		}
		if err := put(t, row); err != nil {
			return err
		}
		n++
		j.stats.bootstrapRows.Add(1)
		if j.batch.Count() >= bootstrapBatch {
			return j.commit()
		}
		return nil
	})
	if err == nil {
		err = j.commit()
	}
	if err != nil {
		return n, fmt.Errorf("join: fill from %s: %w", table, err)
	}
	return n, nil
}
