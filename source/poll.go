package source

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Poll calls read at once and then every interval until ctx ends, on a
// connection of its own that open opens (the zero C when it fails): a
// read that fails closes the connection, and the next tick opens a new
// one. Failures are logged at debug level, named by what; close closes
// the connection when ctx ends. The sources' watchers (PostgreSQL's slot,
// MySQL's binlogs) run on it beside their stream.
func Poll[C comparable](ctx context.Context, interval time.Duration, log *zap.Logger, what string,
	open func(context.Context) (C, error), read func(C) error, close func(C)) {
	var conn, none C
	defer func() {
		if conn != none {
			close(conn)
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if conn == none {
			c, err := open(ctx)
			if err != nil && ctx.Err() == nil {
				log.Debug(what+": connect", zap.Error(err))
			}
			conn = c
		}
		if conn != none {
			if err := read(conn); err != nil {
				log.Debug(what+": read", zap.Error(err))
				close(conn)
				conn = none
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
