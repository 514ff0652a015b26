package postgres

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
)

// TestPacedReads: a paced socket waits before a read that follows a
// short one, and only while pacing; a read that fills half its buffer
// or more is followed at once.
func TestPacedReads(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pacing    bool
		writes    []int // bytes per write of the peer, each read whole
		wantWaits int
	}{
		{"not pacing, short reads", false, []int{100, 100, 100, 100}, 0},
		{"pacing, short reads", true, []int{100, 100, 100, 100}, 3},
		{"pacing, full reads", true, []int{sockBuffer, sockBuffer / 2, sockBuffer}, 0},
		{"pacing, a short read then full ones", true, []int{100, sockBuffer, sockBuffer}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ours, peer := net.Pipe()
			defer ours.Close()
			p := newPacedConn(ours)
			waits := 0
			p.wait = func(d time.Duration) {
				if d != pacePause {
					t.Errorf("waited %s, want %s", d, pacePause)
				}
				waits++
			}
			p.pace(tc.pacing)
			total := 0
			for _, n := range tc.writes {
				total += n
			}
			go func() {
				defer peer.Close()
				for _, n := range tc.writes {
					if _, err := peer.Write(make([]byte, n)); err != nil {
						return
					}
				}
			}()
			// pgconn reads in pieces of at most 8 KiB.
			buf := make([]byte, 8<<10)
			for got := 0; got < total; {
				n, err := p.Read(buf)
				if err != nil {
					t.Fatalf("read after %d of %d bytes: %v", got, total, err)
				}
				got += n
			}
			if waits != tc.wantWaits {
				t.Errorf("%d waits, want %d", waits, tc.wantWaits)
			}
		})
	}
}

// TestStreamBlocksPace: the stream paces its socket from a Stream Start
// to the Stream Stop of a block, and not outside one.
func TestStreamBlocksPace(t *testing.T) {
	ours, peer := net.Pipe()
	defer ours.Close()
	defer peer.Close()
	st := &stream{sock: newPacedConn(ours), spool: newSpool(t.TempDir())}
	defer st.spool.close()
	ctx := context.Background()
	for _, step := range []struct {
		msg  []byte
		want bool
	}{
		{[]byte{msgStreamStart, 0, 0, 0, 7, 1}, true},
		{[]byte{msgStreamStop}, false},
		{[]byte{msgStreamStart, 0, 0, 0, 7, 0}, true},
		{[]byte{msgStreamStop}, false},
	} {
		if _, err := st.streamed(ctx, step.msg, 0, time.Time{}); err != nil {
			t.Fatalf("%q: %v", step.msg[0], err)
		}
		if got := st.sock.pacing.Load(); got != step.want {
			t.Fatalf("after %q pacing is %v, want %v", step.msg[0], got, step.want)
		}
	}
}

// TestReplicationSocketIsPaced: the replication connection (plain and
// TLS) reads through a pacedConn the stream finds; a normal connection
// does not.
func TestReplicationSocketIsPaced(t *testing.T) {
	dsn := testenv.Get(t, "SLUICE_TEST_PG_DSN")
	ca := testenv.Get(t, "SLUICE_TEST_PG_CA_FILE")
	for _, tc := range []struct {
		name, dsn   string
		replication bool
		paced       bool
	}{
		{"plain replication", dsn, true, true},
		{"TLS replication", tlsDSN(t, "sslrootcert="+ca), true, true},
		{"plain query connection", dsn, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			built, err := source.Build(New, map[string]any{"dsn": tc.dsn, "tables": []string{"public.x"}},
				source.Env{Pipeline: "paced", Path: "source", Logger: zaptest.NewLogger(t), StateDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			conn, err := built.connect(ctx, tc.replication)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			if got := pacedOf(conn.PgConn().Conn()) != nil; got != tc.paced {
				t.Fatalf("paced socket found: %v, want %v", got, tc.paced)
			}
			// The connection works through it.
			if _, err := conn.PgConn().Exec(ctx, "IDENTIFY_SYSTEM").ReadAll(); tc.replication && err != nil {
				t.Fatalf("IDENTIFY_SYSTEM: %v", err)
			}
		})
	}
}
