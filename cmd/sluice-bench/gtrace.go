package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

// An execution trace of the profiling run says which of sluice's
// goroutines keeps a processor busy while the records flow: a CPU profile
// sums the whole process, so a stage that is serial (one goroutine) and
// saturated does not stand out in it. The profiling build starts the
// trace at the first record the driver sees and stops it with the
// profiles, after the last.

// goroutineTime is the time the goroutines of one kind held a processor
// during the trace.
type goroutineTime struct {
	// Name is the innermost function every stack the goroutine was seen
	// with shares: its loop (the MySQL source's stream.run, franz-go's
	// handleReqs), not the wrapper it was started through.
	Name string `json:"name"`
	// Goroutines of this kind seen running.
	Goroutines int     `json:"goroutines"`
	RunningS   float64 `json:"running_s"`
	// Share is RunningS over the trace's span: 1.0 is one processor held
	// all the time. A goroutine holding a processor may still wait for the
	// OS to run its thread, so a share near 1 on a machine whose cores are
	// all busy is an upper bound of its CPU.
	Share float64 `json:"share"`
}

// traceSummary is what goroutineTimes reads from a trace.
type traceSummary struct {
	SpanS float64         `json:"span_s"`
	Kinds []goroutineTime `json:"goroutines"`
}

// goroutineState is one goroutine's account while the trace is read.
type goroutineState struct {
	running time.Duration
	since   trace.Time
	on      bool
	prefix  []string // the common root-first prefix of its stacks
	seen    bool     // prefix holds at least one stack
	start   string   // the function it was started with, if created in the trace
}

// goroutineTimes reads the execution trace at path and returns the
// running time per kind of goroutine, most first, the top n.
func goroutineTimes(path string, n int) (*traceSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readGoroutineTimes(f, n)
}

func readGoroutineTimes(rd io.Reader, n int) (*traceSummary, error) {
	r, err := trace.NewReader(rd)
	if err != nil {
		return nil, fmt.Errorf("execution trace: %w", err)
	}
	gs := map[trace.GoID]*goroutineState{}
	var first, last trace.Time
	var frames []string
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("execution trace: %w", err)
		}
		if first == 0 {
			first = ev.Time()
		}
		last = ev.Time()
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		g := gs[st.Resource.Goroutine()]
		if g == nil {
			g = &goroutineState{}
			gs[st.Resource.Goroutine()] = g
		}
		from, to := st.Goroutine()
		if from == trace.GoNotExist && st.Stack != trace.NoStack {
			for fr := range st.Stack.Frames() { // the new goroutine's start
				g.start = fr.Func
				break
			}
		}
		switch {
		case to == trace.GoRunning && !g.on:
			g.on, g.since = true, ev.Time()
		case from == trace.GoRunning && to != trace.GoRunning && g.on:
			g.on = false
			g.running += ev.Time().Sub(g.since)
		}
		if from == trace.GoRunning && st.Stack != trace.NoStack {
			frames = frames[:0]
			for fr := range st.Stack.Frames() {
				frames = append(frames, fr.Func)
			}
			slices.Reverse(frames) // root first
			g.narrow(frames)
		}
	}
	sum := &traceSummary{SpanS: last.Sub(first).Seconds()}
	byName := map[string]*goroutineTime{}
	for _, g := range gs {
		if g.on { // still running when the trace ended
			g.running += last.Sub(g.since)
		}
		if g.running == 0 {
			continue
		}
		name := g.name()
		k := byName[name]
		if k == nil {
			k = &goroutineTime{Name: name}
			byName[name] = k
		}
		k.Goroutines++
		k.RunningS += g.running.Seconds()
	}
	for _, k := range byName {
		if sum.SpanS > 0 {
			k.Share = k.RunningS / sum.SpanS
		}
		sum.Kinds = append(sum.Kinds, *k)
	}
	slices.SortFunc(sum.Kinds, func(a, b goroutineTime) int {
		return cmp.Or(cmp.Compare(b.RunningS, a.RunningS), strings.Compare(a.Name, b.Name))
	})
	if len(sum.Kinds) > n {
		sum.Kinds = sum.Kinds[:n]
	}
	return sum, nil
}

// narrow keeps the part of g's prefix that stack (root first) shares.
func (g *goroutineState) narrow(stack []string) {
	if !g.seen {
		g.prefix, g.seen = slices.Clone(stack), true
		return
	}
	i := 0
	for i < len(g.prefix) && i < len(stack) && g.prefix[i] == stack[i] {
		i++
	}
	g.prefix = g.prefix[:i]
}

// name is the innermost frame of g's prefix outside the standard
// library (a goroutine seen blocked once has the runtime's parking frames
// at its leaf), else the function it was started with, else the prefix's
// root (the runtime's own goroutines). A goroutine that never left the
// processor with a stack, and was not started in the trace, is
// "(no stack)".
func (g *goroutineState) name() string {
	for i := len(g.prefix) - 1; i >= 0; i-- {
		if !stdlib(g.prefix[i]) {
			return g.prefix[i]
		}
	}
	switch {
	case g.start != "":
		return g.start
	case len(g.prefix) > 0:
		return g.prefix[0]
	}
	return "(no stack)"
}

// stdlib reports whether fn is a function of the standard library: its
// import path's first element has no dot (package main's has none either,
// and is not).
func stdlib(fn string) bool {
	path := fn
	slash := strings.LastIndexByte(fn, '/')
	if dot := strings.IndexByte(fn[slash+1:], '.'); dot >= 0 {
		path = fn[:slash+1+dot]
	}
	first, _, _ := strings.Cut(path, "/")
	return path != "main" && !strings.Contains(first, ".")
}

// shortName drops a function name's module path: "mysql.(*stream).run".
func shortName(fn string) string {
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		return fn[i+1:]
	}
	return fn
}
