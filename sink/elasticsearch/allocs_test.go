package elasticsearch

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice"
)

// TestNewOpAllocs holds the building of a document operation to its
// allocation count, so that it cannot regress unnoticed: an insert or a
// delete needs its index-and-id string; the op and the document are
// carved from the sink's arena, whose blocks are shared by many events.
// The id and the document are built in the sink's scratch buffer and
// copied out at their final size, so the count does not grow with the
// number of columns.
func TestNewOpAllocs(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		ev   *sluice.Event
		want float64
	}{
		{"insert", insertEvent(42, "a note of about forty bytes in length...", 7, strings.Repeat("x", 80)), 1},
		{"delete", deleteEvent(42), 1},
	}
	s, c := openFake(t, func(s *Sink, c *conn) {
		if _, err := s.newOp(ctx, c, cases[0].ev, nil); err != nil { // prepares the index
			t.Fatal(err)
		}
	})
	for _, tc := range cases {
		ev := tc.ev
		n := testing.AllocsPerRun(100, func() {
			o, err := s.newOp(ctx, c, ev, nil)
			if err != nil || o.reject != nil {
				t.Fatalf("newOp: %v, reject %v", err, o.reject)
			}
		})
		if n != tc.want {
			t.Errorf("%s: %v allocations per event, want %v", tc.name, n, tc.want)
		}
	}
}

// TestAppendBodyAllocs holds the building of a bulk request's body of
// documents and deletes to one allocation: the body, sized from the ops'
// estimates. A delete's tombstone (its hashed id, its state document)
// is written into the body without allocating.
func TestAppendBodyAllocs(t *testing.T) {
	var ops []*op
	_, c := openFake(t, func(s *Sink, c *conn) {
		for id := int64(1); id <= 1000; id++ {
			ev := insertEvent(id, fmt.Sprintf("order %d, a note \"quoted\" and\nsplit", id), id%50, strings.Repeat("x", 80))
			o, err := s.newOp(context.Background(), c, ev, nil)
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, o)
			if id%2 == 0 {
				d, err := s.newOp(context.Background(), c, deleteEvent(id), nil)
				if err != nil {
					t.Fatal(err)
				}
				ops = append(ops, d)
			}
		}
	})
	var actions int
	n := testing.AllocsPerRun(20, func() {
		_, actions = appendBody(nil, c.stateIndex, ops)
	})
	if n != 1 || actions != 2000 { // 1000 documents, 500 deletes and their tombstones
		t.Errorf("%v allocations and %d actions per body, want 1 and 2000", n, actions)
	}
}

// openFake opens a sink on a fake Elasticsearch, lets prepare use it
// (creating indexes, building ops), closes it and returns it with its
// connection. Allocations are counted process-wide, so they are measured
// after Close, once the sink's health checks and timers have stopped;
// the connection keeps the indexes prepared.
func openFake(t *testing.T, prepare func(*Sink, *conn)) (*Sink, *conn) {
	s := newFakeES(t).sink(nil)
	c := s.conn.Load()
	prepare(s, c)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, c
}
