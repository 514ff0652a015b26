package source

import (
	"context"
	"testing"
	"time"
)

func TestStopClock(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := NewStopClock(ctx)
	defer c.Close()
	if d := c.Deadline(time.Hour); d.Before(time.Now().Add(59 * time.Minute)) {
		t.Errorf("running: deadline %v, want an hour from now", d)
	}
	t0 := time.Now()
	cancel()
	for c.at.Load() == 0 { // AfterFunc records in its own goroutine
		time.Sleep(time.Millisecond)
	}
	t1 := time.Now()
	time.Sleep(50 * time.Millisecond) // the drain starts later than the stop request
	d := c.Deadline(time.Second)
	if d.Before(t0.Add(time.Second)) || d.After(t1.Add(time.Second)) {
		t.Errorf("stopped: deadline %v, want a second after the stop request (between %v and %v)", d, t0, t1)
	}
}
