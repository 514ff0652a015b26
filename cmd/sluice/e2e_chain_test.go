package main

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// chains checks that a topic holds every change of a workload table
// (testenv.Workload: every update sets v = v + 1, keys are never reused)
// exactly once. Per key, a create starts the chain, each update's before
// v must be the v the chain reached and moves it on, and a delete's
// before v must match and ends it. A change read twice or one missing
// breaks the chain at that record; a key created twice is a break too.
// It needs full before images (PostgreSQL: REPLICA IDENTITY FULL).
type chains struct {
	keys   map[int64]*link
	breaks int
	first  []string // the first breaks, for the log
}

type link struct {
	live bool
	v    int64
}

func (c *chains) add(id int64, op string, before *int64, after int64, r *kgo.Record) {
	l := c.keys[id]
	if l == nil {
		l = &link{}
		c.keys[id] = l
	}
	bad := ""
	switch op {
	case "c", "r":
		if l.live {
			bad = "created again"
		}
		l.live, l.v = true, after
	case "u", "d":
		switch {
		case !l.live:
			bad = "changed while not live"
		case before == nil:
			bad = "no before image"
		case *before != l.v:
			bad = fmt.Sprintf("before v %d, the chain is at %d", *before, l.v)
		}
		l.live, l.v = op == "u", after
	}
	if bad != "" {
		c.breaks++
		if len(c.first) < 5 {
			c.first = append(c.first, fmt.Sprintf("key %d, %s at partition %d offset %d: %s", id, op, r.Partition, r.Offset, bad))
		}
	}
}
