package testenv

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// failOnceConn fails the first UPDATE it is given with err and accepts
// every other statement.
type failOnceConn struct {
	mu     sync.Mutex
	err    error
	failed bool
}

func (c *failOnceConn) Exec(stmt string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.failed && strings.HasPrefix(stmt, "UPDATE") {
		c.failed = true
		return c.err
	}
	return nil
}

func (c *failOnceConn) Close() {}

// errorsTB records what the workload reports instead of failing the test.
type errorsTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *errorsTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// TestWorkloadRetriesDeadlocks: a transaction the server rolled back as a
// deadlock victim is run again, and the workload goes on; any other
// failure stops it and is reported. Before, a MariaDB deadlock between
// two writers' big transactions failed TestExactlyOnceKillUnderLoad.
func TestWorkloadRetriesDeadlocks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		retry bool
	}{
		{"mysql deadlock", errors.New("ERROR 1213 (40001): Deadlock found when trying to get lock; try restarting transaction"), true},
		{"postgres deadlock", errors.New("ERROR: deadlock detected (SQLSTATE 40P01)"), true},
		{"postgres serialization failure", errors.New("ERROR: could not serialize access due to concurrent update (SQLSTATE 40001)"), true},
		{"duplicate key", errors.New("ERROR 1062 (23000): Duplicate entry '7' for key 'PRIMARY'"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := &errorsTB{TB: t}
			conn := &failOnceConn{err: tc.err}
			w := StartWorkload(tb, "t", 10, 1, 1, func() (SQLConn, error) { return conn, nil })
			deadline := time.Now().Add(WaitLimit)
			for w.Txs() < 50 && w.failure() == nil {
				if time.Now().After(deadline) {
					t.Fatal("the workload made no progress")
				}
				time.Sleep(time.Millisecond)
			}
			stats := w.Stop()
			switch {
			case tc.retry && (len(tb.errs) > 0 || stats.Retries != 1):
				t.Errorf("errors %q, %d retries; want none and 1", tb.errs, stats.Retries)
			case !tc.retry && (len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "Duplicate entry") || stats.Retries != 0):
				t.Errorf("errors %q, %d retries; want the duplicate key reported, no retry", tb.errs, stats.Retries)
			}
		})
	}
}
