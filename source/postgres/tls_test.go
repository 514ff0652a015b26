package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice"
	"github.com/sluice-cdc/sluice/internal/testenv"
	"github.com/sluice-cdc/sluice/source"
)

func TestWithTLSDefaults(t *testing.T) {
	t.Setenv("PGSSLMODE", "")
	t.Setenv("PGSSLROOTCERT", "")
	cases := []struct{ in, want string }{
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgres://u@h/db?sslrootcert=/ca.pem", "postgres://u@h/db?sslrootcert=/ca.pem&sslmode=verify-full"},
		{"postgresql://u@h/db?sslrootcert=/ca.pem&sslmode=require", "postgresql://u@h/db?sslrootcert=/ca.pem&sslmode=require"},
		{"host=h dbname=db sslrootcert=/ca.pem", "host=h dbname=db sslrootcert=/ca.pem sslmode=verify-full"},
		{"host=h sslrootcert='/my ca.pem'", "host=h sslrootcert='/my ca.pem' sslmode=verify-full"},
		{"host=h sslrootcert=/ca.pem sslmode=disable", "host=h sslrootcert=/ca.pem sslmode=disable"},
		{"host=h password='a b=c' dbname=db", "host=h password='a b=c' dbname=db"},
	}
	for _, c := range cases {
		if got := withTLSDefaults(c.in); got != c.want {
			t.Errorf("withTLSDefaults(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	t.Setenv("PGSSLROOTCERT", "/ca.pem")
	if got := withTLSDefaults("postgres://u@h/db"); got != "postgres://u@h/db?sslmode=verify-full" {
		t.Errorf("with PGSSLROOTCERT: %q", got)
	}
	t.Setenv("PGSSLMODE", "require")
	if got := withTLSDefaults("postgres://u@h/db"); got != "postgres://u@h/db" {
		t.Errorf("with PGSSLMODE: %q", got)
	}
}

func TestPlaintextOverNetwork(t *testing.T) {
	plain, other := net.Pipe()
	defer plain.Close()
	defer other.Close()
	cases := []struct {
		conn net.Conn
		host string
		want bool
	}{
		{plain, "db.example.com", true},
		{plain, "10.1.2.3", true},
		{plain, "127.0.0.1", false},
		{plain, "::1", false},
		{plain, "localhost", false},
		{plain, "/var/run/postgresql", false},
		{tls.Client(plain, &tls.Config{}), "db.example.com", false},
	}
	for _, c := range cases {
		if got := plaintextOverNetwork(c.conn, c.host); got != c.want {
			t.Errorf("plaintextOverNetwork(%T, %q) = %v, want %v", c.conn, c.host, got, c.want)
		}
	}
}

// tlsDSN is the test DSN with its sslmode replaced by params.
func tlsDSN(t *testing.T, params string) string {
	base, _, _ := strings.Cut(testenv.Get(t, "SLUICE_TEST_PG_DSN"), "?")
	return base + "?" + params
}

// A DSN that names the test CA streams over TLS, verified (verify-full is
// the default once a CA is given): the walsender reading the slot runs an
// encrypted connection.
func TestStreamsOverVerifiedTLS(t *testing.T) {
	ca := testenv.Get(t, "SLUICE_TEST_PG_CA_FILE")
	h := newHarness(t)
	h.exec("DROP TABLE IF EXISTS tls_rows")
	h.exec("CREATE TABLE tls_rows (id int PRIMARY KEY)")
	t.Cleanup(func() { h.exec("DROP TABLE IF EXISTS tls_rows") })
	h.startWith(map[string]any{"dsn": tlsDSN(t, "sslrootcert="+ca), "tables": []string{"public.tls_rows"}})
	if got := h.src.connCf.TLSConfig; got == nil || got.InsecureSkipVerify || got.RootCAs == nil || got.ServerName != "127.0.0.1" || len(h.src.connCf.Fallbacks) > 0 {
		t.Fatalf("TLS config %+v, %d fallbacks: want verify-full (the CA, the host name, no plaintext fallback)", got, len(h.src.connCf.Fallbacks))
	}
	// The source may be running before its walsender holds the slot:
	// wait for the slot to be active.
	var ssl bool
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err = h.db.QueryRow(context.Background(), `SELECT s.ssl FROM pg_replication_slots r JOIN pg_stat_ssl s ON s.pid = r.active_pid
			WHERE r.slot_name = $1`, "sluice_"+h.name).Scan(&ssl)
		if !errors.Is(err, pgx.ErrNoRows) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !ssl {
		t.Fatalf("walsender of the slot: ssl = %v, %v; want an encrypted connection", ssl, err)
	}
	h.exec("INSERT INTO tls_rows VALUES (1)")
	evs := h.c.Wait(1)
	if evs[0].Op != sluice.OpCreate || evs[0].After[0].Int != 1 {
		t.Fatalf("got %+v", evs[0])
	}
}

// A server certificate that the given CA did not sign is refused.
func TestRefusesServerCertificateOfAnotherCA(t *testing.T) {
	otherCA := testenv.Get(t, "SLUICE_TEST_KAFKA_CA_FILE") // the Kafka listener's CA: not PostgreSQL's
	testenv.Get(t, "SLUICE_TEST_PG_CA_FILE")
	s, err := source.Build(New, map[string]any{"dsn": tlsDSN(t, "sslrootcert="+otherCA), "tables": []string{"public.x"}},
		source.Env{Pipeline: "tlswrongca", Path: "source", Logger: zaptest.NewLogger(t), StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background(), func(*sluice.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Run = %v; want a certificate verification error", err)
	}
}
