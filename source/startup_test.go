package source

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/sluice-cdc/sluice"
)

func TestStartupResult(t *testing.T) {
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	running := context.Background()
	failure := errors.New("permission denied")
	tests := []struct {
		name string
		ctx  context.Context
		over bool
		err  error
		want error
	}{
		{"stop during the start-up", stopped, false, fmt.Errorf("connect: %w", context.Canceled), nil},
		{"any error of a stopped start-up", stopped, false, failure, nil},
		{"failure without a stop", running, false, failure, failure},
		{"stop after the start-up", stopped, true, context.Canceled, context.Canceled},
		{"nothing to do", stopped, false, sluice.ErrDone, sluice.ErrDone},
		{"no error", running, false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var up Startup
			if tt.over {
				up.Over()
			}
			if got := up.Result(tt.ctx, tt.err); !errors.Is(got, tt.want) || (got == nil) != (tt.want == nil) {
				t.Errorf("Result = %v; want %v", got, tt.want)
			}
		})
	}
	var none *Startup
	none.Over() // outside a Run: no panic
}
