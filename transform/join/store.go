package join

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// store is the join's state in an embedded key-value store on disk
// (pebble), so that a lookup table of millions of rows costs disk, not
// memory: the block cache bounds what stays in RAM.
//
// It keeps versions: a lookup row is stored under its key and the
// version of the change that wrote it, and read as of an event's own
// version. After a crash the source resumes from its last confirmed
// position, behind what the store already holds; reading as of each
// replayed event gives it the lookup row it got the first time. Versions
// that no read can need any more (older than the newest one at or before
// the confirmed position) are deleted when the key is next written.
//
// Key spaces: 'L' lookup rows, 'O' enriched tables' rows and 'R' the
// reverse index (lookup key, then row key) for re-emits, each followed by
// the escaped key and the inverted version; 'S' shapes by id, 'M' meta.
type store struct {
	db  *pebble.DB
	dir string
	// confirmed is the TxLSN of the last confirmed position: versions of
	// a key older than its newest one at or before it are garbage.
	confirmed atomic.Uint64
	wo        *pebble.WriteOptions

	// it serves get: an iterator over the whole store, kept between reads
	// because making one costs more than the seek. An iterator sees the
	// store as it was when made, so commit marks it stale and the next get
	// makes a new one. Only the pipeline's goroutine reads and commits.
	it    *pebble.Iterator
	stale bool
	seek  []byte // get's seek key, reused
}

const (
	spaceLookup  byte = 'L'
	spaceRows    byte = 'O'
	spaceReverse byte = 'R'
	spaceShape   byte = 'S'
	spaceMeta    byte = 'M'
)

func openStore(dir string, cacheBytes int64) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("join store: %w", err)
	}
	c := pebble.NewCache(cacheBytes)
	defer c.Unref()
	db, err := pebble.Open(dir, &pebble.Options{Cache: c, MemTableSize: 16 << 20, Logger: quietLogger{}})
	if err != nil {
		return nil, fmt.Errorf("join store: open %s: %w", dir, err)
	}
	return &store{db: db, dir: dir, wo: pebble.NoSync}, nil
}

func (s *store) close() error {
	if s == nil || s.db == nil {
		return nil
	}
	if s.it != nil {
		s.it.Close() // an iterator's error was returned by the read that met it
		s.it = nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// wipe empties the store: closes it, removes its directory and opens a
// new one there.
func wipe(s *store, cacheBytes int64) (*store, error) {
	dir := s.dir
	if err := s.close(); err != nil {
		return nil, fmt.Errorf("join store: close %s: %w", dir, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("join store: remove %s: %w", dir, err)
	}
	return openStore(dir, cacheBytes)
}

// sync makes every write so far durable.
func (s *store) sync() error {
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		return fmt.Errorf("join store: sync: %w", err)
	}
	return nil
}

func (s *store) meta(name string) ([]byte, error) {
	v, closer, err := s.db.Get(append([]byte{spaceMeta}, name...))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("join store: read %s: %w", name, err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

func (s *store) setMeta(name string, v []byte, sync bool) error {
	wo := s.wo
	if sync {
		wo = pebble.Sync
	}
	if err := s.db.Set(append([]byte{spaceMeta}, name...), v, wo); err != nil {
		return fmt.Errorf("join store: write %s: %w", name, err)
	}
	return nil
}

func shapeKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{spaceShape}, id)
}

// get returns the value of key as of v: the newest version at or before
// it, nil when there is none or it is a tombstone. The bytes are the
// caller's.
func (s *store) get(space byte, key []byte, v version) ([]byte, error) {
	if s.it == nil || s.stale {
		if s.it != nil {
			if err := s.it.Close(); err != nil {
				return nil, fmt.Errorf("join store: %w", err)
			}
			s.it = nil
		}
		it, err := s.db.NewIter(nil)
		if err != nil {
			return nil, fmt.Errorf("join store: %w", err)
		}
		s.it, s.stale = it, false
	}
	s.seek = append(append(s.seek[:0], space), key...)
	n := len(s.seek)
	s.seek = appendVersion(s.seek, v)
	if !s.it.SeekGE(s.seek) {
		return nil, s.it.Error()
	}
	k := s.it.Key()
	if !bytes.HasPrefix(k, s.seek[:n]) {
		return nil, nil // no version at or before v
	}
	if len(k) != n+versionLen {
		return nil, errCorrupt
	}
	val, err := s.it.ValueAndErr()
	if err != nil {
		return nil, fmt.Errorf("join store: %w", err)
	}
	if len(val) == 0 || val[0] == flagTombstone {
		return nil, nil
	}
	return bytes.Clone(val), nil
}

// commit writes b to the store, not synced (sync does that before a
// position is confirmed), and empties it.
func (s *store) commit(b *pebble.Batch) error {
	if b.Empty() {
		return nil
	}
	s.stale = true
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("join store: %w", err)
	}
	b.Reset()
	return nil
}

// put writes key's value (nil: a tombstone) at version v into b, and
// deletes the versions of key no read can need any more.
func (s *store) put(b *pebble.Batch, space byte, key []byte, v version, val []byte) error {
	prefix := append([]byte{space}, key...)
	if val == nil {
		val = []byte{flagTombstone}
	}
	if err := b.Set(appendVersion(bytes.Clone(prefix), v), val, nil); err != nil {
		return fmt.Errorf("join store: %w", err)
	}
	return s.collect(b, prefix, v)
}

// collect deletes, in b, the versions of prefix's key older than the
// newest one at or before the confirmed position, except v.
func (s *store) collect(b *pebble.Batch, prefix []byte, v version) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upperBound(prefix)})
	if err != nil {
		return fmt.Errorf("join store: %w", err)
	}
	defer it.Close()
	confirmed := s.confirmed.Load()
	kept := false // the newest version at or before the confirmed position was seen
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefix)+versionLen {
			continue
		}
		w := readVersion(k[len(prefix):])
		if w == v {
			continue
		}
		if !kept {
			if w.tx <= confirmed {
				kept = true
			}
			continue
		}
		if err := b.Delete(k, nil); err != nil {
			return fmt.Errorf("join store: %w", err)
		}
	}
	return it.Error()
}

// upperBound is the smallest key after every key that starts with p.
func upperBound(p []byte) []byte {
	u := bytes.Clone(p)
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] != 0xff {
			u[i]++
			return u[:i+1]
		}
	}
	return nil
}

// scan calls fn for each key under prefix (space|partial key) whose
// newest version at or before v is a value, with the rest of the key
// after prefix and the value (valid during the call only). fn returning
// false stops the scan.
func (s *store) scan(prefix []byte, v version, fn func(rest, val []byte) (bool, error)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upperBound(prefix)})
	if err != nil {
		return fmt.Errorf("join store: %w", err)
	}
	defer it.Close()
	var last []byte // the key whose visible version was handled
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) < len(prefix)+versionLen {
			continue
		}
		user := k[len(prefix) : len(k)-versionLen]
		if last != nil && bytes.Equal(user, last) {
			continue
		}
		if readVersion(k[len(k)-versionLen:]).after(v) {
			continue // newer than v: look at older versions of the key
		}
		last = append(last[:0], user...)
		val, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("join store: %w", err)
		}
		if len(val) == 0 || val[0] == flagTombstone {
			continue
		}
		more, err := fn(user, val)
		if err != nil || !more {
			return err
		}
	}
	return it.Error()
}

// quietLogger keeps pebble's informational lines out of the daemon's
// log; its errors surface as returned errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("join store: "+format, args...))
}
