package elasticsearch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice"
)

// atEpoch stamps an insert of order id with a position of epoch.
func atEpoch(id int64, note string, lsn uint64, epoch string) *sluice.Event {
	ev := insertEvent(id, note, id, "big")
	ev.Pos = sluice.Position{LSN: lsn, TxLSN: lsn, Epoch: epoch}
	ev.TxOrder, ev.TableOrder = 1, 1
	return ev
}

// writeOne writes ev through a freshly opened s and closes it; it returns
// the error Write or the acknowledgement reported.
func writeOne(t *testing.T, s *Sink, ev *sluice.Event) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	acked := make(chan error, 1)
	werr := s.Write(ctx, ev, func(err error) { acked <- err })
	if err := s.Close(ctx); err != nil && werr == nil {
		t.Fatalf("Close: %v", err)
	}
	return errors.Join(werr, <-acked)
}

// An index written from one source log meets events of another whose
// positions are lower (a restored cluster, a reset binlog): they must not
// be dropped as stale in silence.
func TestEpochChange(t *testing.T) { eachBackend(t, testEpochChange) }

func testEpochChange(t *testing.T, b backend) {
	for _, tc := range []struct {
		policy   string
		wantErr  bool
		wantNote string
	}{
		{EpochFail, true, "old log"},
		{EpochReindex, false, "new log"},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			e := newBackendTest(t, b)
			if err := writeOne(t, e.sink(nil), atEpoch(1, "old log", 1<<40, "pg:7001:1")); err != nil {
				t.Fatal(err)
			}
			err := writeOne(t, e.sink(map[string]any{"on_epoch_change": tc.policy}), atEpoch(1, "new log", 4096, "pg:9002:1"))
			if tc.wantErr {
				if !errors.Is(err, ErrEpochChanged) || !sluice.IsPermanent(err) ||
					!strings.Contains(err.Error(), "pg:7001:1") || !strings.Contains(err.Error(), "pg:9002:1") {
					t.Fatalf("error = %v; want a permanent ErrEpochChanged naming both epochs", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			docs := e.Docs(e.index("orders"))
			if got := docs["1"]["note"]; got != tc.wantNote {
				t.Errorf("document 1 note = %v, want %q", got, tc.wantNote)
			}
			if tc.policy == EpochReindex {
				// The rebuilt index follows the new log: a later change
				// applies, a replayed older one does not.
				if err := writeOne(t, e.sink(map[string]any{"on_epoch_change": tc.policy}), atEpoch(1, "newer", 8192, "pg:9002:1")); err != nil {
					t.Fatal(err)
				}
				if err := writeOne(t, e.sink(nil), atEpoch(1, "replayed", 4096, "pg:9002:1")); err != nil {
					t.Fatal(err)
				}
				if got := e.Docs(e.index("orders"))["1"]["note"]; got != "newer" {
					t.Errorf("after the rebuild, note = %v, want newer", got)
				}
			}
		})
	}
}

// Within one log, an older replayed change is still dropped as stale, and
// events without an epoch (a source that cannot tell) are never checked.
func TestSameEpochReplayIsStale(t *testing.T) { eachBackend(t, testSameEpochReplayIsStale) }

func testSameEpochReplayIsStale(t *testing.T, b backend) {
	e := newBackendTest(t, b)
	for _, ev := range []*sluice.Event{atEpoch(1, "newer", 1<<40, "pg:7001:1"), atEpoch(1, "replayed", 4096, "pg:7001:1"), atEpoch(1, "no epoch", 4096, "")} {
		if err := writeOne(t, e.sink(nil), ev); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.Docs(e.index("orders"))["1"]["note"]; got != "newer" {
		t.Errorf("note = %v, want newer", got)
	}
}
