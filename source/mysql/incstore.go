package mysql

import (
	"context"
	"errors"
	"sync"
)

// incStore stores every offset with the incremental snapshot state as
// it stands (incremental.state), whoever saves it: the initial snapshot,
// the stream's start, the offset saver, a signal that must be durable
// before it is accepted. It serializes the saves, so that an older offset
// never overwrites a newer one, and keeps the last one saved, which a
// change of the state alone (a signal, a failed job) is saved with.
type incStore struct {
	offsetStore
	in *incremental

	mu      sync.Mutex
	last    *offset // the last offset saved, without its state
	version uint64  // the state's version saved with it
}

// Save implements offsetStore.
func (s *incStore) Save(ctx context.Context, o *offset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saveLocked(ctx, o)
}

func (s *incStore) saveLocked(ctx context.Context, o *offset) error {
	c := *o
	st, v := s.in.state()
	c.Incremental = st
	if err := s.offsetStore.Save(ctx, &c); err != nil {
		return err
	}
	c.Incremental = nil
	s.last, s.version = &c, v
	return nil
}

// stale reports whether the state changed since the last save.
func (s *incStore) stale() bool {
	_, v := s.in.state()
	s.mu.Lock()
	defer s.mu.Unlock()
	return v != s.version
}

// resave saves the last offset again with the current state.
func (s *incStore) resave(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return errors.New("mysql source: no offset stored yet to keep the snapshot state with")
	}
	return s.saveLocked(ctx, s.last)
}
