package main

import (
	"bytes"
	"runtime"
	"runtime/trace"
	"strings"
	"testing"
)

// spinner works and yields: it is seen leaving the processor at several
// stack depths, all under spinner itself.
//
//go:noinline
func spinner(rounds int, sink *uint64) {
	for r := range rounds {
		x := *sink
		for i := range 200_000 {
			x = x*31 + uint64(i^r)
		}
		*sink = x
		if r%2 == 0 { // first from deeper down: the name must not be its leaf
			yieldDeeper()
		} else {
			runtime.Gosched()
		}
	}
}

//go:noinline
func yieldDeeper() { runtime.Gosched() }

func TestGoroutineTimes(t *testing.T) {
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Skipf("an execution trace is already running: %v", err)
	}
	var sink uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		spinner(400, &sink)
	}()
	<-done
	trace.Stop()

	sum, err := readGoroutineTimes(&buf, 5)
	if err != nil {
		t.Fatal(err)
	}
	if sum.SpanS <= 0 || len(sum.Kinds) == 0 {
		t.Fatalf("summary %+v: no span or no goroutines", sum)
	}
	top := sum.Kinds[0]
	if !strings.HasSuffix(top.Name, ".spinner") {
		t.Fatalf("busiest goroutine is %q (%+v), want the spinner", top.Name, sum.Kinds)
	}
	if top.Goroutines != 1 || top.RunningS <= 0 || top.Share <= 0 || top.Share > 1.0001 {
		t.Fatalf("spinner's account %+v: want one goroutine, a running time and a share in (0, 1]", top)
	}
	for i := 1; i < len(sum.Kinds); i++ {
		if sum.Kinds[i].RunningS > sum.Kinds[i-1].RunningS {
			t.Fatalf("kinds not sorted by running time: %+v", sum.Kinds)
		}
	}
	if got := shortName("github.com/sluice-cdc/sluice/source/mysql.(*stream).run"); got != "mysql.(*stream).run" {
		t.Fatalf("shortName = %q", got)
	}
}

func TestStdlib(t *testing.T) {
	for _, c := range []struct {
		fn   string
		want bool
	}{
		{"runtime.gopark", true},
		{"internal/poll.(*FD).Write", true},
		{"crypto/tls.(*Conn).Write", true},
		{"sync.(*WaitGroup).Go.func1", true},
		{"main.run.func4", false},
		{"github.com/twmb/franz-go/pkg/kgo.(*broker).handleReqs", false},
		{"github.com/sluice-cdc/sluice/source/mysql.(*stream).run", false},
		{"golang.org/x/sync/errgroup.(*Group).Go.func1", false},
	} {
		if got := stdlib(c.fn); got != c.want {
			t.Errorf("stdlib(%q) = %v, want %v", c.fn, got, c.want)
		}
	}
}

func TestGoroutineTimesRejectsGarbage(t *testing.T) {
	if _, err := readGoroutineTimes(strings.NewReader("not a trace"), 5); err == nil {
		t.Fatal("a non-trace was read without an error")
	}
}
