package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// The snapshot state is the work a replication slot cannot hold: the
// table snapshots still to read and how far each got, whether the
// initial snapshot finished, the jobs given up. The slot holds the stream
// position. A restart that finds the slot but not the state would take
// an interrupted snapshot for a finished one and never deliver the rows
// it had not read yet, so the state is kept where it cannot be lost
// separately from the slot (DESIGN.md, "Delivery guarantee"), in the
// store state.store names:
//
//   - table (the default): one row per slot in a table of the source
//     database (store_table.go), which holds the slot too;
//   - kafka: a compacted topic (store_kafka.go), for databases sluice may
//     not write to;
//   - file: only <state_dir>/<pipeline>.postgres.json (store_file.go),
//     safe only when state_dir survives whatever the slot survives.
//
// Beside table and kafka the file is written too, after the store, as a
// cache, and read in one case only:
//
//   - The store is the truth: when it holds the slot's state, the file is
//     not read.
//   - When the store holds nothing for the slot but the file does (an
//     upgrade from a version that kept only the file, a change of store),
//     the file's state is copied into the store: migrated.
//   - A store that cannot be read fails the start, which the runner
//     retries with backoff; the file is never read instead, as it may be
//     older than the store (another host ran the slot since, a write to
//     the file failed).
//   - When the slot exists and neither the store nor the file has its
//     state, the progress is unknowable: the modes that depend on it
//     (initial, initial_only, when_needed) refuse to start, with the
//     commands that recover (stateUnknown), instead of guessing.
//     always and never decide without it.
//
// Every start records a state before the slot is created or read
// (planSnapshot), even with nothing to snapshot, so that a missing state
// means "never seen" and not "nothing to do".

// state is the snapshot state of one slot.
type state struct {
	Version int    `json:"version"`
	Slot    string `json:"slot"`
	// InitialDone records that an initial snapshot completed, so mode
	// initial never repeats it.
	InitialDone bool `json:"initial_done"`
	// Paused records a pause-snapshot signal not yet followed by a
	// resume-snapshot: no chunk of any job starts until then, across
	// restarts too, so that a pause asked for to relieve the database
	// holds until an operator lifts it.
	Paused bool `json:"paused,omitempty"`
	// Jobs are the table snapshots in progress, in the order they run.
	Jobs []*snapshotJob `json:"jobs,omitempty"`
	// Tables are the tables captured as of the last start (tables_publication.go); nil: unknown.
	Tables []string `json:"tables,omitempty"`
}

// snapshotJob is one table to read.
type snapshotJob struct {
	Table string `json:"table"` // schema.table
	// Filter is an optional condition of the filter grammar (filter.go)
	// of an incremental snapshot. It is parsed again before the job runs:
	// a state written by an older version may hold any SQL.
	Filter string `json:"filter,omitempty"`
	// Incremental marks an ad-hoc snapshot requested while streaming; its
	// rows carry source.snapshot "incremental".
	Incremental bool `json:"incremental,omitempty"`
	// Blocking marks an execute-snapshot of type blocking: the stream
	// pauses while the table is read and its rows are emitted as an
	// initial snapshot's are (blocking.go).
	Blocking bool `json:"blocking,omitempty"`
	// LastKey is the text form of the key columns (or the ctid of a
	// table without a key) of the last row whose chunk every sink
	// acknowledged; nil before the first chunk.
	LastKey []*string `json:"last_key,omitempty"`
	// LastKeyColumns names what LastKey holds, in its order: the key
	// columns in key order, or "ctid" (chunkKeyColumns). A restart resumes
	// after LastKey only when the table's key is still these columns in
	// this order (resumeKey). States of versions that did not write it
	// hold the key in column order.
	LastKeyColumns []string `json:"last_key_columns,omitempty"`
	// Rows counts the acknowledged rows.
	Rows int64 `json:"rows"`
	Done bool  `json:"done,omitempty"`
	// Failed marks a job given up (its table is gone or not captured, its
	// filter does not compile, the server refused its query), with the
	// reason in Error. Failed jobs stay in the state, so that no restart
	// runs them again, until newer failures push them out.
	Failed bool   `json:"failed,omitempty"`
	Error  string `json:"error,omitempty"`

	// Progress of the running process, not persisted (guarded by the
	// snapshotter's mutex).
	estimate int64 // pg_class.reltuples when the table's snapshot started
	emitted  int64 // rows emitted, acknowledged or not
	// stopped: a stop-snapshot removed the job from the state; its worker
	// ends before its next chunk and its progress is no longer saved.
	stopped bool
	// allEmitted: the job's final chunk was emitted (snapshotter.remain
	// no longer counts it).
	allEmitted bool
	// gen numbers the worker's chunks since its last read again; once a
	// chunk must be read again, the stream drops every chunk of an older
	// generation than againGen, the chunks read after it (see
	// snapshotter.read).
	gen, againGen uint64
}

// pending reports whether a job is still to run or to finish.
func (s *state) pending() bool {
	for _, j := range s.Jobs {
		if !j.Done && !j.Failed {
			return true
		}
	}
	return false
}

// stateStore keeps the state of the source's slot.
type stateStore interface {
	// load returns the slot's stored state, nil when there is none.
	load(ctx context.Context) (*state, error)
	// save replaces the slot's stored state; once it returns nil the
	// state survives a crash of sluice and of the store's host.
	save(ctx context.Context, st *state) error
	close()
	// String names the store and the slot's record in it, for logs and
	// errors.
	String() string
}

// stateSaveTimeout bounds one save of the state.
const stateSaveTimeout = 30 * time.Second

// stateKeeper writes the state to the store, then to the cache. Its
// callers are serialized: Run before the snapshotter starts, then the
// snapshotter's mutex. The snapshotter's saves run on a context of their
// own (bounded by stateSaveTimeout): a save cut short by a shutdown would
// turn a clean stop into a failure.
type stateKeeper struct {
	store stateStore
	cache *fileStore // the local copy beside a table or kafka store; nil when the store is the file
	log   *zap.Logger
	// cacheWarned: a failed write of the cache was logged (once: a
	// read-only state_dir would repeat it at every chunk).
	cacheWarned atomic.Bool
}

// save writes st to the store, then to the cache. Only the store's
// failure is an error: the cache is a copy.
func (k *stateKeeper) save(ctx context.Context, st *state) error {
	ctx, cancel := context.WithTimeout(ctx, stateSaveTimeout)
	defer cancel()
	if err := k.store.save(ctx, st); err != nil {
		return fmt.Errorf("postgres source: save snapshot state to %s: %w", k.store, err)
	}
	if k.cache != nil {
		if err := k.cache.save(ctx, st); err != nil {
			if k.cacheWarned.CompareAndSwap(false, true) {
				k.log.Warn("cannot write the local copy of the snapshot state; the store has it", zap.Stringer("store", k.store), zap.Error(err))
			}
		} else {
			k.cacheWarned.Store(false)
		}
	}
	return nil
}

func (k *stateKeeper) close() { k.store.close() }

// openStore opens the configured store (state.store), creating its table
// or topic when missing.
func (s *Source) openStore(ctx context.Context) (stateStore, error) {
	switch s.cfg.State.Store {
	case storeKafka:
		return s.openKafkaStore(ctx)
	case storeFile:
		return s.fileStore(), nil
	default:
		return s.openTableStore(ctx)
	}
}

// openState opens the store and reads the slot's state, migrating the
// cache's into a store that has none. known reports whether a state was
// found; without one st is empty.
func (s *Source) openState(ctx context.Context) (k *stateKeeper, st *state, known bool, err error) {
	store, err := s.openStore(ctx)
	if err != nil {
		return nil, nil, false, err
	}
	k = &stateKeeper{store: store, log: s.log}
	if s.cfg.State.Store != storeFile {
		k.cache = s.fileStore()
	}
	if st, known, err = s.loadState(ctx, k); err != nil {
		store.close()
		return nil, nil, false, err
	}
	return k, st, known, nil
}

// loadState reads the slot's state from k's store or, when the store has
// none, from the cache, migrating it into the store.
func (s *Source) loadState(ctx context.Context, k *stateKeeper) (st *state, known bool, err error) {
	if st, err = k.store.load(ctx); err != nil {
		return nil, false, fmt.Errorf("postgres source: read snapshot state from %s: %w", k.store, err)
	}
	if st != nil {
		return st, true, nil
	}
	if k.cache != nil {
		cached, err := k.cache.load(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("postgres source: read the local copy of the snapshot state, as %s has none: %w", k.store, err)
		}
		if cached != nil {
			if err := k.save(ctx, cached); err != nil {
				return nil, false, err
			}
			s.log.Info("snapshot state migrated from the local file into the store",
				zap.String("file", k.cache.path), zap.Stringer("store", k.store))
			return cached, true, nil
		}
	}
	return &state{Version: 1, Slot: s.cfg.Slot}, false, nil
}

// stateUnknown handles a slot that exists without a state: an error for
// the modes that need the state to decide, a warning for the others.
func (s *Source) stateUnknown(k *stateKeeper) error {
	mode := s.cfg.Snapshot.Mode
	if mode == "always" || mode == "never" {
		s.log.Warn("the replication slot exists but its snapshot state is not in the store: incremental snapshots interrupted earlier, if any, are not resumed",
			zap.Stringer("store", k.store), zap.String("mode", mode))
		return nil
	}
	where := k.store.String()
	if k.cache != nil {
		where += " nor in the local file " + k.cache.path
	}
	return sluice.Permanent(fmt.Errorf("postgres source: %w: the replication slot %s exists, but its snapshot state is not in %s, "+
		"so whether a snapshot was interrupted cannot be known and snapshot.mode %s does not guess. Recover with one of: "+
		"(1) keep the slot and re-read what may be missing: start once with snapshot.mode: never (this records a state), "+
		"then request each table while streaming with `sluice snapshot --config FILE --table schema.table` (needs source.signal_table); "+
		"(2) start over with a full snapshot: stop sluice, run SELECT pg_drop_replication_slot('%s'); and start again; "+
		"(3) accept the stream as it is: snapshot.mode: never; "+
		"or, if the state was moved, point state.store, state.table, state.topic or state_dir back at it",
		ErrStateUnknown, s.cfg.Slot, where, mode, s.cfg.Slot))
}
