package postgres

import (
	"context"
	"testing"

	"go.uber.org/zap"

	"github.com/sluice-cdc/sluice"
)

// TestMalformedMessages: a Relation, Truncate or logical Message cut
// short (a length or count that runs past the message's end) is an error
// naming the message, not a panic of the daemon.
func TestMalformedMessages(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  []byte
	}{
		{"relation announcing a column it does not carry", []byte{'R', 0, 0, 0, 1, 'p', 0, 't', 0, 'd', 0, 1}},
		{"relation cut in its header", []byte{'R', 0, 0}},
		{"truncate of 5 relations carrying 1", []byte{'T', 0, 0, 0, 5, 0, 0, 0, 0, 1}},
		{"message whose content runs past its end", []byte{'M', 1, 0, 0, 0, 0, 0, 0, 0, 1, 'x', 0, 0, 0, 1, 0}},
		{"message without its prefix's end", []byte{'M', 1, 0, 0, 0, 0, 0, 0, 0, 1, 'x'}},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := &stream{log: zap.NewNop(), rels: map[uint32]*relation{}, emit: func(*sluice.Event) error { return nil }}
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				err = st.handleMessage(context.Background(), c.msg, 1, pgTime(0))
			}()
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}
